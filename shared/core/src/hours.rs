//! When the business is open, and how much opening time has gone by.
//!
//! Hours are wall-clock times on the shop's own clock: "09:00" stays 09:00 whatever the UTC
//! offset is that day. Every range is turned into a span of UTC instants so that DST days,
//! being 23 or 25 hours long, count exactly what the clock on the wall shows.

use std::collections::BTreeSet;
use std::fmt;

use chrono::{
    DateTime, Datelike, LocalResult, NaiveDate, NaiveDateTime, NaiveTime, TimeZone, Timelike, Utc,
};
use chrono_tz::Tz;

/// More than a year, so a long list of holidays cannot hide the next opening; bounds the work
/// done for a schedule that is never open.
const SEARCH_DAYS: usize = 400;
const DAY_NAMES: [&str; 7] = [
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
    "Sunday",
];
const MIDNIGHT_END: u32 = 24 * 60;

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum HoursError {
    #[error("\"{0}\" is not a time like 18:30")]
    Clock(String),
    #[error("\"{0}\" is not a time range like 09:00-12:30")]
    Range(String),
    #[error("\"{0}\" does not end after it starts")]
    Backwards(String),
    #[error("on {day}, {first} overlaps {second}")]
    Overlap {
        day: &'static str,
        first: String,
        second: String,
    },
    #[error("\"{0}\" is not a duration like 4h, 30m or 1h 30m")]
    Duration(String),
    #[error("\"{0}\" is zero; give a duration like 4h")]
    ZeroDuration(String),
}

/// One stretch of a day, in minutes since midnight so that "24:00" can close the day.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OpeningRange {
    start: u32,
    end: u32,
}

impl fmt::Display for OpeningRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (s, e) = (self.start, self.end);
        write!(f, "{:02}:{:02}-{:02}:{:02}", s / 60, s % 60, e / 60, e % 60)
    }
}

/// Strict "HH:MM": chrono alone would also take "9:00", which a config file should not rely on.
pub fn parse_clock(s: &str) -> Result<NaiveTime, HoursError> {
    let shaped = s.len() == 5
        && s.as_bytes()[2] == b':'
        && s.bytes().filter(u8::is_ascii_digit).count() == 4;
    let time = shaped
        .then(|| NaiveTime::from_hms_opt(s[..2].parse().ok()?, s[3..].parse().ok()?, 0))
        .flatten();
    time.ok_or_else(|| HoursError::Clock(s.to_owned()))
}

/// "09:00-12:30"; "24:00" is accepted as an end so a range can run up to midnight.
pub fn parse_range(s: &str) -> Result<OpeningRange, HoursError> {
    let bad = || HoursError::Range(s.to_owned());
    let (start, end) = s.split_once('-').ok_or_else(bad)?;
    let start = minute_of_day(parse_clock(start.trim()).map_err(|_| bad())?);
    let end = match end.trim() {
        "24:00" => MIDNIGHT_END,
        end => minute_of_day(parse_clock(end).map_err(|_| bad())?),
    };
    if start >= end {
        return Err(HoursError::Backwards(s.to_owned()));
    }
    Ok(OpeningRange { start, end })
}

pub fn parse_duration(s: &str) -> Result<std::time::Duration, HoursError> {
    let d = humantime::parse_duration(s.trim()).map_err(|_| HoursError::Duration(s.to_owned()))?;
    if d.is_zero() {
        return Err(HoursError::ZeroDuration(s.to_owned()));
    }
    Ok(d)
}

fn minute_of_day(t: NaiveTime) -> u32 {
    t.hour() * 60 + t.minute()
}

#[derive(Debug, Clone)]
pub struct OpeningHours {
    tz: Tz,
    week: [Vec<OpeningRange>; 7],
    closed: BTreeSet<NaiveDate>,
}

impl OpeningHours {
    /// `week[0]` is Monday; `closed` holds local dates (holidays) closed all day.
    pub fn new(
        tz: Tz,
        mut week: [Vec<OpeningRange>; 7],
        closed: BTreeSet<NaiveDate>,
    ) -> Result<Self, HoursError> {
        for (day, ranges) in week.iter_mut().enumerate() {
            ranges.sort_by_key(|r| r.start);
            // Touching ranges (09:00-12:00, 12:00-14:00) are fine: they simply stay open.
            if let Some(w) = ranges.windows(2).find(|w| w[0].end > w[1].start) {
                let (first, second) = (w[0].to_string(), w[1].to_string());
                return Err(HoursError::Overlap {
                    day: DAY_NAMES[day],
                    first,
                    second,
                });
            }
        }
        Ok(Self { tz, week, closed })
    }

    pub fn timezone(&self) -> Tz {
        self.tz
    }

    pub fn is_open(&self, at: DateTime<Utc>) -> bool {
        self.open_spans(at)
            .next()
            .is_some_and(|(start, _)| start <= at)
    }

    /// The next moment strictly after `after` when the business goes from closed to open.
    /// Asked while open, that is the reopening after the current stretch closes.
    pub fn next_opening(&self, after: DateTime<Utc>) -> Option<DateTime<Tz>> {
        let mut previous_end = None;
        for (start, end) in self.open_spans(after) {
            // A range picking up exactly where the last one stopped (…-24:00 then 00:00-…)
            // is not a reopening: the door never closed.
            if start > after && previous_end != Some(start) {
                return Some(start.with_timezone(&self.tz));
            }
            previous_end = Some(end);
        }
        None
    }

    /// The moment `work` of opening time has gone by, counting from `from`. None if that does
    /// not happen within the search horizon (e.g. never open).
    pub fn after_opening_time(
        &self,
        from: DateTime<Utc>,
        work: std::time::Duration,
    ) -> Option<DateTime<Tz>> {
        let mut left = chrono::Duration::from_std(work).ok()?;
        for (start, end) in self.open_spans(from) {
            let start = start.max(from);
            if end - start >= left {
                return Some((start + left).with_timezone(&self.tz));
            }
            left -= end - start;
        }
        None
    }

    /// Open spans in chronological order, from the first one not yet over at `from`.
    fn open_spans(
        &self,
        from: DateTime<Utc>,
    ) -> impl Iterator<Item = (DateTime<Utc>, DateTime<Utc>)> + '_ {
        // Earlier days cannot matter: a day's ranges end by the first instant its next day begins.
        let today = from.with_timezone(&self.tz).date_naive();
        today
            .iter_days()
            .take(SEARCH_DAYS)
            .filter(|day| !self.closed.contains(day))
            .flat_map(move |day| {
                let ranges = &self.week[day.weekday().num_days_from_monday() as usize];
                ranges.iter().filter_map(move |r| {
                    Some((self.instant(day, r.start)?, self.instant(day, r.end)?))
                })
            })
            // A range lying wholly inside a spring-forward gap never happens.
            .filter(move |(start, end)| start < end && *end > from)
    }

    fn instant(&self, day: NaiveDate, minute: u32) -> Option<DateTime<Utc>> {
        let local = day
            .and_time(NaiveTime::MIN)
            .checked_add_signed(chrono::Duration::minutes(minute.into()))?;
        resolve(self.tz, local)
    }
}

/// A wall-clock time as an instant: inside a spring-forward gap, the first instant after the gap;
/// inside a fall-back fold, the earlier of the two.
fn resolve(tz: Tz, local: NaiveDateTime) -> Option<DateTime<Utc>> {
    // Gaps end on a whole minute in every zone since long before Accueil, and last at most a day.
    (0..=2 * 24 * 60).find_map(|step| {
        let probe = local.checked_add_signed(chrono::Duration::minutes(step))?;
        match tz.from_local_datetime(&probe) {
            LocalResult::Single(t) => Some(t.with_timezone(&Utc)),
            LocalResult::Ambiguous(a, b) => Some(a.min(b).with_timezone(&Utc)),
            LocalResult::None => None,
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono_tz::Europe::Paris;
    use std::time::Duration;

    fn ranges(spec: &str) -> Vec<OpeningRange> {
        let specs = spec.split(',').filter(|s| !s.is_empty());
        specs.map(|s| parse_range(s).unwrap()).collect()
    }

    /// A bakery: weekdays with a lunch break, Saturday mornings, closed Sunday and on 1 May.
    fn bakery() -> OpeningHours {
        let (wd, sat) = ("09:00-12:30,14:00-18:00", "09:00-12:00");
        let week = [wd, wd, wd, wd, wd, sat, ""].map(ranges);
        let may_day = NaiveDate::from_ymd_opt(2026, 5, 1).unwrap();
        OpeningHours::new(Paris, week, BTreeSet::from([may_day])).unwrap()
    }

    fn every_day(spec: &str) -> OpeningHours {
        let week = std::array::from_fn(|_| ranges(spec));
        OpeningHours::new(Paris, week, BTreeSet::new()).unwrap()
    }

    /// Paris wall-clock time in 2026; panics on gap/fold times so tests must use `utc` there.
    fn paris(mo: u32, d: u32, h: u32, mi: u32) -> DateTime<Utc> {
        let local = Paris.with_ymd_and_hms(2026, mo, d, h, mi, 0).single();
        local.unwrap().with_timezone(&Utc)
    }

    fn utc(mo: u32, d: u32, h: u32, mi: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, mo, d, h, mi, 0).unwrap()
    }

    fn hours(n: u64) -> Duration {
        Duration::from_secs(n * 3600)
    }

    fn minutes(n: u64) -> Duration {
        Duration::from_secs(n * 60)
    }

    fn rfc(t: Option<DateTime<Tz>>) -> String {
        t.map(|t| t.to_rfc3339()).unwrap_or_default()
    }

    #[test]
    fn clocks_are_strict_hh_mm() {
        assert_eq!(
            parse_clock("18:30"),
            Ok(NaiveTime::from_hms_opt(18, 30, 0).unwrap())
        );
        for bad in [
            "9h", "9:00", "18:60", "24:00", "+9:00", "18:30 ", "", "é:000",
        ] {
            assert_eq!(
                parse_clock(bad),
                Err(HoursError::Clock(bad.into())),
                "{bad}"
            );
        }
    }

    #[test]
    fn ranges_parse_and_explain_themselves() {
        assert_eq!(
            parse_range("09:00-12:30").unwrap().to_string(),
            "09:00-12:30"
        );
        assert_eq!(
            parse_range("18:00 - 24:00").unwrap().to_string(),
            "18:00-24:00"
        );
        let message = |s| parse_range(s).unwrap_err().to_string();
        assert_eq!(message("9h"), "\"9h\" is not a time range like 09:00-12:30");
        assert_eq!(
            message("24:00-24:00"),
            "\"24:00-24:00\" is not a time range like 09:00-12:30"
        );
        assert_eq!(
            message("09:00-08:00"),
            "\"09:00-08:00\" does not end after it starts"
        );
        assert_eq!(
            parse_range("09:00-09:00"),
            Err(HoursError::Backwards("09:00-09:00".into()))
        );
    }

    #[test]
    fn overlapping_ranges_are_refused_touching_ones_accepted() {
        let mut week: [Vec<OpeningRange>; 7] = Default::default();
        week[2] = ranges("14:00-18:00,09:00-14:30");
        let err = OpeningHours::new(Paris, week.clone(), BTreeSet::new()).unwrap_err();
        assert_eq!(
            err.to_string(),
            "on Wednesday, 09:00-14:30 overlaps 14:00-18:00"
        );
        week[2] = ranges("09:00-14:00,14:00-18:00");
        assert!(OpeningHours::new(Paris, week, BTreeSet::new()).is_ok());
    }

    #[test]
    fn durations_follow_humantime_but_not_zero() {
        assert_eq!(parse_duration("4h"), Ok(hours(4)));
        assert_eq!(parse_duration("30m"), Ok(minutes(30)));
        assert_eq!(parse_duration("1h 30m"), Ok(minutes(90)));
        assert_eq!(parse_duration("2days"), Ok(hours(48)));
        assert_eq!(parse_duration(""), Err(HoursError::Duration("".into())));
        let soon = parse_duration("soon").unwrap_err().to_string();
        assert_eq!(soon, "\"soon\" is not a duration like 4h, 30m or 1h 30m");
        assert_eq!(
            parse_duration("0h"),
            Err(HoursError::ZeroDuration("0h".into()))
        );
    }

    #[test]
    fn open_from_opening_until_just_before_closing() {
        let h = bakery();
        assert_eq!(h.timezone(), Paris);
        // Tuesday 3 March; Sunday 8 March; Friday 1 May (holiday).
        let cases = [
            ((3, 3, 8, 59), false),
            ((3, 3, 9, 0), true),
            ((3, 3, 12, 29), true),
            ((3, 3, 12, 30), false),
            ((3, 3, 13, 0), false),
            ((3, 3, 14, 0), true),
            ((3, 3, 18, 0), false),
            ((3, 7, 11, 0), true),
            ((3, 8, 10, 0), false),
            ((5, 1, 10, 0), false),
        ];
        for ((mo, d, hh, mi), open) in cases {
            assert_eq!(h.is_open(paris(mo, d, hh, mi)), open, "{mo}-{d} {hh}:{mi}");
        }
    }

    #[test]
    fn next_opening_after_lunch_night_weekend_and_holiday() {
        let h = bakery();
        let cases = [
            ((3, 3, 8, 0), "2026-03-03T09:00:00+01:00"),
            ((3, 3, 12, 30), "2026-03-03T14:00:00+01:00"),
            ((3, 3, 10, 0), "2026-03-03T14:00:00+01:00"), // while open: the reopening
            ((3, 3, 19, 0), "2026-03-04T09:00:00+01:00"),
            ((3, 7, 12, 0), "2026-03-09T09:00:00+01:00"), // Saturday noon to Monday
            ((3, 8, 10, 0), "2026-03-09T09:00:00+01:00"), // Sunday
            ((4, 30, 18, 30), "2026-05-02T09:00:00+02:00"), // over 1 May
        ];
        for ((mo, d, hh, mi), expected) in cases {
            assert_eq!(
                rfc(h.next_opening(paris(mo, d, hh, mi))),
                expected,
                "{mo}-{d} {hh}:{mi}"
            );
        }
    }

    #[test]
    fn ranges_meeting_at_midnight_are_one_stretch() {
        let mut week: [Vec<OpeningRange>; 7] = Default::default();
        week[0] = ranges("18:00-24:00");
        week[1] = ranges("00:00-06:00");
        let h = OpeningHours::new(Paris, week, BTreeSet::new()).unwrap();
        assert!(h.is_open(paris(3, 3, 0, 0)));
        assert_eq!(
            rfc(h.next_opening(paris(3, 2, 20, 0))),
            "2026-03-09T18:00:00+01:00"
        );
    }

    #[test]
    fn spring_forward_gap_rolls_to_three_oclock() {
        // 2026-03-29 in Paris: 02:00 CET jumps to 03:00 CEST (01:00 UTC).
        let h = every_day("02:30-04:00");
        assert_eq!(
            rfc(h.next_opening(paris(3, 28, 20, 0))),
            "2026-03-29T03:00:00+02:00"
        );
        assert!(!h.is_open(utc(3, 29, 0, 59)));
        assert!(h.is_open(utc(3, 29, 1, 0)));
        assert!(!h.is_open(paris(3, 29, 4, 0)));
        let lost = every_day("02:00-02:45").next_opening(paris(3, 28, 20, 0));
        assert_eq!(
            rfc(lost),
            "2026-03-30T02:00:00+02:00",
            "the 29th's range never happens"
        );
        // The 23-hour day: 01:00-05:00 on the wall is three real hours.
        let night = every_day("01:00-05:00").after_opening_time(paris(3, 29, 0, 30), hours(4));
        assert_eq!(rfc(night), "2026-03-30T02:00:00+02:00");
        let all_day = every_day("00:00-24:00").after_opening_time(paris(3, 29, 0, 0), hours(24));
        assert_eq!(rfc(all_day), "2026-03-30T01:00:00+02:00");
    }

    #[test]
    fn fall_back_fold_opens_at_the_earlier_instant() {
        // 2026-10-25 in Paris: 03:00 CEST falls back to 02:00 CET (01:00 UTC).
        let h = every_day("02:30-04:00");
        assert_eq!(
            rfc(h.next_opening(paris(10, 24, 20, 0))),
            "2026-10-25T02:30:00+02:00"
        );
        assert!(!h.is_open(utc(10, 25, 0, 29)));
        assert!(h.is_open(utc(10, 25, 0, 30)));
        assert!(
            h.is_open(utc(10, 25, 1, 45)),
            "02:45 CET, the second time round"
        );
        assert!(!h.is_open(utc(10, 25, 3, 0)), "04:00 CET");
        // The 25-hour day: a full day of opening time ends at 23:00 the same day.
        let all_day = every_day("00:00-24:00").after_opening_time(paris(10, 25, 0, 0), hours(24));
        assert_eq!(rfc(all_day), "2026-10-25T23:00:00+01:00");
    }

    #[test]
    fn opening_time_skips_lunch_nights_and_weekends() {
        let h = bakery();
        let cases = [
            ((3, 3, 11, 0), hours(4), "2026-03-03T16:30:00+01:00"), // over lunch
            ((3, 3, 17, 0), hours(4), "2026-03-04T12:00:00+01:00"), // over the night
            ((3, 6, 17, 0), hours(5), "2026-03-09T10:00:00+01:00"), // Fri, Sat, Mon
            ((3, 8, 15, 0), hours(2), "2026-03-09T11:00:00+01:00"), // from a closed Sunday
            ((3, 3, 9, 0), minutes(210), "2026-03-03T12:30:00+01:00"), // due at closing time
            ((3, 3, 10, 0), minutes(1) / 2, "2026-03-03T10:00:30+01:00"),
        ];
        for ((mo, d, hh, mi), work, expected) in cases {
            let done = h.after_opening_time(paris(mo, d, hh, mi), work);
            assert_eq!(rfc(done), expected, "{mo}-{d} {hh}:{mi} + {work:?}");
        }
    }

    #[test]
    fn a_schedule_never_open_has_no_answers() {
        let h = OpeningHours::new(Paris, Default::default(), BTreeSet::new()).unwrap();
        let now = paris(3, 3, 10, 0);
        assert!(!h.is_open(now));
        assert_eq!(h.next_opening(now), None);
        assert_eq!(h.after_opening_time(now, hours(1)), None);
    }
}
