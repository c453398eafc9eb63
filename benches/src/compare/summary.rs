//! Turning alternating runs into ratios Nile / nats-server.

use serde::Serialize;

use super::plan::{Case, Mode};
use super::server::Memory;
use crate::scenarios::Scenario;

#[derive(Clone, Debug, Serialize)]
pub struct Sample {
    pub msgs_per_sec: f64,
    pub p50_us: Option<f64>,
    #[serde(skip)]
    pub mem: Memory,
}

/// One server's runs of one case, or why it could not do them.
#[derive(Clone, Debug, Default)]
pub struct Side {
    pub samples: Vec<Sample>,
    pub skipped: Option<String>,
}

pub struct CaseResult {
    pub case: Case,
    pub nile: Side,
    pub nats: Side,
}

/// One line of the ratio table.
#[derive(Clone, Debug, Serialize)]
pub struct Row {
    pub case: String,
    pub mode: String,
    pub metric: String,
    /// Whether a ratio above 1 is good (throughput) or bad (latency, memory).
    pub higher_is_better: bool,
    pub nile: Option<f64>,
    pub nats: Option<f64>,
    pub ratio_median: Option<f64>,
    pub ratio_min: Option<f64>,
    pub ratio_max: Option<f64>,
    pub pairs: usize,
    pub nile_peak_mib: Option<f64>,
    pub nats_peak_mib: Option<f64>,
    pub target: Option<String>,
    pub note: String,
}

pub fn median(v: &[f64]) -> Option<f64> {
    if v.is_empty() {
        return None;
    }
    let mut s = v.to_vec();
    s.sort_by(|a, b| a.total_cmp(b));
    let m = s.len() / 2;
    Some(if s.len() % 2 == 1 {
        s[m]
    } else {
        (s[m - 1] + s[m]) / 2.0
    })
}

fn peak_mib(side: &Side) -> Option<f64> {
    side.samples
        .iter()
        .map(|s| s.mem.peak_kib as f64 / 1024.0)
        .reduce(f64::max)
}

/// Issue 7's target for a row, so the table says what "good" is.
fn target(c: &Case, metric: &str) -> Option<&'static str> {
    Some(match (c.scenario, c.mode, metric, c.rss_metric) {
        (_, _, "RSS after MiB", true) => "<= 0.5",
        (Scenario::JsPubAsync, Mode::Default, "msgs/s", false) => ">= 1.5",
        (Scenario::JsPubAsync, Mode::Always, "msgs/s", false) => ">= 25",
        (Scenario::JsPub, Mode::Always, "msgs/s", _) => ">= 2",
        (Scenario::JsPull, _, "msgs/s", _) => ">= 1.5",
        (Scenario::JsOrdered, _, "msgs/s", _) => ">= 1.5",
        (Scenario::Pub, _, "msgs/s", _) => ">= 1.0",
        (Scenario::Pubsub, _, "msgs/s", _) => ">= 1.2",
        (Scenario::Req, _, "p50 us", _) => "<= 0.8",
        _ => return None,
    })
}

/// Per metric: medians of each side and the ratio of each pair (run i of
/// Nile against run i of nats-server, which ran right after it).
pub fn rows(results: &[CaseResult]) -> Vec<Row> {
    let mut out = Vec::new();
    for r in results {
        type Get = fn(&Sample) -> Option<f64>;
        let mut metrics: Vec<(&str, bool, Get)> = vec![("msgs/s", true, |s| Some(s.msgs_per_sec))];
        if r.case.latency_metric {
            metrics.push(("p50 us", false, |s| s.p50_us));
        }
        if r.case.rss_metric {
            metrics.push(("RSS after MiB", false, |s| {
                Some(s.mem.now_kib as f64 / 1024.0)
            }));
        }
        for (metric, higher_is_better, get) in metrics {
            let nile: Vec<f64> = r.nile.samples.iter().filter_map(get).collect();
            let nats: Vec<f64> = r.nats.samples.iter().filter_map(get).collect();
            let ratios: Vec<f64> = nile
                .iter()
                .zip(&nats)
                .filter(|(_, b)| **b > 0.0)
                .map(|(a, b)| a / b)
                .collect();
            let note = match (&r.nile.skipped, &r.nats.skipped) {
                (Some(a), Some(b)) => format!("Nile skipped: {a}; nats-server failed: {b}"),
                (Some(a), None) => format!("Nile skipped: {a}"),
                (None, Some(b)) => format!("nats-server failed: {b}"),
                (None, None) => String::new(),
            };
            out.push(Row {
                case: r.case.label.clone(),
                mode: r.case.mode.name().into(),
                metric: metric.into(),
                higher_is_better,
                nile: median(&nile),
                nats: median(&nats),
                ratio_median: median(&ratios),
                ratio_min: ratios.iter().copied().reduce(f64::min),
                ratio_max: ratios.iter().copied().reduce(f64::max),
                pairs: ratios.len(),
                nile_peak_mib: peak_mib(&r.nile),
                nats_peak_mib: peak_mib(&r.nats),
                target: target(&r.case, metric).map(String::from),
                note,
            });
        }
    }
    out
}

/// Human numbers: 1234567 -> "1.23M".
pub fn num(v: Option<f64>) -> String {
    match v {
        None => "-".into(),
        Some(x) if x >= 1e6 => format!("{:.2}M", x / 1e6),
        Some(x) if x >= 1e4 => format!("{:.1}k", x / 1e3),
        Some(x) if x >= 100.0 => format!("{x:.0}"),
        Some(x) => format!("{x:.1}"),
    }
}

pub fn ratio(v: Option<f64>) -> String {
    v.map(|x| format!("{x:.2}")).unwrap_or_else(|| "-".into())
}

pub fn text_table(rows: &[Row]) -> String {
    let mut out = format!(
        "\n{:<24} {:<8} {:<14} {:>9} {:>9} {:>7} {:>13} {:>7} {:>8} {:>8}\n",
        "case",
        "mode",
        "metric",
        "Nile",
        "nats",
        "ratio",
        "min-max",
        "target",
        "RSS Nile",
        "RSS nats"
    );
    for r in rows {
        out += &format!(
            "{:<24} {:<8} {:<14} {:>9} {:>9} {:>7} {:>13} {:>7} {:>8} {:>8}{}\n",
            r.case,
            r.mode,
            r.metric,
            num(r.nile),
            num(r.nats),
            ratio(r.ratio_median),
            range(r),
            r.target.as_deref().unwrap_or(""),
            num(r.nile_peak_mib),
            num(r.nats_peak_mib),
            if r.note.is_empty() {
                String::new()
            } else {
                format!("  ({})", short(&r.note))
            },
        );
    }
    out
}

/// "min-max" of the pair ratios, or "-" when there are none.
pub fn range(r: &Row) -> String {
    match (r.ratio_min, r.ratio_max) {
        (Some(a), Some(b)) => format!("{a:.2}–{b:.2}"),
        _ => "-".into(),
    }
}

/// First line of a reason, cut to fit a table cell.
pub fn short(s: &str) -> String {
    let line = s.lines().next().unwrap_or("");
    if line.chars().count() > 90 {
        format!("{}...", line.chars().take(90).collect::<String>())
    } else {
        line.to_string()
    }
}

/// Progress line after each pair: the two latest msgs/s.
pub fn pair_line(nile: &Side, nats: &Side) -> String {
    let last = |s: &Side| match (&s.skipped, s.samples.last()) {
        (Some(why), _) => format!("skipped ({})", short(why)),
        (None, Some(x)) => format!("{} msgs/s", num(Some(x.msgs_per_sec))),
        (None, None) => "-".into(),
    };
    format!("nile {} | nats-server {}", last(nile), last(nats))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_odd_and_even() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), Some(2.0));
        assert_eq!(median(&[4.0, 1.0, 2.0, 3.0]), Some(2.5));
        assert_eq!(median(&[]), None);
    }
}
