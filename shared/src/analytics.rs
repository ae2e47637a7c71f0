//! The analytics report: what `GET /api/v1/analytics` answers and the dashboard's analytics page
//! draws (docs/ANALYTICS.md describes every field). Times are milliseconds; durations too.
//! Fields the dashboard doesn't know yet are ignored, so the relay may add some.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AnalyticsReport {
    /// First day of the period (`YYYY-MM-DD`, in the caller's UTC offset), included.
    pub from: String,
    /// Last day of the period, included.
    pub to: String,
    /// Minutes east of UTC the days are counted in (120 for UTC+2).
    pub tz_offset_min: i32,
    /// When the report was made (the backlog is "now").
    pub generated_at: i64,
    /// One entry per day of the period, oldest first, days without conversations included.
    pub days: Vec<DayCount>,
    pub first_response: Durations,
    pub resolution: Durations,
    pub backlog: Backlog,
    /// Advisors with anything to show in the period or now, by name.
    pub advisors: Vec<AdvisorFigures>,
    /// Satisfaction survey ratings given in the period.
    #[serde(default)]
    pub csat: Csat,
}

/// Customer satisfaction: the ratings (1–5) customers gave after a resolution. Integers, so a
/// client computes the average (`sum / count`) and the share of 4s and 5s (`satisfied / count`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Csat {
    pub count: u32,
    /// The ratings added up.
    pub sum: u32,
    /// How many 1s, 2s, 3s, 4s and 5s.
    pub distribution: [u32; 5],
    /// Ratings of 4 or 5.
    pub satisfied: u32,
}

impl Csat {
    pub fn add(&mut self, rating: u8) {
        if (1..=5).contains(&rating) {
            self.count += 1;
            self.sum += u32::from(rating);
            self.distribution[usize::from(rating) - 1] += 1;
            if rating >= 4 {
                self.satisfied += 1;
            }
        }
    }

    /// The average rating in tenths (43 for 4.3), rounded; None without ratings.
    pub fn average_tenths(&self) -> Option<u32> {
        (self.count > 0).then(|| (self.sum * 10 + self.count / 2) / self.count)
    }

    /// The share of 4s and 5s in whole percent, rounded; None without ratings.
    pub fn satisfied_percent(&self) -> Option<u32> {
        (self.count > 0).then(|| (self.satisfied * 100 + self.count / 2) / self.count)
    }
}

/// Conversations started on one day, per channel of their first message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DayCount {
    pub date: String,
    pub web: u32,
    pub whatsapp: u32,
    pub messenger: u32,
}

impl DayCount {
    pub fn total(&self) -> u32 {
        self.web + self.whatsapp + self.messenger
    }
}

/// A set of measured durations: how many, and their median and 90th percentile (nearest rank;
/// `None` when there are none).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Durations {
    pub count: u32,
    pub median_ms: Option<i64>,
    pub p90_ms: Option<i64>,
    /// First response only: waits that started in the period and have no reply yet (not in the
    /// median: an unanswered wait is not a zero).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unanswered: Option<u32>,
}

/// Open conversations now.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Backlog {
    pub open: u32,
    pub unassigned: u32,
    /// The oldest unanswered customer message among them (ms since the epoch).
    pub oldest_waiting_since: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AdvisorFigures {
    pub id: i64,
    pub name: String,
    /// Replies sent in the period (private notes not counted).
    pub replies: u32,
    /// Conversations they replied in during the period.
    pub conversations_replied: u32,
    /// Times a conversation was assigned to them in the period.
    pub assigned: u32,
    /// Open conversations assigned to them now.
    pub open_assigned: u32,
    /// The waits they answered first (from waits that started in the period).
    pub first_response: Durations,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_report_round_trips_with_the_documented_field_names() {
        let report = AnalyticsReport {
            from: "2026-11-16".into(),
            to: "2026-11-16".into(),
            tz_offset_min: -300,
            generated_at: 1,
            days: vec![DayCount { date: "2026-11-16".into(), web: 1, whatsapp: 2, messenger: 3 }],
            first_response: Durations { count: 1, median_ms: Some(5), p90_ms: Some(5), unanswered: Some(0) },
            resolution: Durations::default(),
            backlog: Backlog { open: 2, unassigned: 1, oldest_waiting_since: None },
            advisors: vec![AdvisorFigures {
                id: 4,
                name: "Ana".into(),
                replies: 1,
                conversations_replied: 1,
                assigned: 0,
                open_assigned: 1,
                first_response: Durations::default(),
            }],
            csat: Csat { count: 3, sum: 12, distribution: [0, 0, 1, 1, 1], satisfied: 2 },
        };
        let json = serde_json::to_value(&report).unwrap();
        assert_eq!(json["csat"], serde_json::json!({"count": 3, "sum": 12, "distribution": [0, 0, 1, 1, 1], "satisfied": 2}));
        assert_eq!(json["days"][0], serde_json::json!({"date": "2026-11-16", "web": 1, "whatsapp": 2, "messenger": 3}));
        assert_eq!(json["first_response"], serde_json::json!({"count": 1, "median_ms": 5, "p90_ms": 5, "unanswered": 0}));
        assert_eq!(json["resolution"], serde_json::json!({"count": 0, "median_ms": null, "p90_ms": null}), "no `unanswered` there");
        assert_eq!(json["backlog"], serde_json::json!({"open": 2, "unassigned": 1, "oldest_waiting_since": null}));
        assert_eq!(json["advisors"][0]["open_assigned"], 1);
        assert_eq!(serde_json::from_value::<AnalyticsReport>(json).unwrap(), report);
    }

    #[test]
    fn a_report_with_fields_this_client_does_not_know_still_reads() {
        let text = r#"{"from":"2026-11-16","to":"2026-11-16","tz_offset_min":0,"generated_at":0,"days":[],
            "first_response":{"count":0,"median_ms":null,"p90_ms":null,"unanswered":0,"p99_ms":null},
            "resolution":{"count":0,"median_ms":null,"p90_ms":null},"backlog":{"open":0,"unassigned":0,
            "oldest_waiting_since":null},"advisors":[],"labels":[]}"#;
        let report: AnalyticsReport = serde_json::from_str(text).unwrap();
        assert_eq!(report.first_response.unanswered, Some(0));
        assert_eq!(report.csat, Csat::default(), "a relay from before the survey");
    }

    #[test]
    fn csat_counts_averages_and_shares_the_ratings() {
        let mut c = Csat::default();
        assert_eq!((c.average_tenths(), c.satisfied_percent()), (None, None));
        for r in [5, 4, 4, 1, 0, 6] {
            c.add(r);
        }
        assert_eq!(c, Csat { count: 4, sum: 14, distribution: [1, 0, 0, 2, 1], satisfied: 3 });
        assert_eq!(c.average_tenths(), Some(35));
        assert_eq!(c.satisfied_percent(), Some(75));
    }
}
