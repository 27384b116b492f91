//! Plots as hand-written SVG: latency CDFs and per-function strip charts. A
//! plotting library would outweigh the rest of the bench for two chart shapes.

use std::fmt::Write as _;

use crate::stats::{self, fmt_ms};

const WIDTH: f64 = 760.0;
const LEFT: f64 = 70.0;
const RIGHT: f64 = 190.0;
const TOP: f64 = 40.0;
const BOTTOM: f64 = 50.0;
const COLORS: [&str; 13] = [
    "#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf",
    "#393b79", "#637939", "#843c39",
];

/// One curve or row: a label and its samples in milliseconds.
#[derive(Debug, Clone)]
pub struct Series {
    pub label: String,
    pub samples: Vec<f64>,
}

pub fn escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

fn header(out: &mut String, height: f64, title: &str) {
    let _ = writeln!(
        out,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}" viewBox="0 0 {WIDTH} {height}" font-family="sans-serif" font-size="12">"#
    );
    let _ = writeln!(out, r#"<rect width="100%" height="100%" fill="white"/>"#);
    let _ = writeln!(
        out,
        r#"<text x="{}" y="22" text-anchor="middle" font-size="15">{}</text>"#,
        WIDTH / 2.0,
        escape(title)
    );
}

/// Tick values for a log axis from `lo` to `hi`: 1, 2 and 5 times powers of ten.
pub fn log_ticks(lo: f64, hi: f64) -> Vec<f64> {
    let mut ticks = Vec::new();
    if lo <= 0.0 || hi <= lo {
        return ticks;
    }
    let mut decade = 10f64.powf(lo.log10().floor());
    while decade <= hi {
        for m in [1.0, 2.0, 5.0] {
            let t = decade * m;
            if t >= lo * 0.999 && t <= hi * 1.001 {
                ticks.push(t);
            }
        }
        decade *= 10.0;
    }
    ticks
}

/// Round tick values for a linear axis from 0 to `hi`.
pub fn linear_ticks(hi: f64) -> Vec<f64> {
    if hi <= 0.0 || !hi.is_finite() {
        return vec![0.0];
    }
    let raw = hi / 5.0;
    let magnitude = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 5.0, 10.0].iter().map(|m| m * magnitude).find(|s| *s >= raw).unwrap_or(raw);
    (0..).map(|i| i as f64 * step).take_while(|t| *t <= hi * 1.0001).collect()
}

fn tick_label(value: f64) -> String {
    if value >= 1.0 { format!("{value}") } else { fmt_ms(value) }
}

/// One cumulative distribution: (latency in ms, share of requests at or below) points.
#[derive(Debug, Clone)]
pub struct Curve {
    pub label: String,
    pub points: Vec<(f64, f64)>,
    pub count: usize,
}

impl Curve {
    /// The empirical distribution of samples, thinned to at most ~600 points,
    /// which keeps the files small with no visible loss.
    pub fn from_samples(label: &str, samples: &[f64]) -> Self {
        let sorted = stats::sorted(samples);
        let n = sorted.len();
        let step = (n / 600).max(1);
        let points = sorted
            .iter()
            .enumerate()
            .filter(|(k, _)| k % step == 0 || k + 1 == n)
            .map(|(k, v)| (*v, (k + 1) as f64 / n as f64))
            .collect();
        Self { label: label.to_string(), points, count: n }
    }
}

/// The cumulative distribution of each curve on a log latency axis (latencies
/// of one connection and of 64 differ a hundredfold).
pub fn cdf(title: &str, curves: &[Curve]) -> String {
    let height = 420.0;
    let (plot_w, plot_h) = (WIDTH - LEFT - RIGHT, height - TOP - BOTTOM);
    let all: Vec<f64> = curves.iter().flat_map(|c| c.points.iter().map(|p| p.0)).filter(|v| *v > 0.0).collect();
    let sorted_all = stats::sorted(&all);
    let mut out = String::new();
    header(&mut out, height, title);
    let (Some(min), Some(max)) = (sorted_all.first(), sorted_all.last()) else {
        let _ =
            writeln!(out, r#"<text x="{}" y="{}" text-anchor="middle">no samples</text>"#, WIDTH / 2.0, height / 2.0);
        out.push_str("</svg>\n");
        return out;
    };
    let lo = 10f64.powf(min.log10().floor());
    let hi = 10f64.powf(max.log10().ceil()).max(lo * 10.0);
    let x = |v: f64| LEFT + (v.max(lo).log10() - lo.log10()) / (hi.log10() - lo.log10()) * plot_w;
    let y = |q: f64| TOP + (1.0 - q) * plot_h;
    axes(&mut out, plot_w, plot_h);
    for t in log_ticks(lo, hi) {
        let _ = writeln!(
            out,
            r##"<line x1="{0:.1}" y1="{TOP}" x2="{0:.1}" y2="{1:.1}" stroke="#ddd"/><text x="{0:.1}" y="{2:.1}" text-anchor="middle">{3}</text>"##,
            x(t),
            TOP + plot_h,
            TOP + plot_h + 16.0,
            tick_label(t)
        );
    }
    for q in [0.0, 0.25, 0.5, 0.75, 0.9, 0.99, 1.0] {
        let _ = writeln!(
            out,
            r##"<line x1="{LEFT}" y1="{0:.1}" x2="{1:.1}" y2="{0:.1}" stroke="#eee"/><text x="{2:.1}" y="{3:.1}" text-anchor="end">{4}</text>"##,
            y(q),
            LEFT + plot_w,
            LEFT - 6.0,
            y(q) + 4.0,
            q
        );
    }
    let _ = writeln!(
        out,
        r#"<text x="{:.1}" y="{:.1}" text-anchor="middle">latency (ms, log scale)</text>"#,
        LEFT + plot_w / 2.0,
        height - 12.0
    );
    let _ = writeln!(
        out,
        r#"<text x="16" y="{:.1}" text-anchor="middle" transform="rotate(-90 16 {:.1})">share of requests at or below</text>"#,
        TOP + plot_h / 2.0,
        TOP + plot_h / 2.0
    );
    for (i, curve) in curves.iter().enumerate() {
        let color = COLORS[i % COLORS.len()];
        if !curve.points.is_empty() {
            let points: Vec<String> = curve.points.iter().map(|(v, q)| format!("{:.1},{:.1}", x(*v), y(*q))).collect();
            let _ = writeln!(
                out,
                r#"<polyline fill="none" stroke="{color}" stroke-width="1.6" points="{}"/>"#,
                points.join(" ")
            );
        }
        legend(&mut out, i, color, &curve.label, curve.count);
    }
    out.push_str("</svg>\n");
    out
}

fn axes(out: &mut String, plot_w: f64, plot_h: f64) {
    let _ = writeln!(
        out,
        r##"<rect x="{LEFT}" y="{TOP}" width="{plot_w:.1}" height="{plot_h:.1}" fill="none" stroke="#444"/>"##
    );
}

fn legend(out: &mut String, index: usize, color: &str, label: &str, samples: usize) {
    let lx = WIDTH - RIGHT + 14.0;
    let ly = TOP + 12.0 + index as f64 * 18.0;
    let _ = writeln!(
        out,
        r#"<line x1="{lx:.1}" y1="{ly:.1}" x2="{:.1}" y2="{ly:.1}" stroke="{color}" stroke-width="3"/><text x="{:.1}" y="{:.1}">{} (n={samples})</text>"#,
        lx + 18.0,
        lx + 24.0,
        ly + 4.0,
        escape(label)
    );
}

/// One row per series with every sample as a dot and its median as a bar, on a
/// linear axis from 0; `budgets` draws each row's budget as a dashed mark.
pub fn strip(title: &str, x_label: &str, series: &[Series], budgets: &[Option<f64>]) -> String {
    let row_h = 24.0;
    let height = TOP + BOTTOM + row_h * series.len().max(1) as f64;
    let left = 150.0;
    let plot_w = WIDTH - left - 40.0;
    let plot_h = row_h * series.len().max(1) as f64;
    let max = series
        .iter()
        .flat_map(|s| s.samples.iter().copied())
        .chain(budgets.iter().flatten().copied())
        .filter(|v| v.is_finite())
        .fold(0.0, f64::max);
    let ticks = linear_ticks(max * 1.05);
    let hi = ticks.last().copied().filter(|t| *t >= max).unwrap_or(max * 1.05).max(1e-9);
    let x = |v: f64| left + v / hi * plot_w;
    let mut out = String::new();
    header(&mut out, height, title);
    let _ = writeln!(
        out,
        r##"<rect x="{left}" y="{TOP}" width="{plot_w:.1}" height="{plot_h:.1}" fill="none" stroke="#444"/>"##
    );
    for t in &ticks {
        let _ = writeln!(
            out,
            r##"<line x1="{0:.1}" y1="{TOP}" x2="{0:.1}" y2="{1:.1}" stroke="#eee"/><text x="{0:.1}" y="{2:.1}" text-anchor="middle">{3}</text>"##,
            x(*t),
            TOP + plot_h,
            TOP + plot_h + 16.0,
            tick_label(*t)
        );
    }
    let _ = writeln!(
        out,
        r#"<text x="{:.1}" y="{:.1}" text-anchor="middle">{}</text>"#,
        left + plot_w / 2.0,
        height - 12.0,
        escape(x_label)
    );
    for (i, s) in series.iter().enumerate() {
        let color = COLORS[i % COLORS.len()];
        let cy = TOP + row_h * (i as f64 + 0.5);
        let _ = writeln!(
            out,
            r#"<text x="{:.1}" y="{:.1}" text-anchor="end">{}</text>"#,
            left - 8.0,
            cy + 4.0,
            escape(&s.label)
        );
        for v in &s.samples {
            let _ =
                writeln!(out, r#"<circle cx="{:.1}" cy="{cy:.1}" r="2.5" fill="{color}" fill-opacity="0.45"/>"#, x(*v));
        }
        if let Some(p50) = stats::percentile(&stats::sorted(&s.samples), 50.0) {
            let _ = writeln!(
                out,
                r##"<line x1="{0:.1}" y1="{1:.1}" x2="{0:.1}" y2="{2:.1}" stroke="#000" stroke-width="2"/>"##,
                x(p50),
                cy - 8.0,
                cy + 8.0
            );
        }
        if let Some(Some(budget)) = budgets.get(i) {
            let _ = writeln!(
                out,
                r##"<line x1="{0:.1}" y1="{1:.1}" x2="{0:.1}" y2="{2:.1}" stroke="#d00" stroke-width="1.5" stroke-dasharray="3,2"/>"##,
                x(*budget),
                cy - 10.0,
                cy + 10.0
            );
        }
    }
    out.push_str("</svg>\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_ticks_are_one_two_five_steps() {
        assert_eq!(log_ticks(0.1, 10.0), vec![0.1, 0.2, 0.5, 1.0, 2.0, 5.0, 10.0]);
        assert!(log_ticks(0.0, 1.0).is_empty());
    }

    #[test]
    fn linear_ticks_cover_the_range_in_round_steps() {
        assert_eq!(linear_ticks(23.0), vec![0.0, 5.0, 10.0, 15.0, 20.0]);
        assert_eq!(linear_ticks(0.0), vec![0.0]);
    }

    #[test]
    fn cdf_draws_a_curve_and_legend_per_series() {
        let curves =
            vec![Curve::from_samples("1 conn", &[0.2, 0.3, 0.25]), Curve::from_samples("64 <conns>", &[5.0, 9.0])];
        let svg = cdf("GET /api/books/", &curves);
        assert!(svg.starts_with("<svg"));
        assert!(svg.trim_end().ends_with("</svg>"));
        assert_eq!(svg.matches("<polyline").count(), 2);
        assert!(svg.contains("64 &lt;conns&gt; (n=2)"), "labels are escaped");
        // The last point of each curve is at share 1, the top of the plot.
        assert!(svg.contains(&format!(",{TOP:.1}\"")));
    }

    #[test]
    fn sample_curves_end_at_one_and_are_thinned() {
        let samples: Vec<f64> = (1..=6_000).map(f64::from).collect();
        let curve = Curve::from_samples("x", &samples);
        assert_eq!(curve.count, 6_000);
        assert!(curve.points.len() <= 601);
        assert_eq!(curve.points.last(), Some(&(6_000.0, 1.0)));
        assert_eq!(curve.points[0], (1.0, 1.0 / 6_000.0));
    }

    #[test]
    fn empty_plots_say_so() {
        assert!(cdf("x", &[]).contains("no samples"));
    }

    #[test]
    fn strip_draws_every_sample_the_median_and_the_budget() {
        let series = vec![Series { label: "book".into(), samples: vec![10.0, 12.0, 30.0] }];
        let svg = strip("init", "ms", &series, &[Some(40.0)]);
        assert_eq!(svg.matches("<circle").count(), 3);
        assert_eq!(svg.matches("stroke-dasharray").count(), 1);
        assert!(svg.contains(">book</text>"));
    }
}
