//! Moments and durations as a customer or the owner reads them, in the business's language.

use chrono::{DateTime, Datelike, Timelike, Weekday};
use chrono_tz::Tz;

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Language {
    Fr,
    En,
}

impl Language {
    /// Takes "fr", "EN", and regional tags such as "fr-CA" or "en_GB": the region changes nothing we write.
    pub fn parse(s: &str) -> Option<Language> {
        let primary = s.trim().split(['-', '_']).next()?;
        match primary.to_ascii_lowercase().as_str() {
            "fr" => Some(Language::Fr),
            "en" => Some(Language::En),
            _ => None,
        }
    }

    pub fn code(self) -> &'static str {
        match self {
            Language::Fr => "fr",
            Language::En => "en",
        }
    }
}

/// The moment `at` as a customer reads it, relative to `now`, on the business's clock.
pub fn spell_moment(lang: Language, at: DateTime<Tz>, now: DateTime<Tz>) -> String {
    // "Today" must mean the business's day even if the caller's `now` came in another zone.
    let now = now.with_timezone(&at.timezone());
    let days = (at.date_naive() - now.date_naive()).num_days();
    let clock = clock(lang, at);
    let weekday = weekday_name(lang, at.weekday());
    let month = month_name(lang, at.month());
    match (lang, days) {
        (Language::Fr, 0) => format!("aujourd'hui à {clock}"),
        (Language::En, 0) => format!("today at {clock}"),
        (Language::Fr, 1) => format!("demain à {clock}"),
        (Language::En, 1) => format!("tomorrow at {clock}"),
        // Up to 6 days ahead the weekday alone is unambiguous; a week away it is today's name again.
        (Language::Fr, 2..=6) => format!("{weekday} à {clock}"),
        (Language::En, 2..=6) => format!("{weekday} at {clock}"),
        (Language::Fr, _) => {
            let day = if at.day() == 1 {
                "1er".to_owned()
            } else {
                at.day().to_string()
            };
            format!("{weekday} {day} {month} à {clock}")
        }
        (Language::En, _) => format!("{weekday}, {month} {} at {clock}", at.day()),
    }
}

/// A duration as a promise: whole days only when it is a whole number of days.
pub fn spell_duration(lang: Language, d: std::time::Duration) -> String {
    const DAY: u64 = 86_400;
    if d.as_secs() >= DAY && d.as_secs().is_multiple_of(DAY) && d.subsec_nanos() == 0 {
        return count(lang, d.as_secs() / DAY, Unit::Day);
    }
    // Rounded up: a promise shorter than the real delay would be broken on arrival.
    let minutes = d.as_nanos().div_ceil(60_000_000_000) as u64;
    match (lang, minutes / 60, minutes % 60) {
        (_, 0, m) => count(lang, m, Unit::Minute),
        (_, h, 0) => count(lang, h, Unit::Hour),
        (Language::Fr, h, m) => format!("{h} h {m:02}"),
        (Language::En, h, m) => format!(
            "{} {}",
            count(lang, h, Unit::Hour),
            count(lang, m, Unit::Minute)
        ),
    }
}

/// How long something has waited, rounded down to the largest whole unit.
pub fn spell_wait(lang: Language, waited: chrono::Duration) -> String {
    let minutes = waited.num_minutes();
    // Negative waits come from clocks that disagree a little; they read as "just now" too.
    if minutes < 1 {
        return match lang {
            Language::Fr => "à l'instant",
            Language::En => "just now",
        }
        .to_owned();
    }
    let (n, unit) = match minutes {
        ..60 => (minutes, Unit::Minute),
        60..1440 => (minutes / 60, Unit::Hour),
        _ => (minutes / 1440, Unit::Day),
    };
    count(lang, n as u64, unit)
}

#[derive(Clone, Copy)]
enum Unit {
    Minute,
    Hour,
    Day,
}

fn count(lang: Language, n: u64, unit: Unit) -> String {
    // French keeps the singular for 0 as well as 1.
    let singular = match lang {
        Language::Fr => n <= 1,
        Language::En => n == 1,
    };
    let word = match (lang, unit) {
        (_, Unit::Minute) => "minute",
        (Language::Fr, Unit::Hour) => "heure",
        (Language::En, Unit::Hour) => "hour",
        (Language::Fr, Unit::Day) => "jour",
        (Language::En, Unit::Day) => "day",
    };
    format!("{n} {word}{}", if singular { "" } else { "s" })
}

/// Seconds are dropped: openings fall on whole minutes, and nobody promises to the second.
fn clock(lang: Language, at: DateTime<Tz>) -> String {
    let (h, m) = (at.hour(), at.minute());
    match lang {
        Language::Fr => format!("{h} h {m:02}"),
        Language::En => {
            let twelve = if h % 12 == 0 { 12 } else { h % 12 };
            format!("{twelve}:{m:02} {}", if h < 12 { "AM" } else { "PM" })
        }
    }
}

fn weekday_name(lang: Language, day: Weekday) -> &'static str {
    const FR: [&str; 7] = [
        "lundi", "mardi", "mercredi", "jeudi", "vendredi", "samedi", "dimanche",
    ];
    const EN: [&str; 7] = [
        "Monday",
        "Tuesday",
        "Wednesday",
        "Thursday",
        "Friday",
        "Saturday",
        "Sunday",
    ];
    let i = day.num_days_from_monday() as usize;
    match lang {
        Language::Fr => FR[i],
        Language::En => EN[i],
    }
}

fn month_name(lang: Language, month: u32) -> &'static str {
    const FR: [&str; 12] = [
        "janvier",
        "février",
        "mars",
        "avril",
        "mai",
        "juin",
        "juillet",
        "août",
        "septembre",
        "octobre",
        "novembre",
        "décembre",
    ];
    const EN: [&str; 12] = [
        "January",
        "February",
        "March",
        "April",
        "May",
        "June",
        "July",
        "August",
        "September",
        "October",
        "November",
        "December",
    ];
    let i = month as usize - 1;
    match lang {
        Language::Fr => FR[i],
        Language::En => EN[i],
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use chrono_tz::Europe::Paris;
    use std::time::Duration;
    use Language::{En, Fr};

    fn paris(y: i32, mo: u32, d: u32, h: u32, mi: u32) -> DateTime<Tz> {
        Paris.with_ymd_and_hms(y, mo, d, h, mi, 0).single().unwrap()
    }

    /// Tuesday 3 March 2026, 10:00 in Paris.
    fn now() -> DateTime<Tz> {
        paris(2026, 3, 3, 10, 0)
    }

    fn both(at: DateTime<Tz>, now: DateTime<Tz>) -> (String, String) {
        (spell_moment(Fr, at, now), spell_moment(En, at, now))
    }

    #[test]
    fn languages_parse_from_tags_and_give_their_code() {
        assert_eq!(Language::parse("fr"), Some(Fr));
        assert_eq!(Language::parse(" EN "), Some(En));
        assert_eq!(Language::parse("fr-CA"), Some(Fr));
        assert_eq!(Language::parse("en_GB"), Some(En));
        assert_eq!(Language::parse("de"), None);
        assert_eq!(Language::parse(""), None);
        assert_eq!((Fr.code(), En.code()), ("fr", "en"));
    }

    #[test]
    fn today() {
        let (fr, en) = both(paris(2026, 3, 3, 14, 0), now());
        assert_eq!(
            (fr.as_str(), en.as_str()),
            ("aujourd'hui à 14 h 00", "today at 2:00 PM")
        );
    }

    #[test]
    fn tomorrow() {
        let (fr, en) = both(paris(2026, 3, 4, 9, 0), now());
        assert_eq!(
            (fr.as_str(), en.as_str()),
            ("demain à 9 h 00", "tomorrow at 9:00 AM")
        );
    }

    #[test]
    fn within_six_days_names_the_weekday() {
        let (fr, en) = both(paris(2026, 3, 9, 9, 0), now());
        assert_eq!(
            (fr.as_str(), en.as_str()),
            ("lundi à 9 h 00", "Monday at 9:00 AM")
        );
        let (fr, en) = both(paris(2026, 3, 5, 14, 30), now());
        assert_eq!(
            (fr.as_str(), en.as_str()),
            ("jeudi à 14 h 30", "Thursday at 2:30 PM")
        );
    }

    #[test]
    fn a_week_or_more_away_gives_the_date() {
        let (fr, en) = both(paris(2026, 3, 10, 9, 0), now());
        assert_eq!(
            (fr.as_str(), en.as_str()),
            ("mardi 10 mars à 9 h 00", "Tuesday, March 10 at 9:00 AM")
        );
        let (fr, en) = both(paris(2027, 1, 4, 9, 0), paris(2026, 12, 28, 18, 0));
        assert_eq!(
            (fr.as_str(), en.as_str()),
            ("lundi 4 janvier à 9 h 00", "Monday, January 4 at 9:00 AM")
        );
        let (fr, en) = both(paris(2026, 5, 1, 9, 30), now());
        assert_eq!(
            (fr.as_str(), en.as_str()),
            ("vendredi 1er mai à 9 h 30", "Friday, May 1 at 9:30 AM")
        );
        let (fr, _) = both(paris(2026, 8, 15, 9, 0), now());
        assert_eq!(fr, "samedi 15 août à 9 h 00");
    }

    #[test]
    fn noon_and_midnight_on_the_twelve_hour_clock() {
        let (fr, en) = both(paris(2026, 3, 3, 12, 0), now());
        assert_eq!(
            (fr.as_str(), en.as_str()),
            ("aujourd'hui à 12 h 00", "today at 12:00 PM")
        );
        let (fr, en) = both(paris(2026, 3, 4, 0, 0), now());
        assert_eq!(
            (fr.as_str(), en.as_str()),
            ("demain à 0 h 00", "tomorrow at 12:00 AM")
        );
        assert_eq!(
            spell_moment(En, paris(2026, 3, 4, 0, 15), now()),
            "tomorrow at 12:15 AM"
        );
        assert_eq!(
            spell_moment(En, paris(2026, 3, 3, 23, 59), now()),
            "today at 11:59 PM"
        );
    }

    #[test]
    fn days_are_counted_on_the_business_clock() {
        // 23:30 UTC is already Wednesday 00:30 in Paris, so Wednesday 09:00 is "today".
        let now_utc = chrono::Utc.with_ymd_and_hms(2026, 3, 3, 23, 30, 0).unwrap();
        let now_elsewhere = now_utc.with_timezone(&chrono_tz::America::New_York);
        let at = paris(2026, 3, 4, 9, 0);
        assert_eq!(spell_moment(En, at, now_elsewhere), "today at 9:00 AM");
        // Across the spring-forward night, 03:00 CEST is still "tomorrow".
        let at = Paris
            .with_ymd_and_hms(2026, 3, 29, 3, 0, 0)
            .single()
            .unwrap();
        assert_eq!(
            spell_moment(Fr, at, paris(2026, 3, 28, 23, 0)),
            "demain à 3 h 00"
        );
    }

    #[test]
    fn durations_as_promises() {
        let cases = [
            (4 * 3600, "4 heures", "4 hours"),
            (3600, "1 heure", "1 hour"),
            (30 * 60, "30 minutes", "30 minutes"),
            (60, "1 minute", "1 minute"),
            (90 * 60, "1 h 30", "1 hour 30 minutes"),
            (2 * 3600 + 5 * 60, "2 h 05", "2 hours 5 minutes"),
            (86_400, "1 jour", "1 day"),
            (2 * 86_400, "2 jours", "2 days"),
            (36 * 3600, "36 heures", "36 hours"),
            (90, "2 minutes", "2 minutes"),
        ];
        for (secs, fr, en) in cases {
            let d = Duration::from_secs(secs);
            assert_eq!(
                (
                    spell_duration(Fr, d).as_str(),
                    spell_duration(En, d).as_str()
                ),
                (fr, en),
                "{secs}s"
            );
        }
        let just_over_a_day = Duration::from_secs(86_400) + Duration::from_millis(1);
        assert_eq!(spell_duration(En, just_over_a_day), "24 hours 1 minute");
    }

    #[test]
    fn waits_round_down() {
        let cases = [
            (0, "à l'instant", "just now"),
            (59, "à l'instant", "just now"),
            (-30, "à l'instant", "just now"),
            (60, "1 minute", "1 minute"),
            (5 * 60 + 59, "5 minutes", "5 minutes"),
            (3600, "1 heure", "1 hour"),
            (3 * 3600 + 59 * 60, "3 heures", "3 hours"),
            (86_400, "1 jour", "1 day"),
            (2 * 86_400 + 23 * 3600, "2 jours", "2 days"),
        ];
        for (secs, fr, en) in cases {
            let w = chrono::Duration::seconds(secs);
            assert_eq!(
                (spell_wait(Fr, w).as_str(), spell_wait(En, w).as_str()),
                (fr, en),
                "{secs}s"
            );
        }
    }
}
