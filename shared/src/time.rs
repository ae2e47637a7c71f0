//! Calendar arithmetic on day numbers (days since 1970-01-01, proleptic Gregorian calendar, English
//! names). Which day an instant falls on is the caller's business: both clients shift a timestamp by
//! the browser's UTC offset for that instant before dividing by [`DAY_MS`].

/// Milliseconds in a day (Unix time has no leap seconds).
pub const DAY_MS: i64 = 86_400_000;

const MONTHS: [&str; 12] = [
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

/// Starts on Thursday, the weekday of day 0.
const WEEKDAYS: [&str; 7] = [
    "Thursday",
    "Friday",
    "Saturday",
    "Sunday",
    "Monday",
    "Tuesday",
    "Wednesday",
];

/// (year, month 1..=12, day 1..=31) of a day number (Howard Hinnant's `civil_from_days`).
pub fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

/// "January" for 1 … "December" for 12; empty for anything else.
pub fn month_name(m: u32) -> &'static str {
    MONTHS
        .get(m.wrapping_sub(1) as usize)
        .copied()
        .unwrap_or("")
}

/// "Monday" … "Sunday": the weekday of a day number.
pub fn weekday_name(days_since_epoch: i64) -> &'static str {
    WEEKDAYS[days_since_epoch.rem_euclid(7) as usize]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn day_zero_is_thursday_first_january_1970() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(weekday_name(0), "Thursday");
    }

    #[test]
    fn known_dates_match_the_calendar() {
        assert_eq!(civil_from_days(1_763_683_200_000 / DAY_MS), (2025, 11, 21));
        assert_eq!(weekday_name(1_763_683_200_000 / DAY_MS), "Friday");
        assert_eq!(civil_from_days(20_774), (2026, 11, 17));
        assert_eq!(weekday_name(20_774), "Tuesday");
        assert_eq!(civil_from_days(10_957), (2000, 1, 1));
        assert_eq!(weekday_name(10_957), "Saturday");
    }

    #[test]
    fn leap_days_exist_only_in_leap_years() {
        assert_eq!(civil_from_days(951_782_400_000 / DAY_MS), (2000, 2, 29));
        assert_eq!(civil_from_days(11_016), (2000, 2, 29));
        assert_eq!(civil_from_days(11_017), (2000, 3, 1));
        assert_eq!(civil_from_days(19_782), (2024, 2, 29));
        // 2100 is not a leap year: 28 February is followed by 1 March.
        assert_eq!(civil_from_days(47_540), (2100, 2, 28));
        assert_eq!(civil_from_days(47_541), (2100, 3, 1));
    }

    #[test]
    fn days_before_the_epoch_count_backwards() {
        assert_eq!(civil_from_days(-1), (1969, 12, 31));
        assert_eq!(weekday_name(-1), "Wednesday");
        assert_eq!(weekday_name(-7), "Thursday");
        assert_eq!(civil_from_days(-365), (1969, 1, 1));
        // 1900 was not a leap year, 1968 was.
        assert_eq!(civil_from_days(-25_508), (1900, 3, 1));
        assert_eq!(civil_from_days(-25_509), (1900, 2, 28));
        assert_eq!(civil_from_days(-672), (1968, 2, 29));
    }

    #[test]
    fn months_are_named_from_one_to_twelve() {
        assert_eq!(month_name(1), "January");
        assert_eq!(month_name(2), "February");
        assert_eq!(month_name(12), "December");
        assert_eq!(month_name(0), "");
        assert_eq!(month_name(13), "");
    }

    #[test]
    fn every_weekday_has_its_name() {
        let week: Vec<_> = (4..11).map(weekday_name).collect();
        assert_eq!(
            week,
            [
                "Monday",
                "Tuesday",
                "Wednesday",
                "Thursday",
                "Friday",
                "Saturday",
                "Sunday"
            ]
        );
    }
}
