//! The analytics figures, computed from the rows the store returns ([`crate::store::analytics`])
//! with no I/O, so every rule is unit-tested on fixed inputs. docs/ANALYTICS.md has the rules in
//! words.
//!
//! - A period is whole days in the caller's UTC offset; an event counts in the period if its
//!   instant falls in `[start_ms, end_ms)`.
//! - A conversation is *started* on the day of its first message, on that message's channel.
//! - A *wait* starts with a customer message when the customer is not already waiting: their first
//!   message, or their first after an advisor's reply. It ends at the next advisor reply (private
//!   notes, bots and system lines don't end it). Waits count in the period their start falls in;
//!   those with no reply yet are counted apart, never as zero.
//! - *Resolution time*: first message → `resolved_at`, for conversations resolved in the period
//!   and still resolved (reopening a conversation clears its `resolved_at`).
//! - Percentiles are nearest-rank: the p-th percentile of n sorted values is the value at rank
//!   ⌈p·n/100⌉ (1-based). The median is p50, so of an even count it is the lower middle value.

use std::collections::{BTreeMap, BTreeSet};

use shared::analytics::{AdvisorFigures, AnalyticsReport, Backlog, DayCount, Durations};
use shared::time::{civil_from_days, DAY_MS};
use shared::Channel;

use crate::store::analytics::{AnalyticsRows, MessageRow, Speaker};

/// The longest period a report covers.
pub const MAX_DAYS: i64 = 366;
/// The period when the caller names none: the last 7 days, today included.
pub const DEFAULT_DAYS: i64 = 7;
/// UTC offsets in use on Earth run from −12:00 to +14:00.
pub const MAX_OFFSET_MIN: i32 = 14 * 60;

/// Why a period was refused: each message says what to send instead.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PeriodError {
    #[error("`{field}` must be a date written YYYY-MM-DD, not {value:?}")]
    BadDate { field: &'static str, value: String },
    #[error("`from` ({from}) is after `to` ({to})")]
    Reversed { from: String, to: String },
    #[error("the period has {days} days; at most {MAX_DAYS} are allowed")]
    TooLong { days: i64 },
    #[error("`tz_offset_min` must be minutes east of UTC between -{MAX_OFFSET_MIN} and {MAX_OFFSET_MIN}, not {0}")]
    BadOffset(i32),
}

/// Whole days `first_day..=last_day` (day numbers since 1970-01-01) in a UTC offset.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Period {
    pub first_day: i64,
    pub last_day: i64,
    /// Minutes east of UTC.
    pub tz_offset_min: i32,
}

impl Period {
    /// The period a request asks for; `to` defaults to today (in the offset) and `from` to six
    /// days before `to`.
    pub fn parse(from: Option<&str>, to: Option<&str>, tz_offset_min: Option<i32>, now: i64) -> Result<Period, PeriodError> {
        let tz_offset_min = tz_offset_min.unwrap_or(0);
        if tz_offset_min.abs() > MAX_OFFSET_MIN {
            return Err(PeriodError::BadOffset(tz_offset_min));
        }
        let today = (now + i64::from(tz_offset_min) * 60_000).div_euclid(DAY_MS);
        let last_day = match to {
            Some(s) => parse_date(s).ok_or_else(|| PeriodError::BadDate { field: "to", value: s.to_owned() })?,
            None => today,
        };
        let first_day = match from {
            Some(s) => parse_date(s).ok_or_else(|| PeriodError::BadDate { field: "from", value: s.to_owned() })?,
            None => last_day - (DEFAULT_DAYS - 1),
        };
        if first_day > last_day {
            return Err(PeriodError::Reversed { from: format_date(first_day), to: format_date(last_day) });
        }
        let days = last_day - first_day + 1;
        if days > MAX_DAYS {
            return Err(PeriodError::TooLong { days });
        }
        Ok(Period { first_day, last_day, tz_offset_min })
    }

    fn offset_ms(&self) -> i64 {
        i64::from(self.tz_offset_min) * 60_000
    }

    /// The first instant of the period (ms since the epoch).
    pub fn start_ms(&self) -> i64 {
        self.first_day * DAY_MS - self.offset_ms()
    }

    /// The first instant after the period.
    pub fn end_ms(&self) -> i64 {
        (self.last_day + 1) * DAY_MS - self.offset_ms()
    }

    pub fn contains(&self, at: i64) -> bool {
        (self.start_ms()..self.end_ms()).contains(&at)
    }

    /// The local day number of an instant.
    pub fn day_of(&self, at: i64) -> i64 {
        (at + self.offset_ms()).div_euclid(DAY_MS)
    }
}

/// `YYYY-MM-DD` → day number, for real calendar dates only.
pub fn parse_date(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    let digits = |r: std::ops::Range<usize>| -> Option<i64> {
        s.get(r).filter(|p| p.bytes().all(|c| c.is_ascii_digit()))?.parse().ok()
    };
    let (y, m, d) = (digits(0..4)?, digits(5..7)?, digits(8..10)?);
    if !(1..=12).contains(&m) || d < 1 {
        return None;
    }
    let day = days_from_civil(y, m, d);
    // Round-tripping rejects 2026-02-30 and the like.
    (civil_from_days(day) == (y, m as u32, d as u32)).then_some(day)
}

pub fn format_date(day: i64) -> String {
    let (y, m, d) = civil_from_days(day);
    format!("{y:04}-{m:02}-{d:02}")
}

/// Day number of a proleptic Gregorian date (Howard Hinnant's `days_from_civil`).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = if m > 2 { m - 3 } else { m + 9 };
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The nearest-rank `p`-th percentile (0 < p ≤ 100) of sorted values.
pub fn percentile(sorted: &[i64], p: usize) -> Option<i64> {
    if sorted.is_empty() {
        return None;
    }
    let rank = (p * sorted.len()).div_ceil(100).max(1);
    sorted.get(rank - 1).copied()
}

fn durations(mut values: Vec<i64>) -> Durations {
    values.sort_unstable();
    Durations {
        count: values.len() as u32,
        median_ms: percentile(&values, 50),
        p90_ms: percentile(&values, 90),
        unanswered: None,
    }
}

/// A wait that started in the period and was answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Answered {
    by: i64,
    took_ms: i64,
}

#[derive(Debug, Default)]
struct Waits {
    answered: Vec<Answered>,
    unanswered: u32,
}

/// The waits of every conversation (`messages` grouped by conversation, each in seq order).
fn waits(messages: &[MessageRow], period: &Period) -> Waits {
    let mut out = Waits::default();
    let mut conversation = None;
    let mut waiting_since: Option<i64> = None;
    let close = |waiting_since: Option<i64>, out: &mut Waits| {
        if waiting_since.is_some_and(|start| period.contains(start)) {
            out.unanswered += 1;
        }
    };
    for m in messages {
        if conversation != Some(m.conversation) {
            close(waiting_since.take(), &mut out);
            conversation = Some(m.conversation);
        }
        if m.note {
            continue;
        }
        match m.speaker {
            Speaker::Customer => {
                waiting_since.get_or_insert(m.at);
            }
            Speaker::Advisor(by) => {
                if let Some(start) = waiting_since.take().filter(|start| period.contains(*start)) {
                    out.answered.push(Answered { by, took_ms: (m.at - start).max(0) });
                }
            }
            Speaker::Other => {}
        }
    }
    close(waiting_since, &mut out);
    out
}

#[derive(Default)]
struct AdvisorTally {
    replies: u32,
    conversations: BTreeSet<i64>,
    assigned: u32,
    open_assigned: u32,
    first_responses: Vec<i64>,
}

/// The report for `period`, as of `now`.
pub fn compute(rows: &AnalyticsRows, period: &Period, now: i64) -> AnalyticsReport {
    let mut days: Vec<DayCount> = (period.first_day..=period.last_day)
        .map(|day| DayCount { date: format_date(day), web: 0, whatsapp: 0, messenger: 0 })
        .collect();
    let mut resolutions = Vec::new();
    for c in &rows.conversations {
        if period.contains(c.first_message_at) {
            if let Some(day) = days.get_mut((period.day_of(c.first_message_at) - period.first_day) as usize) {
                match c.channel {
                    Channel::Whatsapp => day.whatsapp += 1,
                    Channel::Messenger => day.messenger += 1,
                    _ => day.web += 1,
                }
            }
        }
        if let Some(resolved) = c.resolved_at.filter(|at| period.contains(*at)) {
            resolutions.push((resolved - c.first_message_at).max(0));
        }
    }

    let mut advisors: BTreeMap<i64, AdvisorTally> = BTreeMap::new();
    for m in &rows.messages {
        if let (Speaker::Advisor(id), false, true) = (m.speaker, m.note, period.contains(m.at)) {
            let tally = advisors.entry(id).or_default();
            tally.replies += 1;
            tally.conversations.insert(m.conversation);
        }
    }
    let waits = waits(&rows.messages, period);
    for w in &waits.answered {
        advisors.entry(w.by).or_default().first_responses.push(w.took_ms);
    }
    for a in rows.assignments.iter().filter(|a| period.contains(a.at)) {
        advisors.entry(a.advisor).or_default().assigned += 1;
    }
    let mut backlog = Backlog::default();
    for group in &rows.open {
        backlog.open += group.count;
        match group.assignee {
            Some(id) => advisors.entry(id).or_default().open_assigned += group.count,
            None => backlog.unassigned += group.count,
        }
        if let Some(since) = group.oldest_waiting_since {
            backlog.oldest_waiting_since = Some(backlog.oldest_waiting_since.map_or(since, |o| o.min(since)));
        }
    }

    let names: BTreeMap<i64, &str> = rows.advisors.iter().map(|(id, name)| (*id, name.as_str())).collect();
    let mut advisors: Vec<AdvisorFigures> = advisors
        .into_iter()
        .map(|(id, t)| AdvisorFigures {
            id,
            name: names.get(&id).map_or_else(|| format!("Advisor #{id}"), |n| (*n).to_owned()),
            replies: t.replies,
            conversations_replied: t.conversations.len() as u32,
            assigned: t.assigned,
            open_assigned: t.open_assigned,
            first_response: durations(t.first_responses),
        })
        .collect();
    advisors.sort_by(|a, b| a.name.to_lowercase().cmp(&b.name.to_lowercase()).then(a.id.cmp(&b.id)));

    let mut first_response = durations(waits.answered.iter().map(|w| w.took_ms).collect());
    first_response.unanswered = Some(waits.unanswered);
    let mut csat = shared::analytics::Csat::default();
    for rating in &rows.ratings {
        csat.add(*rating);
    }
    AnalyticsReport {
        from: format_date(period.first_day),
        to: format_date(period.last_day),
        tz_offset_min: period.tz_offset_min,
        generated_at: now,
        days,
        first_response,
        resolution: durations(resolutions),
        backlog,
        advisors,
        csat,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::analytics::{AssignmentRow, ConversationRow, OpenGroup};

    const MIN: i64 = 60_000;
    /// 2026-11-16 00:00 UTC, a Monday.
    const MON: i64 = 20_773 * DAY_MS;

    fn week() -> Period {
        Period { first_day: 20_773, last_day: 20_779, tz_offset_min: 0 }
    }

    fn msg(conversation: i64, at: i64, speaker: Speaker) -> MessageRow {
        MessageRow { conversation, at, speaker, note: false }
    }

    fn conv(id: i64, channel: Channel, first_message_at: i64, resolved_at: Option<i64>) -> ConversationRow {
        ConversationRow { id, channel, first_message_at, resolved_at }
    }

    #[test]
    fn dates_parse_only_when_they_exist() {
        assert_eq!(parse_date("2026-11-16"), Some(20_773));
        assert_eq!(parse_date("1970-01-01"), Some(0));
        assert_eq!(parse_date("2024-02-29"), Some(19_782));
        assert_eq!(parse_date("2026-02-29"), None);
        assert_eq!(parse_date("2026-13-01"), None);
        assert_eq!(parse_date("2026-1-01"), None);
        assert_eq!(parse_date("2026-11-16T00"), None);
        assert_eq!(parse_date("+026-11-16"), None);
        assert_eq!(format_date(20_773), "2026-11-16");
    }

    #[test]
    fn the_default_period_is_the_last_seven_days_in_the_callers_offset() {
        // 2026-11-22 23:30 UTC is already the 23rd at UTC+1.
        let now = 20_779 * DAY_MS + 23 * 60 * MIN + 30 * MIN;
        let p = Period::parse(None, None, None, now).unwrap();
        assert_eq!((p.first_day, p.last_day), (20_773, 20_779));
        let p = Period::parse(None, None, Some(60), now).unwrap();
        assert_eq!((p.first_day, p.last_day), (20_774, 20_780));
        assert_eq!(p.start_ms(), 20_774 * DAY_MS - 60 * MIN, "local midnight is 23:00 UTC the day before");
        assert_eq!(p.end_ms(), 20_781 * DAY_MS - 60 * MIN);
    }

    #[test]
    fn bad_periods_are_refused_with_a_reason() {
        let now = MON;
        assert!(matches!(Period::parse(Some("2026-11-31"), None, None, now), Err(PeriodError::BadDate { field: "from", .. })));
        assert!(matches!(Period::parse(None, Some("yesterday"), None, now), Err(PeriodError::BadDate { field: "to", .. })));
        assert!(matches!(Period::parse(Some("2026-11-20"), Some("2026-11-19"), None, now), Err(PeriodError::Reversed { .. })));
        assert_eq!(Period::parse(Some("2025-01-01"), Some("2026-01-02"), None, now), Err(PeriodError::TooLong { days: 367 }));
        assert!(Period::parse(Some("2025-01-01"), Some("2026-01-01"), None, now).is_ok(), "366 days is allowed");
        assert_eq!(Period::parse(None, None, Some(900), now), Err(PeriodError::BadOffset(900)));
    }

    #[test]
    fn percentiles_are_nearest_rank() {
        let ten: Vec<i64> = (1..=10).collect();
        assert_eq!(percentile(&ten, 50), Some(5));
        assert_eq!(percentile(&ten, 90), Some(9));
        assert_eq!(percentile(&[7], 90), Some(7));
        assert_eq!(percentile(&[1, 2, 3, 4], 50), Some(2), "the lower middle of an even count");
        assert_eq!(percentile(&[1, 2, 3, 4], 90), Some(4));
        assert_eq!(percentile(&[], 50), None);
        let hundred: Vec<i64> = (1..=100).collect();
        assert_eq!(percentile(&hundred, 90), Some(90));
    }

    #[test]
    fn conversations_count_on_the_local_day_of_their_first_message_by_channel() {
        let rows = AnalyticsRows {
            conversations: vec![
                conv(1, Channel::Web, MON + 10 * MIN, None),
                conv(2, Channel::Whatsapp, MON + 12 * 60 * MIN, None),
                conv(3, Channel::Messenger, MON + DAY_MS + MIN, None),
                // 23:30 UTC on Monday is Tuesday at UTC+1.
                conv(4, Channel::Web, MON + DAY_MS - 30 * MIN, None),
                // Before the period: not counted.
                conv(5, Channel::Web, MON - MIN, None),
            ],
            ..Default::default()
        };
        let report = compute(&rows, &week(), MON);
        assert_eq!(report.days.len(), 7);
        assert_eq!(report.days[0], DayCount { date: "2026-11-16".into(), web: 2, whatsapp: 1, messenger: 0 });
        assert_eq!(report.days[1], DayCount { date: "2026-11-17".into(), web: 0, whatsapp: 0, messenger: 1 });
        assert!(report.days[2..].iter().all(|d| d.total() == 0));

        let east = Period { tz_offset_min: 60, ..week() };
        let report = compute(&rows, &east, MON);
        // At UTC+1 the one at 23:59 UTC on Sunday is Monday 00:59, and the one at 23:30 UTC is Tuesday.
        assert_eq!((report.days[0].web, report.days[0].whatsapp), (2, 1));
        assert_eq!((report.days[1].web, report.days[1].messenger), (1, 1));
    }

    #[test]
    fn a_wait_starts_at_the_first_unanswered_customer_message_and_ends_at_the_next_reply() {
        let (ana, bo) = (Speaker::Advisor(1), Speaker::Advisor(2));
        let messages = vec![
            msg(1, MON, Speaker::Customer),
            msg(1, MON + MIN, Speaker::Customer), // still the same wait
            msg(1, MON + 2 * MIN, Speaker::Other), // a bot doesn't answer
            MessageRow { note: true, ..msg(1, MON + 3 * MIN, ana) }, // nor does a note
            msg(1, MON + 5 * MIN, ana),           // 5 min, answered by Ana
            msg(1, MON + 6 * MIN, bo),            // no wait open: just a reply
            msg(1, MON + 10 * MIN, Speaker::Customer),
            msg(1, MON + 11 * MIN, bo), // 1 min, Bo
            msg(1, MON + 20 * MIN, Speaker::Customer), // unanswered
            msg(2, MON + 30 * MIN, Speaker::Customer),
            msg(2, MON + 33 * MIN, ana), // 3 min, Ana
            msg(3, MON + 40 * MIN, Speaker::Customer), // unanswered, in another conversation
        ];
        let rows = AnalyticsRows { messages, advisors: vec![(1, "Ana".into()), (2, "Bo".into())], ..Default::default() };
        let report = compute(&rows, &week(), MON + DAY_MS);
        let frt = &report.first_response;
        assert_eq!((frt.count, frt.unanswered), (3, Some(2)));
        assert_eq!(frt.median_ms, Some(3 * MIN), "of 1, 3 and 5 minutes");
        assert_eq!(frt.p90_ms, Some(5 * MIN));

        let [a, b] = &report.advisors[..] else { panic!("two advisors: {:?}", report.advisors) };
        assert_eq!((a.name.as_str(), a.replies, a.conversations_replied), ("Ana", 2, 2), "the note is not a reply");
        assert_eq!((a.first_response.count, a.first_response.median_ms), (2, Some(3 * MIN)));
        assert_eq!((b.name.as_str(), b.replies, b.conversations_replied), ("Bo", 2, 1));
        assert_eq!(b.first_response.median_ms, Some(MIN));
    }

    #[test]
    fn waits_count_in_the_period_they_start_in() {
        let ana = Speaker::Advisor(1);
        let messages = vec![
            // Started the day before the period, answered in it: not this period's wait, but the reply counts.
            msg(1, MON - 10 * MIN, Speaker::Customer),
            msg(1, MON + 10 * MIN, ana),
            // Started on the last day, answered after the period: counted, with its real time.
            msg(2, MON + 7 * DAY_MS - MIN, Speaker::Customer),
            msg(2, MON + 7 * DAY_MS + 59 * MIN, ana),
        ];
        let rows = AnalyticsRows { messages, ..Default::default() };
        let report = compute(&rows, &week(), MON + 8 * DAY_MS);
        assert_eq!(report.first_response.count, 1);
        assert_eq!(report.first_response.median_ms, Some(60 * MIN));
        assert_eq!(report.first_response.unanswered, Some(0));
        assert_eq!(report.advisors[0].replies, 1, "the reply after the period is not counted");
        assert_eq!(report.advisors[0].name, "Advisor #1", "a name the store didn't give");
    }

    #[test]
    fn csat_sums_up_the_ratings_of_the_period() {
        let rows = AnalyticsRows { ratings: vec![5, 4, 2, 5], ..Default::default() };
        let c = compute(&rows, &week(), MON).csat;
        assert_eq!((c.count, c.sum, c.distribution, c.satisfied), (4, 16, [0, 1, 0, 1, 2], 3));
        assert_eq!((c.average_tenths(), c.satisfied_percent()), (Some(40), Some(75)));
    }

    #[test]
    fn resolution_time_runs_from_the_first_message_for_conversations_resolved_in_the_period() {
        let rows = AnalyticsRows {
            conversations: vec![
                conv(1, Channel::Web, MON, Some(MON + 30 * MIN)),
                conv(2, Channel::Web, MON - DAY_MS, Some(MON + 60 * MIN)), // started before, resolved in
                conv(3, Channel::Web, MON, Some(MON + 8 * DAY_MS)),        // resolved after the period
                conv(4, Channel::Web, MON, None),                           // open
            ],
            ..Default::default()
        };
        let r = compute(&rows, &week(), MON + 9 * DAY_MS).resolution;
        assert_eq!((r.count, r.median_ms, r.p90_ms, r.unanswered), (2, Some(30 * MIN), Some(25 * 60 * MIN), None));
    }

    #[test]
    fn backlog_and_load_come_from_open_groups_and_assignments() {
        let rows = AnalyticsRows {
            open: vec![
                OpenGroup { assignee: None, count: 3, oldest_waiting_since: Some(MON + 50 * MIN) },
                OpenGroup { assignee: Some(1), count: 2, oldest_waiting_since: Some(MON + 20 * MIN) },
                OpenGroup { assignee: Some(2), count: 1, oldest_waiting_since: None },
            ],
            assignments: vec![
                AssignmentRow { advisor: 1, at: MON + MIN },
                AssignmentRow { advisor: 1, at: MON + 2 * MIN },
                AssignmentRow { advisor: 2, at: MON - MIN }, // before the period
            ],
            advisors: vec![(1, "zoé".into()), (2, "Ana".into())],
            ..Default::default()
        };
        let report = compute(&rows, &week(), MON + DAY_MS);
        assert_eq!(report.backlog, Backlog { open: 6, unassigned: 3, oldest_waiting_since: Some(MON + 20 * MIN) });
        let figures: Vec<(&str, u32, u32)> =
            report.advisors.iter().map(|a| (a.name.as_str(), a.assigned, a.open_assigned)).collect();
        assert_eq!(figures, [("Ana", 0, 1), ("zoé", 2, 2)], "by name, case aside");
        assert_eq!(report.advisors[0].first_response, Durations::default());
    }

    #[test]
    fn an_empty_store_gives_zeros_and_no_medians() {
        let report = compute(&AnalyticsRows::default(), &week(), MON);
        assert_eq!(report.from, "2026-11-16");
        assert_eq!(report.to, "2026-11-22");
        assert!(report.days.iter().all(|d| d.total() == 0));
        assert_eq!(report.first_response, Durations { unanswered: Some(0), ..Durations::default() });
        assert_eq!(report.resolution, Durations::default());
        assert!(report.advisors.is_empty());
    }
}
