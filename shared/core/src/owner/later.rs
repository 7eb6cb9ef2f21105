//! "Later": when a snoozed thread comes back to the digest. The page offers
//! the three usual moments; `accueil snooze --until` takes them by name or
//! any local time.

use chrono::{DateTime, Datelike, Duration, NaiveDateTime, TimeZone, Utc};

use crate::config::Config;

/// The furthest a thread may be put off: a season.
pub const LONGEST: Duration = Duration::days(92);

/// The moments the page offers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Later {
    /// Tomorrow at 09:00, the business's time.
    TomorrowMorning,
    /// When the business next opens.
    NextOpening,
    /// Next Monday at 09:00.
    NextWeek,
}

impl Later {
    pub const ALL: [Later; 3] = [Later::TomorrowMorning, Later::NextOpening, Later::NextWeek];

    /// Its name on the command line.
    pub fn keyword(self) -> &'static str {
        match self {
            Later::TomorrowMorning => "tomorrow",
            Later::NextOpening => "opening",
            Later::NextWeek => "next-week",
        }
    }

    /// When it is, seen from `now`; None if the business never opens.
    pub fn at(self, config: &Config, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let tz = config.business.timezone;
        let local = now.with_timezone(&tz);
        let morning = |days: i64| {
            let day = local.date_naive() + Duration::days(days);
            let nine = day.and_hms_opt(9, 0, 0).expect("09:00 exists");
            tz.from_local_datetime(&nine)
                .earliest()
                .map(|t| t.with_timezone(&Utc))
        };
        match self {
            Later::TomorrowMorning => morning(1),
            Later::NextOpening => config
                .hours
                .next_opening(now)
                .map(|t| t.with_timezone(&Utc)),
            Later::NextWeek => morning(7 - i64::from(local.weekday().num_days_from_monday())),
        }
    }
}

/// Whether a thread may be put off until `until`: a time to come, within
/// `LONGEST`.
pub fn accepts(until: DateTime<Utc>, now: DateTime<Utc>) -> bool {
    until > now && until <= now + LONGEST
}

/// Reads `tomorrow`, `opening`, `next-week`, a local time `2026-12-08 14:00`
/// (the business's zone) or RFC 3339; why not, in words, when it is none of
/// them or not a time `accepts`.
pub fn parse(config: &Config, text: &str, now: DateTime<Utc>) -> Result<DateTime<Utc>, String> {
    let tz = config.business.timezone;
    let named = Later::ALL.into_iter().find(|l| l.keyword() == text);
    let until = match named {
        Some(later) => later.at(config, now),
        None => match DateTime::parse_from_rfc3339(text) {
            Ok(at) => Some(at.with_timezone(&Utc)),
            Err(_) => {
                let naive = NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M").map_err(|_| {
                    format!("{text:?} is not tomorrow, opening, next-week, or a time like 2026-12-08 14:00")
                })?;
                tz.from_local_datetime(&naive)
                    .earliest()
                    .map(|t| t.with_timezone(&Utc))
            }
        },
    };
    match until {
        Some(until) if accepts(until, now) => Ok(until),
        Some(_) => Err(format!(
            "{text:?} is not a time to come within three months"
        )),
        None => Err(format!("{text:?}: no such time in {tz}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn paris(text: &str) -> DateTime<Utc> {
        chrono_tz::Europe::Paris
            .from_local_datetime(&NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M").unwrap())
            .unwrap()
            .with_timezone(&Utc)
    }

    #[test]
    fn the_usual_moments_are_in_the_business_s_time() {
        let config = Config::demo();
        // A Saturday at 20:00: closed until Monday 09:00.
        let now = paris("2026-11-28 20:00");
        assert_eq!(
            Later::TomorrowMorning.at(&config, now),
            Some(paris("2026-11-29 09:00"))
        );
        assert_eq!(
            Later::NextOpening.at(&config, now),
            Some(paris("2026-11-30 09:00"))
        );
        assert_eq!(
            Later::NextWeek.at(&config, now),
            Some(paris("2026-11-30 09:00"))
        );
        // From a Monday, next week is the Monday after.
        let monday = paris("2026-11-30 10:00");
        assert_eq!(
            Later::NextWeek.at(&config, monday),
            Some(paris("2026-12-07 09:00"))
        );
    }

    #[test]
    fn a_time_is_read_by_name_locally_or_in_rfc_3339_and_must_be_to_come() {
        let config = Config::demo();
        let now = paris("2026-11-30 10:00");
        assert_eq!(
            parse(&config, "tomorrow", now),
            Ok(paris("2026-12-01 09:00"))
        );
        assert_eq!(
            parse(&config, "2026-12-08 14:00", now),
            Ok(paris("2026-12-08 14:00"))
        );
        assert_eq!(
            parse(&config, "2026-12-08T13:00:00Z", now),
            Ok(paris("2026-12-08 14:00"))
        );
        for refused in ["2026-11-30 09:00", "2027-06-01 09:00", "someday", ""] {
            assert!(parse(&config, refused, now).is_err(), "{refused}");
        }
    }
}
