//! The report's charts as inline SVG, drawn here from the figures: one bar
//! chart shape serves calls over time, errors over time, the duration
//! histogram and the risk mix. Labels are escaped like every trail string.

use std::fmt::Write;

use crate::analysis::html::escape;

const WIDTH: f64 = 560.0;
const HEIGHT: f64 = 220.0;
/// Room for the axis labels: left, right, top, bottom.
const PAD: (f64, f64, f64, f64) = (48.0, 12.0, 12.0, 36.0);

/// Up to this many bars, each is labelled; past it, the first and last.
const MAX_LABELS: usize = 6;

/// One bar chart: its element id, caption, bar labels and values.
#[derive(Debug)]
pub struct Bars<'a> {
    pub id: &'a str,
    pub title: &'a str,
    pub labels: Vec<String>,
    pub values: Vec<u64>,
    /// Fill colour of the bars (a CSS colour written by us).
    pub color: &'a str,
}

/// The chart as a `<figure>` holding an `<svg>`: bars with a `<title>`
/// each (label and value), the value axis' maximum, and labels under
/// the axis (every bar's, or the first and last). A chart without data says so in text.
pub fn bar_chart(c: &Bars<'_>) -> String {
    let mut s = String::new();
    let id = escape(c.id);
    let _ = write!(
        s,
        r#"<figure class="chart" id="{id}"><figcaption>{}</figcaption>"#,
        escape(c.title)
    );
    let max = c.values.iter().copied().max().unwrap_or(0);
    if max == 0 {
        s.push_str(r#"<p class="empty">No data in this period.</p></figure>"#);
        return s;
    }
    let _ = write!(
        s,
        r#"<svg viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-label="{}" xmlns="http://www.w3.org/2000/svg">"#,
        escape(c.title)
    );
    let (left, right, top, bottom) = PAD;
    let (w, h) = (WIDTH - left - right, HEIGHT - top - bottom);
    let base = top + h;
    let _ = write!(
        s,
        r##"<line class="axis" x1="{left}" y1="{base}" x2="{}" y2="{base}" stroke="#666"/><line class="axis" x1="{left}" y1="{top}" x2="{left}" y2="{base}" stroke="#666"/>"##,
        left + w
    );
    let _ = write!(
        s,
        r#"<text x="{}" y="{}" text-anchor="end" font-size="11">{max}</text><text x="{}" y="{base}" text-anchor="end" font-size="11">0</text>"#,
        left - 4.0,
        top + 10.0,
        left - 4.0
    );
    let n = c.values.len() as f64;
    let slot = w / n;
    let gap = if slot > 4.0 { slot * 0.15 } else { 0.0 };
    for (i, (v, label)) in c.values.iter().zip(&c.labels).enumerate() {
        if *v == 0 {
            continue;
        }
        let bh = (*v as f64 / max as f64 * h).max(1.0);
        let x = left + i as f64 * slot + gap / 2.0;
        let _ = write!(
            s,
            r#"<rect class="bar" x="{x:.2}" y="{:.2}" width="{:.2}" height="{bh:.2}" fill="{}"><title>{}: {v}</title></rect>"#,
            base - bh,
            (slot - gap).max(0.5),
            escape(c.color),
            escape(label)
        );
    }
    let labels: Vec<(usize, f64, &str)> = if c.labels.len() <= MAX_LABELS {
        (0..c.labels.len())
            .map(|i| (i, left + (i as f64 + 0.5) * slot, "middle"))
            .collect()
    } else {
        vec![(0, left, "start"), (c.labels.len() - 1, left + w, "end")]
    };
    for (i, x, anchor) in labels {
        let _ = write!(
            s,
            r#"<text x="{x:.2}" y="{}" text-anchor="{anchor}" font-size="11">{}</text>"#,
            base + 16.0,
            escape(&c.labels[i])
        );
    }
    s.push_str("</svg></figure>");
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn draws_one_rect_per_non_zero_value_with_escaped_labels() {
        let svg = bar_chart(&Bars {
            id: "c",
            title: "Calls",
            labels: vec!["<a>".into(), "b".into(), "c".into()],
            values: vec![3, 0, 6],
            color: "#36c",
        });
        assert_eq!(svg.matches("<rect").count(), 2);
        assert!(svg.contains("&lt;a&gt;: 3"), "{svg}");
        assert!(!svg.contains("<a>"));
        assert!(svg.contains(r#"height="172.00""#), "{svg}");
    }

    #[test]
    fn an_empty_chart_says_so() {
        let svg = bar_chart(&Bars {
            id: "c",
            title: "Errors",
            labels: vec!["x".into()],
            values: vec![0],
            color: "#c33",
        });
        assert!(svg.contains("No data") && !svg.contains("<svg"));
    }
}
