//! Open or closed, and the next opening, in the business hours' time zone (with its daylight saving
//! rules, from the tz database bundled by `jiff`). Pure: the caller gives the time.

use jiff::tz::TimeZone;
use jiff::Timestamp;

use crate::settings::{minutes, BusinessHours};

/// When the company next opens, as the customer reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NextOpening {
    pub day: Day,
    /// Minutes since midnight, local time.
    pub at: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Day {
    Today,
    Tomorrow,
    /// 0 = Monday.
    Weekday(u8),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Status {
    Open,
    /// Closed; None when no day has hours.
    Closed(Option<NextOpening>),
}

/// Whether the company is open at `now_ms`; when closed, its next opening. A zone the tz database
/// doesn't know counts as UTC (the settings only check a name's shape).
pub fn status(hours: &BusinessHours, now_ms: i64) -> Status {
    let tz = TimeZone::get(&hours.timezone).unwrap_or(TimeZone::UTC);
    let now = Timestamp::from_millisecond(now_ms).unwrap_or(Timestamp::UNIX_EPOCH).to_zoned(tz);
    let weekday = now.weekday().to_monday_zero_offset() as usize;
    let minute = now.hour() as u32 * 60 + now.minute() as u32;
    let day = |offset: usize| {
        hours
            .days
            .get((weekday + offset) % 7)
            .cloned()
            .flatten()
            .and_then(|d| Some((minutes(&d.open)?, minutes(&d.close)?)))
    };
    if let Some((open, close)) = day(0) {
        if (open..close).contains(&minute) {
            return Status::Open;
        }
        if minute < open {
            return Status::Closed(Some(NextOpening { day: Day::Today, at: open }));
        }
    }
    for offset in 1..=7 {
        if let Some((open, _)) = day(offset) {
            let day = match offset {
                1 => Day::Tomorrow,
                _ => Day::Weekday(((weekday + offset) % 7) as u8),
            };
            return Status::Closed(Some(NextOpening { day, at: open }));
        }
    }
    Status::Closed(None)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::settings::DayHours;

    fn paris() -> BusinessHours {
        BusinessHours { timezone: "Europe/Paris".into(), ..BusinessHours::default() }
    }

    fn at(utc: &str) -> i64 {
        utc.parse::<Timestamp>().unwrap().as_millisecond()
    }

    fn closed(day: Day, at: u32) -> Status {
        Status::Closed(Some(NextOpening { day, at }))
    }

    #[test]
    fn open_during_the_hours_and_closed_outside_with_the_next_opening() {
        let hours = BusinessHours::default(); // Monday–Friday 09:00–17:00 UTC
        // Wednesday 2026-03-04.
        assert_eq!(status(&hours, at("2026-03-04T10:00:00Z")), Status::Open);
        assert_eq!(status(&hours, at("2026-03-04T08:59:00Z")), closed(Day::Today, 9 * 60));
        assert_eq!(status(&hours, at("2026-03-04T17:00:00Z")), closed(Day::Tomorrow, 9 * 60));
        // Friday evening and the weekend: Monday.
        assert_eq!(status(&hours, at("2026-03-06T18:00:00Z")), closed(Day::Weekday(0), 9 * 60));
        assert_eq!(status(&hours, at("2026-03-07T12:00:00Z")), closed(Day::Weekday(0), 9 * 60));
        // Sunday: Monday is tomorrow.
        assert_eq!(status(&hours, at("2026-03-08T12:00:00Z")), closed(Day::Tomorrow, 9 * 60));
    }

    #[test]
    fn the_time_zone_and_its_daylight_saving_time_are_followed() {
        let hours = paris();
        // Friday 27 March 2026, Paris on CET (UTC+1): 07:30 UTC is 08:30 there, not open yet.
        assert_eq!(status(&hours, at("2026-03-27T07:30:00Z")), closed(Day::Today, 9 * 60));
        assert_eq!(status(&hours, at("2026-03-27T08:00:00Z")), Status::Open);
        // Clocks go forward on Sunday 29 March: on Monday 30 March (CEST, UTC+2) 07:30 UTC is 09:30.
        assert_eq!(status(&hours, at("2026-03-30T07:30:00Z")), Status::Open);
        assert_eq!(status(&hours, at("2026-03-30T06:59:00Z")), closed(Day::Today, 9 * 60));
        // 15:30 UTC on that Monday is 17:30 in Paris: closed until tomorrow.
        assert_eq!(status(&hours, at("2026-03-30T15:30:00Z")), closed(Day::Tomorrow, 9 * 60));
        // Back to CET on Sunday 25 October: Monday 26 October 08:30 UTC is 09:30 in Paris.
        assert_eq!(status(&hours, at("2026-10-26T08:30:00Z")), Status::Open);
        assert_eq!(status(&hours, at("2026-10-26T07:30:00Z")), closed(Day::Today, 9 * 60));
        // Saturday night in Paris is already Sunday 00:30 there: Monday is tomorrow.
        assert_eq!(status(&hours, at("2026-03-28T23:30:00Z")), closed(Day::Tomorrow, 9 * 60));
        assert_eq!(status(&hours, at("2026-03-28T21:30:00Z")), closed(Day::Weekday(0), 9 * 60));
    }

    #[test]
    fn a_week_without_hours_is_closed_with_no_next_opening() {
        let hours = BusinessHours { timezone: "UTC".into(), days: vec![None; 7] };
        assert_eq!(status(&hours, at("2026-03-04T10:00:00Z")), Status::Closed(None));
        let mut only_sunday = hours.clone();
        only_sunday.days[6] = Some(DayHours { open: "10:00".into(), close: "12:30".into() });
        assert_eq!(status(&only_sunday, at("2026-03-04T10:00:00Z")), closed(Day::Weekday(6), 10 * 60));
        assert_eq!(status(&only_sunday, at("2026-03-08T12:29:00Z")), Status::Open);
        // Sunday after closing: next Sunday.
        assert_eq!(status(&only_sunday, at("2026-03-08T13:00:00Z")), closed(Day::Weekday(6), 10 * 60));
    }
}
