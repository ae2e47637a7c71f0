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

// The per-day chart's frame (SVG user units; the SVG scales to the page's width). Integers all
// through: whole units are sharp enough, and formatting floats would pull Rust's float printing
// into the wasm.
const W: i64 = 760;
const H: i64 = 260;
const LEFT: i64 = 48;
// Room for the last day's label, centred under its bar.
const RIGHT: i64 = 28;
const TOP: i64 = 14;
const BOTTOM: i64 = 48;

#[component]
pub fn Analytics() -> impl IntoView {
    let auth = expect_context::<RwSignal<Auth>>();
    let days = RwSignal::new(PERIODS[0]);
    let answer = RwSignal::new(None::<Result<AnalyticsReport, String>>);
    // Only the answer to the latest pick is shown, whatever order the answers come in.
    let latest = StoredValue::new(0u32);
    document().set_title(&format!("Analytics · {PRODUCT}"));
    on_cleanup(|| document().set_title(PRODUCT));

    Effect::new(move |_| {
        let n = days.get();
        latest.update_value(|l| *l += 1);
        let mine = latest.get_value();
        answer.set(None);
        spawn_local(async move {
            let now = now_ms();
            let tz = tz_offset(now);
            let today = (now + i64::from(tz) * MINUTE).div_euclid(DAY);
            let result = api::analytics(&iso_date(today - (n - 1)), &iso_date(today), tz).await;
            if latest.try_get_value() != Some(mine) {
                return;
            }
            match result {
                Ok(r) => answer.set(Some(Ok(r))),
                Err(ApiError::Unauthorized(_)) => {
                    auth.set(Auth::LoggedOut(Some("Your session has ended. Please log in again.".into())))
                }
                Err(e) => answer.set(Some(Err(e.message()))),
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
            {move || match answer.get() {
                None => view! { <p class="analytics-loading" aria-busy="true">"Loading…"</p> }.into_any(),
                Some(Err(message)) => view! { <p class="notice" role="alert">{message}</p> }.into_any(),
                Some(Ok(r)) => view! { <Built shape=report(&r) /> }.into_any(),
            }}
        </div>
    }
}

/// The page below the picker: tiles, the two charts, the advisor table. Static once drawn, so it
/// is built as one tree ([`Shape`]) rather than reactive views.
pub fn report(r: &AnalyticsReport) -> Shape {
    let total: u32 = r.days.iter().map(DayCount::total).sum();
    let frt = &r.first_response;
    let oldest = r
        .backlog
        .oldest_waiting_since
        .map(|since| format!("oldest waiting {}", duration(r.generated_at - since)))
        .unwrap_or_else(|| "nobody waiting".into());
    let tiles = [
        ("conversations", "Conversations started", total.to_string(), "in the period".to_owned()),
        (
            "frt-median",
            "First response · median",
            opt_duration(frt.median_ms),
            format!("{} answered, {} unanswered", frt.count, frt.unanswered.unwrap_or(0)),
        ),
        ("frt-p90", "First response · 90th pct", opt_duration(frt.p90_ms), "9 in 10 answered within".to_owned()),
        (
            "resolution-median",
            "Resolution · median",
            opt_duration(r.resolution.median_ms),
            format!("{} resolved", r.resolution.count),
        ),
        ("resolution-p90", "Resolution · 90th pct", opt_duration(r.resolution.p90_ms), "first message to resolved".to_owned()),
        ("backlog", "Open now", r.backlog.open.to_string(), format!("{} unassigned · {oldest}", r.backlog.unassigned)),
        ("csat", "Satisfaction · rated 4–5", csat_share(&r.csat), csat_detail(&r.csat)),
    ];
    let tiles = tiles.into_iter().map(|(metric, label, value, sub)| {
        el("div", "tile").attr("data-metric", metric).children([
            el("span", "tile-label").text(label),
            el("span", "tile-value").text(value),
            el("span", "tile-sub").text(sub),
        ])
    });
    let legend = CHANNELS.iter().map(|(key, label)| {
        el("li", "").children([el("span", &format!("swatch bar-{key}")).attr("aria-hidden", "true")]).text_after(*label)
    });
    let advisors = if r.advisors.is_empty() {
        el("p", "empty-hint").text("No advisor activity in this period.")
    } else {
        el("div", "").children([advisor_chart(&r.advisors), advisor_table(&r.advisors)])
    };
    el("div", "report").children([
        el("p", "analytics-period").text(format!("{} – {}", short_date(&r.from), short_date(&r.to))),
        el("section", "tiles").attr("aria-label", "Key figures").children(tiles),
        el("section", "chart-card").attr("aria-label", "Conversations per day").children([
            el("h2", "").text("Conversations started per day, by channel"),
            day_chart(&r.days),
            el("ul", "legend").children(legend),
        ]),
        el("section", "chart-card")
            .attr("aria-label", "Advisors")
            .children([el("h2", "").text("Replies per advisor"), advisors]),
    ])
}

/// The share of ratings of 4 or 5, or a dash without ratings.
fn csat_share(c: &shared::analytics::Csat) -> String {
    c.satisfied_percent().map_or_else(|| "—".to_owned(), |p| format!("{p} %"))
}

/// "4 ratings · average 3.5 · 1★ 1 · 2★ 0 · 3★ 0 · 4★ 2 · 5★ 1".
fn csat_detail(c: &shared::analytics::Csat) -> String {
    let Some(avg) = c.average_tenths() else { return "no ratings yet".to_owned() };
    let spread: Vec<String> = c.distribution.iter().enumerate().map(|(i, n)| format!("{}★ {n}", i + 1)).collect();
    let plural = if c.count == 1 { "" } else { "s" };
    format!("{} rating{plural} · average {}.{} · {}", c.count, avg / 10, avg % 10, spread.join(" · "))
}

fn advisor_table(advisors: &[AdvisorFigures]) -> Shape {
    let head = [
        "Advisor",
        "Replies",
        "Conversations replied in",
        "Assigned in period",
        "Open now",
        "First response · median",
    ]
    .map(|h| el("th", "").attr("scope", "col").text(h));
    let rows = advisors.iter().map(|a| {
        let cells = [
            a.replies.to_string(),
            a.conversations_replied.to_string(),
            a.assigned.to_string(),
            a.open_assigned.to_string(),
            opt_duration(a.first_response.median_ms),
        ];
        el("tr", "")
            .attr("data-advisor", &a.id.to_string())
            .children([el("th", "").attr("scope", "row").text(a.name.clone())])
            .children(cells.map(|c| el("td", "").text(c)))
    });
    el("table", "advisor-table").children([
        el("thead", "").children([el("tr", "").children(head)]),
        el("tbody", "").children(rows),
    ])
}

/// An element to build: the report is a pure function returning these (tested natively), put
/// into the page once by [`Built`]. One small builder instead of a `view!` per element keeps the
/// dashboard's wasm lean. Text is always set as text nodes, never parsed as markup.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Shape {
    pub tag: &'static str,
    pub attrs: Vec<(&'static str, String)>,
    /// Text before the children.
    pub text: Option<String>,
    pub children: Vec<Shape>,
    /// Text after the children (a legend's label after its swatch).
    pub tail: Option<String>,
}

/// An HTML element with a class (none when empty).
fn el(tag: &'static str, class: &str) -> Shape {
    let attrs = if class.is_empty() { Vec::new() } else { vec![("class", class.to_owned())] };
    Shape { tag, attrs, text: None, children: Vec::new(), tail: None }
}

impl Shape {
    fn new(tag: &'static str, attrs: &[(&'static str, &dyn ToString)]) -> Shape {
        Shape { attrs: attrs.iter().map(|(k, v)| (*k, v.to_string())).collect(), ..el(tag, "") }
    }

    fn attr(mut self, name: &'static str, value: &str) -> Shape {
        self.attrs.push((name, value.to_owned()));
        self
    }

    fn text(mut self, text: impl Into<String>) -> Shape {
        self.text = Some(text.into());
        self
    }

    fn text_after(mut self, text: impl Into<String>) -> Shape {
        self.tail = Some(text.into());
        self
    }

    fn children(mut self, children: impl IntoIterator<Item = Shape>) -> Shape {
        self.children.extend(children);
        self
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.attrs.iter().find(|(k, _)| *k == name).map(|(_, v)| v.as_str())
    }

    /// This shape and every shape inside it, depth first.
    pub fn walk(&self) -> Vec<&Shape> {
        let mut all = vec![self];
        for c in &self.children {
            all.extend(c.walk());
        }
        all
    }

    /// Every text in it, in document order.
    pub fn texts(&self) -> Vec<&str> {
        let mut all: Vec<&str> = self.text.as_deref().into_iter().collect();
        for c in &self.children {
            all.extend(c.texts());
        }
        all.extend(self.tail.as_deref());
        all
    }

    fn to_dom(&self, document: &web_sys::Document, in_svg: bool) -> Option<web_sys::Element> {
        let svg = in_svg || self.tag == "svg";
        let el = if svg {
            document.create_element_ns(Some("http://www.w3.org/2000/svg"), self.tag).ok()?
        } else {
            document.create_element(self.tag).ok()?
        };
        for (k, v) in &self.attrs {
            el.set_attribute(k, v).ok()?;
        }
        if let Some(text) = &self.text {
            el.set_text_content(Some(text));
        }
        for c in &self.children {
            let child = c.to_dom(document, svg)?;
            el.append_child(&child).ok()?;
        }
        if let Some(tail) = &self.tail {
            el.append_child(&document.create_text_node(tail)).ok()?;
        }
        Some(el)
    }
}

fn line(x1: i64, y1: i64, x2: i64, y2: i64, class: &str) -> Shape {
    Shape::new("line", &[("class", &class), ("x1", &x1), ("y1", &y1), ("x2", &x2), ("y2", &y2)])
}

fn label(x: i64, y: i64, class: &str, anchor: &str, text: impl Into<String>) -> Shape {
    Shape::new("text", &[("class", &class), ("x", &x), ("y", &y), ("text-anchor", &anchor)]).text(text)
}

/// Puts a built tree into the page.
#[component]
fn Built(shape: Shape) -> impl IntoView {
    let host: NodeRef<leptos::html::Div> = NodeRef::new();
    Effect::new(move |_| {
        if let Some(host) = host.get() {
            host.set_text_content(None);
            if let Some(el) = shape.to_dom(&document(), false) {
                let _ = host.append_child(&el);
            }
        }
    });
    view! { <div node_ref=host></div> }
}

/// Stacked bars, one per day, a segment per channel; y: conversations, x: days.
pub fn day_chart(days: &[DayCount]) -> Shape {
    let max = days.iter().map(DayCount::total).max().unwrap_or(0);
    let (top, step) = scale(max);
    let plot_w = W - LEFT - RIGHT;
    let plot_h = H - TOP - BOTTOM;
    let base = TOP + plot_h;
    let n = days.len().max(1) as i64;
    // Bar i takes the slot [x_at(i), x_at(i + 1)), 70 % of it filled.
    let x_at = |i: i64| LEFT + plot_w * i / n;
    let bar_w = (plot_w * 7 / (10 * n)).max(1);
    let every = label_every(days.len(), 10) as i64;
    let y_of = |v: u32| base - i64::from(v) * plot_h / i64::from(top);
    let summary = format!(
        "Bar chart: conversations started per day, from {} to {}, {} in all",
        days.first().map(|d| d.date.as_str()).unwrap_or(""),
        days.last().map(|d| d.date.as_str()).unwrap_or(""),
        days.iter().map(DayCount::total).sum::<u32>()
    );
    let mut svg = Shape::new(
        "svg",
        &[("class", &"chart day-chart"), ("viewBox", &format!("0 0 {W} {H}")), ("role", &"img"), ("aria-label", &summary)],
    );
    let shapes = &mut svg.children;
    for i in 0..=top / step {
        let (v, y) = (i * step, y_of(i * step));
        shapes.push(line(LEFT, y, W - RIGHT, y, "grid"));
        shapes.push(label(LEFT - 6, y + 4, "tick", "end", v.to_string()));
    }
    for (i, d) in days.iter().enumerate() {
        let i = i as i64;
        let (x0, x1) = (x_at(i), x_at(i + 1));
        let x = (x0 + x1 - bar_w) / 2;
        let mut below = 0;
        for (key, _) in CHANNELS {
            let count = channel_count(d, key);
            if count == 0 {
                continue;
            }
            let (y0, y1) = (y_of(below), y_of(below + count));
            below += count;
            shapes.push(Shape::new(
                "rect",
                &[
                    ("class", &format!("bar bar-{key}")),
                    ("data-date", &d.date),
                    ("data-count", &count),
                    ("x", &x),
                    ("y", &y1),
                    ("width", &bar_w),
                    ("height", &(y0 - y1)),
                ],
            ));
        }
        // Counted from the end, so the last day (today) always has its label.
        if (n - 1 - i) % every == 0 {
            shapes.push(label((x0 + x1) / 2, base + 16, "tick", "middle", short_date(&d.date)));
        }
    }
    shapes.push(line(LEFT, base, W - RIGHT, base, "axis"));
    shapes.push(line(LEFT, TOP, LEFT, base, "axis"));
    shapes.push(label(LEFT + plot_w / 2, H - 6, "axis-title", "middle", "Day"));
    let mut y_title = label(0, 0, "axis-title", "middle", "Conversations");
    y_title.attrs.push(("transform", format!("translate(14 {}) rotate(-90)", TOP + plot_h / 2)));
    shapes.push(y_title);
    svg
}

/// A horizontal bar per advisor: replies sent in the period; x: replies.
pub fn advisor_chart(advisors: &[AdvisorFigures]) -> Shape {
    const ROW: i64 = 30;
    const NAME_W: i64 = 150;
    const VALUE_W: i64 = 60;
    let max = advisors.iter().map(|a| a.replies).max().unwrap_or(0);
    let (top, step) = scale(max);
    let plot_w = W - NAME_W - VALUE_W;
    let base = TOP + ROW * advisors.len() as i64;
    let height = base + 40;
    let x_of = |v: u32| NAME_W + i64::from(v) * plot_w / i64::from(top);
    let summary = format!("Bar chart: replies sent per advisor, {} advisors", advisors.len());
    let mut svg = Shape::new(
        "svg",
        &[("class", &"chart advisor-chart"), ("viewBox", &format!("0 0 {W} {height}")), ("role", &"img"), ("aria-label", &summary)],
    );
    let shapes = &mut svg.children;
    for i in 0..=top / step {
        let x = x_of(i * step);
        shapes.push(line(x, TOP, x, base, "grid"));
        shapes.push(label(x, base + 16, "tick", "middle", (i * step).to_string()));
    }
    for (i, a) in advisors.iter().enumerate() {
        let y = TOP + ROW * i as i64;
        let end = x_of(a.replies);
        shapes.push(label(NAME_W - 8, y + ROW / 2 + 4, "bar-name", "end", truncate(&a.name, 20)));
        shapes.push(Shape::new(
            "rect",
            &[
                ("class", &"bar bar-advisor"),
                ("data-advisor", &a.id),
                ("data-count", &a.replies),
                ("x", &NAME_W),
                ("y", &(y + 6)),
                ("width", &(end - NAME_W).max(2)),
                ("height", &(ROW - 12)),
            ],
        ));
        shapes.push(label(end.max(NAME_W + 2) + 6, y + ROW / 2 + 4, "bar-value", "start", a.replies.to_string()));
    }
    shapes.push(line(NAME_W, TOP, NAME_W, base, "axis"));
    shapes.push(label(NAME_W + plot_w / 2, height - 4, "axis-title", "middle", "Replies sent"));
    svg
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

    fn day(date: &str, web: u32, whatsapp: u32, messenger: u32) -> DayCount {
        DayCount { date: date.into(), web, whatsapp, messenger }
    }

    #[test]
    fn a_day_stacks_its_channels_bottom_up_and_the_axes_are_labelled() {
        let svg = day_chart(&[day("2026-11-16", 2, 1, 0), day("2026-11-17", 0, 0, 0), day("2026-11-18", 1, 0, 2)]);
        let bars: Vec<&Shape> = svg.walk().into_iter().filter(|s| s.tag == "rect").collect();
        let of = |b: &Shape| (b.get("class").unwrap().to_owned(), b.get("data-date").unwrap().to_owned(), b.get("data-count").unwrap().to_owned());
        assert_eq!(
            bars.iter().map(|b| of(b)).collect::<Vec<_>>(),
            [
                ("bar bar-web".into(), "2026-11-16".into(), "2".into()),
                ("bar bar-whatsapp".into(), "2026-11-16".into(), "1".into()),
                ("bar bar-web".into(), "2026-11-18".into(), "1".into()),
                ("bar bar-messenger".into(), "2026-11-18".into(), "2".into()),
            ]
        );
        let num = |b: &Shape, k: &str| b.get(k).unwrap().parse::<i64>().unwrap();
        // Axis 0..3 over 198 units: each conversation is 66 high; the whatsapp segment sits on the web one.
        assert_eq!((num(bars[0], "y"), num(bars[0], "height")), (TOP + 198 - 132, 132));
        assert_eq!(num(bars[1], "y") + num(bars[1], "height"), num(bars[0], "y"));
        assert_eq!(num(bars[1], "y"), TOP, "the tallest day reaches the top of the axis");
        let texts: Vec<&str> = svg.walk().into_iter().filter_map(|s| s.text.as_deref()).collect();
        for t in ["Day", "Conversations", "16 Nov", "18 Nov", "0", "3"] {
            assert!(texts.contains(&t), "{t:?} in {texts:?}");
        }
    }

    #[test]
    fn each_advisor_gets_a_bar_as_long_as_their_replies() {
        let figures = |id: i64, name: &str, replies: u32| AdvisorFigures {
            id,
            name: name.into(),
            replies,
            conversations_replied: 0,
            assigned: 0,
            open_assigned: 0,
            first_response: Default::default(),
        };
        let svg = advisor_chart(&[figures(1, "Ana", 10), figures(2, "Bo", 5), figures(3, "Cy", 0)]);
        let widths: Vec<i64> = svg
            .walk()
            .into_iter()
            .filter(|s| s.tag == "rect")
            .map(|b| b.get("width").unwrap().parse().unwrap())
            .collect();
        assert_eq!(widths, [550, 275, 2], "full, half, and a sliver for none");
        assert!(svg.walk().iter().any(|s| s.text.as_deref() == Some("Replies sent")));
    }

    #[test]
    fn the_report_shows_every_figure_as_text() {
        use shared::analytics::{Backlog, Durations};
        let r = AnalyticsReport {
            from: "2026-11-16".into(),
            to: "2026-11-17".into(),
            tz_offset_min: 60,
            generated_at: 10 * HOUR,
            days: vec![day("2026-11-16", 2, 1, 0), day("2026-11-17", 0, 0, 1)],
            first_response: Durations { count: 3, median_ms: Some(90_000), p90_ms: Some(4 * HOUR), unanswered: Some(1) },
            resolution: Durations { count: 2, median_ms: Some(2 * DAY), p90_ms: None, unanswered: None },
            backlog: Backlog { open: 4, unassigned: 1, oldest_waiting_since: Some(7 * HOUR) },
            advisors: vec![AdvisorFigures {
                id: 3,
                name: "Ana <b>".into(),
                replies: 5,
                conversations_replied: 2,
                assigned: 1,
                open_assigned: 3,
                first_response: Durations { count: 2, median_ms: Some(30_000), p90_ms: Some(30_000), unanswered: None },
            }],
            csat: shared::analytics::Csat { count: 4, sum: 14, distribution: [1, 0, 0, 2, 1], satisfied: 3 },
        };
        let shape = report(&r);
        let tile = |metric: &str| {
            let t = shape.walk().into_iter().find(|s| s.get("data-metric") == Some(metric)).expect(metric);
            t.texts().join(" | ")
        };
        assert_eq!(tile("conversations"), "Conversations started | 4 | in the period");
        assert_eq!(tile("frt-median"), "First response · median | 1 min | 3 answered, 1 unanswered");
        assert_eq!(tile("frt-p90"), "First response · 90th pct | 4 h | 9 in 10 answered within");
        assert_eq!(tile("resolution-median"), "Resolution · median | 2 d | 2 resolved");
        assert_eq!(tile("resolution-p90"), "Resolution · 90th pct | — | first message to resolved");
        assert_eq!(tile("backlog"), "Open now | 4 | 1 unassigned · oldest waiting 3 h");
        assert_eq!(
            tile("csat"),
            "Satisfaction · rated 4–5 | 75 % | 4 ratings · average 3.5 · 1★ 1 · 2★ 0 · 3★ 0 · 4★ 2 · 5★ 1"
        );
        assert_eq!(csat_share(&Default::default()), "—");
        assert_eq!(csat_detail(&Default::default()), "no ratings yet");
        let row = shape.walk().into_iter().find(|s| s.get("data-advisor") == Some("3") && s.tag == "tr").unwrap();
        assert_eq!(row.texts(), ["Ana <b>", "5", "2", "1", "3", "30 s"], "a name is text, never markup");
        assert!(shape.texts().contains(&"16 Nov – 17 Nov"));
        assert!(shape.texts().contains(&"WhatsApp"));
        assert_eq!(shape.walk().iter().filter(|s| s.tag == "svg").count(), 2);
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
    fn dates_are_short_and_names_fit() {
        assert_eq!(short_date("2026-11-16"), "16 Nov");
        assert_eq!(short_date("bad"), "bad");
        assert_eq!(iso_date(20_773), "2026-11-16");
        assert_eq!(truncate("Alexandra Konstantinopoulou", 10), "Alexandra…");
    }
}
