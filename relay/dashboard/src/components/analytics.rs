//! The analytics page (`/dashboard#analytics`): the figures of `GET /api/v1/analytics` for the last
//! 7, 30 or 90 days, as number tiles and two charts drawn here as SVG (no chart library, no
//! external service). The geometry is plain functions, tested natively.

use leptos::prelude::*;
use leptos::task::spawn_local;
use shared::analytics::{AdvisorFigures, AnalyticsReport, DayCount};
use shared::time::{civil_from_days, month_name};

use crate::api::{self, ApiError};
use crate::format::{tz_offset, DAY, HOUR, MINUTE};
use crate::{now_ms, Auth, PRODUCT};

/// The periods the picker offers, in days (today included).
pub const PERIODS: [i64; 3] = [7, 30, 90];

/// The channels of the stacked bars, bottom to top: (key, label).
const CHANNELS: [(&str, &str); 3] = [("web", "Web chat"), ("whatsapp", "WhatsApp"), ("messenger", "Messenger")];

// The per-day chart's frame (SVG user units; the SVG scales to the page's width).
const W: f64 = 760.0;
const H: f64 = 260.0;
const LEFT: f64 = 48.0;
const RIGHT: f64 = 12.0;
const TOP: f64 = 14.0;
const BOTTOM: f64 = 48.0;

#[component]
pub fn Analytics() -> impl IntoView {
    let auth = expect_context::<RwSignal<Auth>>();
    let days = RwSignal::new(PERIODS[0]);
    let report = RwSignal::new(None::<Result<AnalyticsReport, String>>);
    // Only the answer to the latest pick is shown, whatever order the answers come in.
    let latest = StoredValue::new(0u32);
    document().set_title(&format!("Analytics · {PRODUCT}"));
    on_cleanup(|| document().set_title(PRODUCT));

    Effect::new(move |_| {
        let n = days.get();
        latest.update_value(|l| *l += 1);
        let mine = latest.get_value();
        report.set(None);
        spawn_local(async move {
            let now = now_ms();
            let tz = tz_offset(now);
            let today = (now + i64::from(tz) * MINUTE).div_euclid(DAY);
            let result = api::analytics(&iso_date(today - (n - 1)), &iso_date(today), tz).await;
            if latest.try_get_value() != Some(mine) {
                return;
            }
            match result {
                Ok(r) => report.set(Some(Ok(r))),
                Err(ApiError::Unauthorized(_)) => {
                    auth.set(Auth::LoggedOut(Some("Your session has ended. Please log in again.".into())))
                }
                Err(e) => report.set(Some(Err(e.message()))),
            }
        });
    });

    view! {
        <div class="analytics-page">
            <header class="analytics-head">
                <a class="back-link" href="#">"← Inbox"</a>
                <h1 class="analytics-title">"Analytics"</h1>
                <div class="period-picker" role="group" aria-label="Period">
                    {PERIODS
                        .into_iter()
                        .map(|n| {
                            view! {
                                <button
                                    type="button"
                                    class="period"
                                    data-days=n
                                    class:active=move || days.get() == n
                                    aria-pressed=move || (days.get() == n).to_string()
                                    on:click=move |_| days.set(n)
                                >
                                    {format!("Last {n} days")}
                                </button>
                            }
                        })
                        .collect_view()}
                </div>
            </header>
            {move || match report.get() {
                None => view! { <p class="analytics-loading" aria-busy="true">"Loading…"</p> }.into_any(),
                Some(Err(message)) => view! { <p class="notice" role="alert">{message}</p> }.into_any(),
                Some(Ok(r)) => view! { <Report r /> }.into_any(),
            }}
        </div>
    }
}

#[component]
fn Report(r: AnalyticsReport) -> impl IntoView {
    let total: u32 = r.days.iter().map(DayCount::total).sum();
    let frt = r.first_response.clone();
    let unanswered = frt.unanswered.unwrap_or(0);
    let oldest = r
        .backlog
        .oldest_waiting_since
        .map(|since| format!("oldest waiting {}", duration(r.generated_at - since)))
        .unwrap_or_else(|| "nobody waiting".into());
    let period = format!("{} – {}", short_date(&r.from), short_date(&r.to));
    view! {
        <p class="analytics-period">{period}</p>
        <section class="tiles" aria-label="Key figures">
            <Tile metric="conversations" label="Conversations started" value=total.to_string()
                sub="in the period".to_string() />
            <Tile metric="frt-median" label="First response · median" value=opt_duration(frt.median_ms)
                sub=format!("{} answered, {} unanswered", frt.count, unanswered) />
            <Tile metric="frt-p90" label="First response · 90th pct" value=opt_duration(frt.p90_ms)
                sub="9 in 10 answered within".to_string() />
            <Tile metric="resolution-median" label="Resolution · median" value=opt_duration(r.resolution.median_ms)
                sub=format!("{} resolved", r.resolution.count) />
            <Tile metric="resolution-p90" label="Resolution · 90th pct" value=opt_duration(r.resolution.p90_ms)
                sub="first message to resolved".to_string() />
            <Tile metric="backlog" label="Open now" value=r.backlog.open.to_string()
                sub=format!("{} unassigned · {oldest}", r.backlog.unassigned) />
        </section>
        <section class="chart-card" aria-label="Conversations per day">
            <h2>"Conversations started per day, by channel"</h2>
            <DayChart days=r.days.clone() />
        </section>
        <section class="chart-card" aria-label="Advisors">
            <h2>"Replies per advisor"</h2>
            <AdvisorChart advisors=r.advisors.clone() />
            <AdvisorTable advisors=r.advisors />
        </section>
    }
}

#[component]
fn Tile(metric: &'static str, label: &'static str, value: String, sub: String) -> impl IntoView {
    view! {
        <div class="tile" data-metric=metric>
            <span class="tile-label">{label}</span>
            <span class="tile-value">{value}</span>
            <span class="tile-sub">{sub}</span>
        </div>
    }
}

/// Stacked bars, one per day, a segment per channel; y: conversations, x: days.
#[component]
fn DayChart(days: Vec<DayCount>) -> impl IntoView {
    let max = days.iter().map(DayCount::total).max().unwrap_or(0);
    let (top, step) = scale(max);
    let plot_w = W - LEFT - RIGHT;
    let plot_h = H - TOP - BOTTOM;
    let base = TOP + plot_h;
    let slot = plot_w / days.len().max(1) as f64;
    let every = label_every(days.len(), 10);
    let y_of = move |v: u32| base - f64::from(v) / f64::from(top) * plot_h;
    let summary = format!(
        "Bar chart: conversations started per day, from {} to {}, {} in all",
        days.first().map(|d| d.date.as_str()).unwrap_or(""),
        days.last().map(|d| d.date.as_str()).unwrap_or(""),
        days.iter().map(DayCount::total).sum::<u32>()
    );

    let grid = (0..=top / step)
        .map(|i| {
            let v = i * step;
            let y = fmt(y_of(v));
            view! {
                <line class="grid" x1=fmt(LEFT) x2=fmt(W - RIGHT) y1=y.clone() y2=y.clone()></line>
                <text class="tick" x=fmt(LEFT - 6.0) y=fmt(y_of(v) + 4.0) text-anchor="end">{v.to_string()}</text>
            }
        })
        .collect_view();
    let bars = days
        .iter()
        .enumerate()
        .map(|(i, d)| {
            let x = LEFT + slot * i as f64 + slot * 0.15;
            let width = fmt((slot * 0.7).max(1.0));
            let mut below = 0;
            let segments = CHANNELS
                .iter()
                .map(|(key, _)| {
                    let n = channel_count(d, key);
                    let (y0, y1) = (y_of(below), y_of(below + n));
                    below += n;
                    (n > 0).then(|| {
                        view! {
                            <rect
                                class=format!("bar bar-{key}")
                                data-date=d.date.clone()
                                data-count=n
                                x=fmt(x)
                                y=fmt(y1)
                                width=width.clone()
                                height=fmt(y0 - y1)
                            ></rect>
                        }
                    })
                })
                .collect_view();
            // Counted from the end, so the last day (today) always has its label.
            let label = ((days.len() - 1 - i) % every == 0).then(|| {
                view! {
                    <text class="tick" x=fmt(x + slot * 0.35) y=fmt(base + 16.0) text-anchor="middle">
                        {short_date(&d.date)}
                    </text>
                }
            });
            view! { {segments} {label} }
        })
        .collect_view();

    view! {
        <svg class="chart day-chart" viewBox=format!("0 0 {W} {H}") role="img" aria-label=summary>
            {grid}
            {bars}
            <line class="axis" x1=fmt(LEFT) x2=fmt(W - RIGHT) y1=fmt(base) y2=fmt(base)></line>
            <line class="axis" x1=fmt(LEFT) x2=fmt(LEFT) y1=fmt(TOP) y2=fmt(base)></line>
            <text class="axis-title" x=fmt(LEFT + plot_w / 2.0) y=fmt(H - 6.0) text-anchor="middle">"Day"</text>
            <text
                class="axis-title"
                x="0"
                y="0"
                text-anchor="middle"
                transform=format!("translate(14 {}) rotate(-90)", fmt(TOP + plot_h / 2.0))
            >
                "Conversations"
            </text>
        </svg>
        <ul class="legend">
            {CHANNELS
                .iter()
                .map(|(key, label)| {
                    view! {
                        <li>
                            <span class=format!("swatch bar-{key}") aria-hidden="true"></span>
                            {*label}
                        </li>
                    }
                })
                .collect_view()}
        </ul>
    }
}

/// A horizontal bar per advisor: replies sent in the period.
#[component]
fn AdvisorChart(advisors: Vec<AdvisorFigures>) -> impl IntoView {
    if advisors.is_empty() {
        return view! { <p class="empty-hint">"No advisor activity in this period."</p> }.into_any();
    }
    const ROW: f64 = 30.0;
    const NAME_W: f64 = 150.0;
    const VALUE_W: f64 = 60.0;
    let max = advisors.iter().map(|a| a.replies).max().unwrap_or(0);
    let (top, step) = scale(max);
    let plot_w = W - NAME_W - VALUE_W;
    let height = TOP + ROW * advisors.len() as f64 + 40.0;
    let base = TOP + ROW * advisors.len() as f64;
    let x_of = move |v: u32| NAME_W + f64::from(v) / f64::from(top) * plot_w;
    let ticks = (0..=top / step)
        .map(|i| {
            let v = i * step;
            view! {
                <line class="grid" x1=fmt(x_of(v)) x2=fmt(x_of(v)) y1=fmt(TOP) y2=fmt(base)></line>
                <text class="tick" x=fmt(x_of(v)) y=fmt(base + 16.0) text-anchor="middle">{v.to_string()}</text>
            }
        })
        .collect_view();
    let rows = advisors
        .iter()
        .enumerate()
        .map(|(i, a)| {
            let y = TOP + ROW * i as f64;
            let end = x_of(a.replies);
            view! {
                <text class="bar-name" x=fmt(NAME_W - 8.0) y=fmt(y + ROW / 2.0 + 4.0) text-anchor="end">
                    {truncate(&a.name, 20)}
                </text>
                <rect
                    class="bar bar-advisor"
                    data-advisor=a.id
                    data-count=a.replies
                    x=fmt(NAME_W)
                    y=fmt(y + 6.0)
                    width=fmt((end - NAME_W).max(2.0))
                    height=fmt(ROW - 12.0)
                ></rect>
                <text class="bar-value" x=fmt(end.max(NAME_W + 2.0) + 6.0) y=fmt(y + ROW / 2.0 + 4.0)>
                    {a.replies.to_string()}
                </text>
            }
        })
        .collect_view();
    view! {
        <svg
            class="chart advisor-chart"
            viewBox=format!("0 0 {W} {}", fmt(height))
            role="img"
            aria-label=format!("Bar chart: replies sent per advisor, {} advisors", advisors.len())
        >
            {ticks}
            {rows}
            <line class="axis" x1=fmt(NAME_W) x2=fmt(NAME_W) y1=fmt(TOP) y2=fmt(base)></line>
            <text class="axis-title" x=fmt(NAME_W + plot_w / 2.0) y=fmt(height - 4.0) text-anchor="middle">
                "Replies sent"
            </text>
        </svg>
    }
    .into_any()
}

#[component]
fn AdvisorTable(advisors: Vec<AdvisorFigures>) -> impl IntoView {
    (!advisors.is_empty()).then(|| {
        view! {
            <table class="advisor-table">
                <thead>
                    <tr>
                        <th scope="col">"Advisor"</th>
                        <th scope="col">"Replies"</th>
                        <th scope="col">"Conversations replied in"</th>
                        <th scope="col">"Assigned in period"</th>
                        <th scope="col">"Open now"</th>
                        <th scope="col">"First response · median"</th>
                    </tr>
                </thead>
                <tbody>
                    {advisors
                        .into_iter()
                        .map(|a| {
                            view! {
                                <tr data-advisor=a.id>
                                    <th scope="row">{a.name}</th>
                                    <td>{a.replies}</td>
                                    <td>{a.conversations_replied}</td>
                                    <td>{a.assigned}</td>
                                    <td>{a.open_assigned}</td>
                                    <td>{opt_duration(a.first_response.median_ms)}</td>
                                </tr>
                            }
                        })
                        .collect_view()}
                </tbody>
            </table>
        }
    })
}

fn channel_count(d: &DayCount, key: &str) -> u32 {
    match key {
        "whatsapp" => d.whatsapp,
        "messenger" => d.messenger,
        _ => d.web,
    }
}

/// An axis for values up to `max`: its top and tick step (1, 2 or 5 × 10ⁿ), at most 5 steps, the
/// top never below 1 so an empty chart still has an axis.
pub fn scale(max: u32) -> (u32, u32) {
    let mut magnitude = 1u32;
    loop {
        for m in [1, 2, 5] {
            let step = m * magnitude;
            if max.div_ceil(step) <= 5 {
                return ((max.div_ceil(step)).max(1) * step, step);
            }
        }
        magnitude = magnitude.saturating_mul(10);
    }
}

/// Label every n-th of `count` bars so at most about `most` labels show.
pub fn label_every(count: usize, most: usize) -> usize {
    count.div_ceil(most.max(1)).max(1)
}

/// A duration at a glance: "42 s", "12 min", "3 h 5 min", "2 d 4 h".
pub fn duration(ms: i64) -> String {
    let ms = ms.max(0);
    if ms < MINUTE {
        return format!("{} s", ms / 1000);
    }
    if ms < HOUR {
        return format!("{} min", ms / MINUTE);
    }
    if ms < DAY {
        let (h, m) = (ms / HOUR, (ms % HOUR) / MINUTE);
        return if m == 0 { format!("{h} h") } else { format!("{h} h {m} min") };
    }
    let (d, h) = (ms / DAY, (ms % DAY) / HOUR);
    if h == 0 {
        format!("{d} d")
    } else {
        format!("{d} d {h} h")
    }
}

fn opt_duration(ms: Option<i64>) -> String {
    ms.map_or_else(|| "—".into(), duration)
}

/// "2026-11-16" → "16 Nov".
pub fn short_date(iso: &str) -> String {
    let month: Option<u32> = iso.get(5..7).and_then(|m| m.parse().ok());
    let day: Option<u32> = iso.get(8..10).and_then(|d| d.parse().ok());
    match (month, day) {
        (Some(m), Some(d)) => format!("{d} {}", month_name(m).get(..3).unwrap_or("")),
        _ => iso.to_owned(),
    }
}

fn iso_date(day: i64) -> String {
    let (y, m, d) = civil_from_days(day);
    format!("{y:04}-{m:02}-{d:02}")
}

fn truncate(s: &str, chars: usize) -> String {
    if s.chars().count() <= chars {
        s.to_owned()
    } else {
        format!("{}…", s.chars().take(chars - 1).collect::<String>())
    }
}

/// SVG coordinates with one decimal: short attributes, no float noise.
fn fmt(v: f64) -> String {
    let r = (v * 10.0).round() / 10.0;
    if r.fract() == 0.0 {
        format!("{}", r as i64)
    } else {
        format!("{r:.1}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn axes_end_on_a_round_number_in_at_most_five_steps() {
        assert_eq!(scale(0), (1, 1));
        assert_eq!(scale(3), (3, 1));
        assert_eq!(scale(5), (5, 1));
        assert_eq!(scale(7), (8, 2));
        assert_eq!(scale(23), (25, 5));
        assert_eq!(scale(48), (50, 10));
        assert_eq!(scale(130), (150, 50));
        assert_eq!(scale(999), (1000, 200));
    }

    #[test]
    fn day_labels_thin_out_on_long_periods() {
        assert_eq!(label_every(7, 10), 1);
        assert_eq!(label_every(30, 10), 3);
        assert_eq!(label_every(90, 10), 9);
        assert_eq!(label_every(0, 10), 1);
    }

    #[test]
    fn durations_read_at_a_glance() {
        assert_eq!(duration(4_200), "4 s");
        assert_eq!(duration(12 * MINUTE + 5_000), "12 min");
        assert_eq!(duration(3 * HOUR), "3 h");
        assert_eq!(duration(3 * HOUR + 5 * MINUTE), "3 h 5 min");
        assert_eq!(duration(2 * DAY + 4 * HOUR), "2 d 4 h");
        assert_eq!(opt_duration(None), "—");
    }

    #[test]
    fn dates_are_short_and_coordinates_tidy() {
        assert_eq!(short_date("2026-11-16"), "16 Nov");
        assert_eq!(short_date("bad"), "bad");
        assert_eq!(iso_date(20_773), "2026-11-16");
        assert_eq!(fmt(12.0), "12");
        assert_eq!(fmt(12.345), "12.3");
        assert_eq!(truncate("Alexandra Konstantinopoulou", 10), "Alexandra…");
    }
}
