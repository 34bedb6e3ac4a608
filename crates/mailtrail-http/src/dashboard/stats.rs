//! The Stats page: per day, sent, delivered, failed, opened by a person,
//! clicked and replied, with rates and a server-rendered SVG chart.
//! Machine opens are shown apart: they are never a read.

use std::fmt::Write as _;

use askama::Template;
use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::response::Response;
use mailtrail_store::DayStats;
use time::{Date, Duration, OffsetDateTime};

use super::signed::{Chrome, SignedIn};
use super::{DashError, html};
use crate::AppState;

/// The periods offered, in days.
const PERIODS: [i64; 3] = [7, 30, 90];

pub(crate) struct DayRow {
    day: String,
    s: DayStats,
    delivered_rate: String,
    opened_rate: String,
    clicked_rate: String,
    replied_rate: String,
}

#[derive(Template)]
#[template(path = "stats.html")]
struct StatsPage {
    chrome: Chrome,
    days: i64,
    periods: Vec<(i64, bool)>,
    rows: Vec<DayRow>,
    total: DayRow,
    chart: String,
}

/// `part` of `whole` as a percentage, or a dash when there is no whole.
pub(crate) fn rate(part: u64, whole: u64) -> String {
    if whole == 0 {
        "–".to_owned()
    } else {
        format!("{:.1} %", part as f64 * 100.0 / whole as f64)
    }
}

fn day_name(day: i64) -> String {
    Date::from_julian_day(
        i32::try_from(day + 2_440_588).unwrap_or(2_440_588), // 1970-01-01 is JD 2440588
    )
    .map(|d| d.to_string())
    .unwrap_or_else(|_| day.to_string())
}

fn row(day: String, s: DayStats) -> DayRow {
    DayRow {
        day,
        delivered_rate: rate(s.delivered, s.sent),
        opened_rate: rate(s.opened, s.delivered),
        clicked_rate: rate(s.clicked, s.delivered),
        replied_rate: rate(s.replied, s.delivered),
        s,
    }
}

/// One series of the chart: its name, colour and value of a day.
type Series = (&'static str, &'static str, fn(&DayStats) -> u64);

/// A bar chart of delivered, opened by a person, clicked and failed per
/// day, as an SVG string. Only numbers and fixed words go into it.
pub(crate) fn chart(days: &[DayStats]) -> String {
    const W: f64 = 720.0;
    const H: f64 = 220.0;
    const PAD: f64 = 30.0;
    let series: [Series; 4] = [
        ("delivered", "#1a7f37", |d| d.delivered),
        ("opened by a person", "#8250df", |d| d.opened),
        ("clicked", "#0a58ca", |d| d.clicked),
        ("failed", "#cf222e", |d| d.failed),
    ];
    let max = days
        .iter()
        .flat_map(|d| series.iter().map(move |(_, _, f)| f(d)))
        .max()
        .unwrap_or(0)
        .max(1) as f64;
    let mut svg = format!(
        r#"<svg class="chart" role="img" aria-labelledby="chart-title" viewBox="0 0 {W} {}" preserveAspectRatio="xMinYMin meet"><title id="chart-title">Delivered, opened by a person, clicked and failed per day; the table below has the numbers</title>"#,
        H + 40.0
    );
    let _ = write!(
        svg,
        r##"<line x1="{PAD}" y1="{H}" x2="{W}" y2="{H}" stroke="#57606a"/><text x="0" y="14" font-size="12">{max}</text><text x="0" y="{H}" font-size="12">0</text>"##
    );
    let n = days.len().max(1) as f64;
    let slot = (W - PAD) / n;
    let bar = (slot / 5.0).clamp(1.0, 24.0);
    for (i, d) in days.iter().enumerate() {
        for (j, (_, color, f)) in series.iter().enumerate() {
            let h = f(d) as f64 / max * (H - 20.0);
            let x = PAD + i as f64 * slot + j as f64 * bar + bar / 2.0;
            let _ = write!(
                svg,
                r#"<rect x="{x:.1}" y="{:.1}" width="{bar:.1}" height="{h:.1}" fill="{color}"/>"#,
                H - h
            );
        }
    }
    for (j, (name, color, _)) in series.iter().enumerate() {
        let x = PAD + j as f64 * 170.0;
        let _ = write!(
            svg,
            r#"<rect x="{x}" y="{}" width="12" height="12" fill="{color}"/><text x="{}" y="{}" font-size="13">{name}</text>"#,
            H + 18.0,
            x + 16.0,
            H + 29.0
        );
    }
    svg.push_str("</svg>");
    svg
}

/// `days` days from `first`, with the days that had no events as zeros,
/// so that the chart's time axis is even.
pub(crate) fn every_day(list: &[DayStats], first: i64, days: i64) -> Vec<DayStats> {
    (first..first + days)
        .map(|day| {
            list.iter()
                .find(|d| d.day == day)
                .copied()
                .unwrap_or(DayStats {
                    day,
                    ..DayStats::default()
                })
        })
        .collect()
}

/// `GET /stats?days=30`.
pub(crate) async fn stats(
    State(state): State<AppState>,
    SignedIn(s): SignedIn,
    RawQuery(raw): RawQuery,
) -> Result<Response, DashError> {
    let days = raw
        .as_deref()
        .and_then(|q| q.strip_prefix("days="))
        .and_then(|d| d.parse::<i64>().ok())
        .filter(|d| PERIODS.contains(d))
        .unwrap_or(30);
    let now = OffsetDateTime::now_utc();
    let today = now.date().midnight().assume_utc();
    let since = today - Duration::days(days - 1);
    let list = state
        .store
        .daily_stats(s.user.org_id, since, today + Duration::days(1))
        .await?;
    let mut total = DayStats::default();
    for d in &list {
        total.sent += d.sent;
        total.delivered += d.delivered;
        total.failed += d.failed;
        total.opened += d.opened;
        total.machine_opened += d.machine_opened;
        total.clicked += d.clicked;
        total.replied += d.replied;
    }
    let page = StatsPage {
        chrome: (&s).into(),
        days,
        periods: PERIODS.iter().map(|p| (*p, *p == days)).collect(),
        chart: chart(&every_day(
            &list,
            since.unix_timestamp().div_euclid(86_400),
            days,
        )),
        rows: list.iter().map(|d| row(day_name(d.day), *d)).collect(),
        total: row("All days".to_owned(), total),
    };
    Ok(html(StatusCode::OK, page.render()?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_and_days() {
        assert_eq!(rate(1, 4), "25.0 %");
        assert_eq!(rate(1, 0), "–");
        assert_eq!(day_name(0), "1970-01-01");
        assert_eq!(day_name(19_675), "2023-11-14");
    }

    #[test]
    fn the_chart_draws_a_bar_per_series_and_day() {
        let d = DayStats {
            day: 1,
            delivered: 10,
            opened: 5,
            clicked: 2,
            failed: 1,
            ..DayStats::default()
        };
        let svg = chart(&[d, d]);
        assert!(svg.starts_with("<svg") && svg.ends_with("</svg>"));
        // 8 bars and 4 legend swatches.
        assert_eq!(svg.matches("<rect").count(), 12);
        assert!(svg.contains("opened by a person"));
        assert!(chart(&[]).contains("</svg>"));
        let filled = every_day(&[d], 0, 3);
        assert_eq!(filled.iter().map(|d| d.day).collect::<Vec<_>>(), [0, 1, 2]);
        assert_eq!(filled[1].delivered, 10);
        assert_eq!(filled[0].delivered, 0);
    }
}
