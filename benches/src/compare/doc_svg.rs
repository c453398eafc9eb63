//! The ratio chart: one horizontal bar per table row, on a log scale so that
//! 0.5x and 2x sit equally far from the 1x line.

use std::fmt::Write as _;

use super::summary::Row;

const LEFT: f64 = 330.0;
const WIDTH: f64 = 420.0;
const BAR: f64 = 18.0;
/// The axis spans 10^-2 .. 10^2.
const DECADES: f64 = 4.0;

fn x_of(ratio: f64) -> f64 {
    let r = ratio.clamp(0.01, 100.0);
    LEFT + (r.log10() + 2.0) / DECADES * WIDTH
}

pub fn chart(rows: &[Row]) -> String {
    let height = 50.0 + rows.len() as f64 * (BAR + 6.0) + 30.0;
    let mut s = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{}\" height=\"{height}\" \
         font-family=\"sans-serif\" font-size=\"12\">\n\
         <rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n\
         <text x=\"10\" y=\"20\" font-size=\"14\">Nile / nats-server (median of pairs; \
         green: better for Nile; line: min-max)</text>\n",
        LEFT + WIDTH + 80.0
    );
    for (i, tick) in [0.01, 0.1, 1.0, 10.0, 100.0].iter().enumerate() {
        let x = x_of(*tick);
        let dash = if i == 2 {
            ""
        } else {
            " stroke-dasharray=\"3,3\""
        };
        let _ = writeln!(
            s,
            "<line x1=\"{x}\" y1=\"35\" x2=\"{x}\" y2=\"{}\" stroke=\"#888\"{dash}/>\
             <text x=\"{x}\" y=\"{}\" text-anchor=\"middle\">{tick}x</text>",
            height - 25.0,
            height - 10.0
        );
    }
    for (i, r) in rows.iter().enumerate() {
        let y = 40.0 + i as f64 * (BAR + 6.0);
        let label = format!("{} {} {}", r.case, r.mode, r.metric);
        let _ = writeln!(
            s,
            "<text x=\"{}\" y=\"{}\" text-anchor=\"end\">{}</text>",
            LEFT - 6.0,
            y + BAR - 5.0,
            escape(&label)
        );
        let Some(m) = r.ratio_median else {
            let _ = writeln!(
                s,
                "<text x=\"{}\" y=\"{}\" fill=\"#888\">skipped</text>",
                x_of(1.0) + 4.0,
                y + BAR - 5.0
            );
            continue;
        };
        let good = if r.higher_is_better {
            m >= 1.0
        } else {
            m <= 1.0
        };
        let (x1, x2) = (x_of(1.0).min(x_of(m)), x_of(1.0).max(x_of(m)));
        let color = if good { "#2a9d4b" } else { "#d1495b" };
        let _ = writeln!(
            s,
            "<rect x=\"{x1}\" y=\"{y}\" width=\"{}\" height=\"{BAR}\" fill=\"{color}\"/>",
            (x2 - x1).max(1.0)
        );
        // Whisker: how far the ratio moved between pairs.
        let mut right = x2;
        if let (Some(lo), Some(hi)) = (r.ratio_min, r.ratio_max) {
            let mid = y + BAR / 2.0;
            let (a, b) = (x_of(lo), x_of(hi));
            right = right.max(b);
            let _ = writeln!(
                s,
                "<line x1=\"{a}\" y1=\"{mid}\" x2=\"{b}\" y2=\"{mid}\" stroke=\"black\"/>"
            );
        }
        let _ = writeln!(
            s,
            "<text x=\"{}\" y=\"{}\">{m:.2}</text>",
            right + 4.0,
            y + BAR - 5.0
        );
    }
    s += "</svg>\n";
    s
}

fn escape(t: &str) -> String {
    t.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}
