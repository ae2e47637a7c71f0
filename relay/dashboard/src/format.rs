//! Time formatting for the inbox and the thread. Pure functions over "milliseconds since the epoch"
//! plus the local UTC offset, so they run (and are tested) natively; the browser supplies the offset.
//! The calendar itself (dates and names of days) is `shared::time`.

use shared::time::{civil_from_days, month_name, weekday_name, DAY_MS};

pub const MINUTE: i64 = 60_000;
pub const HOUR: i64 = 60 * MINUTE;
pub const DAY: i64 = DAY_MS;

/// The local UTC offset at `ms`, in minutes east of UTC (UTC+2 → 120). Asked per instant because of
/// daylight saving time.
#[cfg(target_arch = "wasm32")]
pub fn tz_offset(ms: i64) -> i32 {
    let date = js_sys::Date::new(&wasm_bindgen::JsValue::from_f64(ms as f64));
    -(date.get_timezone_offset() as i32)
}

#[cfg(not(target_arch = "wasm32"))]
pub fn tz_offset(_ms: i64) -> i32 {
    0
}

/// A wall-clock reading.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Local {
    pub year: i64,
    /// 1..=12
    pub month: u32,
    /// 1..=31
    pub day: u32,
    pub hour: u32,
    pub minute: u32,
    /// Days since 1970-01-01 in local time: equal for two instants on the same local day.
    pub day_number: i64,
}

/// `ms` read on a clock `offset_min` minutes east of UTC.
pub fn local(ms: i64, offset_min: i32) -> Local {
    let local_ms = ms + offset_min as i64 * MINUTE;
    let day_number = local_ms.div_euclid(DAY);
    let in_day = local_ms.rem_euclid(DAY);
    let (year, month, day) = civil_from_days(day_number);
    Local {
        year,
        month,
        day,
        hour: (in_day / HOUR) as u32,
        minute: ((in_day % HOUR) / MINUTE) as u32,
        day_number,
    }
}

/// `hour`:00 local time, `days` local days after the day of `now` (1: tomorrow).
pub fn local_hour(now: i64, days: i64, hour: i64, tz: impl Fn(i64) -> i32) -> i64 {
    let local_ms = (local(now, tz(now)).day_number + days) * DAY + hour * HOUR;
    local_ms - tz(local_ms) as i64 * MINUTE
}

/// Monday of next week at `hour`:00 local time.
pub fn next_monday(now: i64, hour: i64, tz: impl Fn(i64) -> i32 + Copy) -> i64 {
    // 1970-01-01 was a Thursday: day 0 is weekday 3 counting from Monday.
    let weekday = (local(now, tz(now)).day_number + 3).rem_euclid(7);
    local_hour(now, 7 - weekday, hour, tz)
}

/// "14:05" — the time of a message.
pub fn clock(ms: i64, offset_min: i32) -> String {
    let t = local(ms, offset_min);
    format!("{:02}:{:02}", t.hour, t.minute)
}

/// The short age shown on an inbox row: "now", "12 min", "14:05" (earlier today), "Yesterday",
/// "Tue" (this week), "12 Mar", "12 Mar 2025".
pub fn relative(ms: i64, now: i64, tz: impl Fn(i64) -> i32) -> String {
    let age = now - ms;
    if age < MINUTE {
        return "now".into();
    }
    if age < HOUR {
        return format!("{} min", age / MINUTE);
    }
    let then = local(ms, tz(ms));
    let today = local(now, tz(now));
    let days = today.day_number - then.day_number;
    match days {
        d if d <= 0 => format!("{:02}:{:02}", then.hour, then.minute),
        1 => "Yesterday".into(),
        2..=6 => weekday_name(then.day_number)[..3].into(),
        _ if then.year == today.year => format!("{} {}", then.day, &month_name(then.month)[..3]),
        _ => format!("{} {} {}", then.day, &month_name(then.month)[..3], then.year),
    }
}

/// The label of a day separator in a thread: "Today", "Yesterday", "Tuesday 17 November",
/// "17 November 2025" (another year).
pub fn day_label(ms: i64, now: i64, tz: impl Fn(i64) -> i32) -> String {
    let then = local(ms, tz(ms));
    let today = local(now, tz(now));
    match today.day_number - then.day_number {
        0 => "Today".into(),
        1 => "Yesterday".into(),
        _ if then.year == today.year => format!(
            "{} {} {}",
            weekday_name(then.day_number),
            then.day,
            month_name(then.month)
        ),
        _ => format!("{} {} {}", then.day, month_name(then.month), then.year),
    }
}

/// A full timestamp for tooltips: "Tuesday 17 November 2026, 14:05".
pub fn full(ms: i64, offset_min: i32) -> String {
    let t = local(ms, offset_min);
    format!(
        "{} {} {} {}, {:02}:{:02}",
        weekday_name(t.day_number),
        t.day,
        month_name(t.month),
        t.year,
        t.hour,
        t.minute
    )
}

/// A time left, coarse enough to read at a glance: "less than a minute", "12 min", "3 h 12 min",
/// "1 day 4 h", "6 days".
pub fn time_left(ms: i64) -> String {
    if ms < MINUTE {
        return "less than a minute".into();
    }
    if ms < HOUR {
        return format!("{} min", ms / MINUTE);
    }
    if ms < DAY {
        let (h, m) = (ms / HOUR, (ms % HOUR) / MINUTE);
        return if m == 0 { format!("{h} h") } else { format!("{h} h {m} min") };
    }
    let days = ms / DAY;
    if days == 1 {
        let h = (ms % DAY) / HOUR;
        return if h == 0 { "1 day".into() } else { format!("1 day {h} h") };
    }
    format!("{days} days")
}

/// A file size for people: "512 bytes", "48 KB", "1.4 MB" (1 KB = 1000 bytes, as file managers show it).
pub fn file_size(bytes: u64) -> String {
    const KB: u64 = 1000;
    const MB: u64 = 1000 * KB;
    if bytes < KB {
        format!("{bytes} bytes")
    } else if bytes < MB - KB / 2 {
        format!("{} KB", (bytes + KB / 2) / KB)
    } else {
        let tenths = (bytes + MB / 20) / (MB / 10);
        format!("{}.{} MB", tenths / 10, tenths % 10)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // 2026-11-17 14:05:00 UTC, a Tuesday.
    const TUE: i64 = 1_794_924_300_000;

    fn utc(_: i64) -> i32 {
        0
    }

    #[test]
    fn local_reads_a_known_instant() {
        let t = local(TUE, 0);
        assert_eq!((t.year, t.month, t.day, t.hour, t.minute), (2026, 11, 17, 14, 5));
        assert_eq!(weekday_name(t.day_number), "Tuesday");
        assert_eq!(local(-1, 0).day_number, -1, "a millisecond before the epoch is the day before");
        let leap = local(951_782_400_000, 0); // 2000-02-29
        assert_eq!((leap.year, leap.month, leap.day), (2000, 2, 29));
    }

    #[test]
    fn offset_moves_the_clock_and_can_change_the_day() {
        assert_eq!(clock(TUE, 120), "16:05");
        assert_eq!(clock(TUE, -15 * 60), "23:05");
        assert_eq!(local(TUE, -15 * 60).day, 16);
        assert_eq!(local(TUE, 10 * 60).day, 18);
    }

    #[test]
    fn relative_time_grows_coarser_with_age() {
        assert_eq!(relative(TUE, TUE + 20_000, utc), "now");
        assert_eq!(relative(TUE, TUE + 12 * MINUTE, utc), "12 min");
        assert_eq!(relative(TUE, TUE + 3 * HOUR, utc), "14:05");
        assert_eq!(relative(TUE, TUE + DAY, utc), "Yesterday");
        assert_eq!(relative(TUE, TUE + 3 * DAY, utc), "Tue");
        assert_eq!(relative(TUE, TUE + 30 * DAY, utc), "17 Nov");
        assert_eq!(relative(TUE, TUE + 400 * DAY, utc), "17 Nov 2026");
    }

    #[test]
    fn relative_time_uses_local_days() {
        // 14:05 UTC is already the next day at UTC+10; one hour later it is still that day there.
        assert_eq!(relative(TUE, TUE + 2 * HOUR, |_| 600), "00:05");
        // 23:30 local yesterday → "Yesterday" although less than a day ago.
        let late = TUE + 9 * HOUR + 25 * MINUTE; // 23:30 UTC
        assert_eq!(relative(late, late + 2 * HOUR, utc), "Yesterday");
    }

    #[test]
    fn day_labels_name_today_yesterday_and_dates() {
        assert_eq!(day_label(TUE, TUE + HOUR, utc), "Today");
        assert_eq!(day_label(TUE, TUE + DAY, utc), "Yesterday");
        assert_eq!(day_label(TUE, TUE + 5 * DAY, utc), "Tuesday 17 November");
        assert_eq!(day_label(TUE, TUE + 365 * DAY, utc), "17 November 2026");
        assert_eq!(full(TUE, 0), "Tuesday 17 November 2026, 14:05");
    }

    #[test]
    fn time_left_is_coarse() {
        assert_eq!(time_left(-5), "less than a minute");
        assert_eq!(time_left(59_000), "less than a minute");
        assert_eq!(time_left(12 * MINUTE + 59_000), "12 min");
        assert_eq!(time_left(3 * HOUR + 12 * MINUTE), "3 h 12 min");
        assert_eq!(time_left(5 * HOUR), "5 h");
        assert_eq!(time_left(DAY + 4 * HOUR + 30 * MINUTE), "1 day 4 h");
        assert_eq!(time_left(DAY), "1 day");
        assert_eq!(time_left(6 * DAY + 23 * HOUR), "6 days");
    }

    #[test]
    fn file_sizes_read_like_a_file_manager() {
        assert_eq!(file_size(0), "0 bytes");
        assert_eq!(file_size(999), "999 bytes");
        assert_eq!(file_size(48_200), "48 KB");
        assert_eq!(file_size(999_400), "999 KB");
        assert_eq!(file_size(999_600), "1.0 MB");
        assert_eq!(file_size(1_440_000), "1.4 MB");
        assert_eq!(file_size(16_000_000), "16.0 MB");
    }

    #[test]
    fn snooze_times_are_local_mornings() {
        let utc = |_| 0;
        // TUE is Tuesday 17 November 2026, 14:05 UTC.
        assert_eq!(full(local_hour(TUE, 1, 9, utc), 0), "Wednesday 18 November 2026, 09:00");
        assert_eq!(full(next_monday(TUE, 9, utc), 0), "Monday 23 November 2026, 09:00");
        // In UTC+2, 09:00 local is 07:00 UTC.
        let plus2 = |_| 120;
        assert_eq!(full(local_hour(TUE, 1, 9, plus2), 0), "Wednesday 18 November 2026, 07:00");
        // A Monday snoozes to the Monday after.
        assert_eq!(full(next_monday(TUE - DAY, 9, utc), 0), "Monday 23 November 2026, 09:00");
    }
}
