//! The report as one self-contained HTML page: a strict
//! Content-Security-Policy (no scripts, no fetches: only inline styles and
//! `data:` images may load), inline CSS with a print style, the summary,
//! the four SVG charts of [`super::svg`], then every section as a table.
//! Every string from the trail is escaped by [`crate::analysis::html::escape`].

use std::fmt::Write as _;
use std::io::{self, Write};

use serde_json::Value;

use super::markdown::{period_text, rows, sections, TREND_COLUMNS};
use super::svg::{bar_chart, Bars};
use crate::analysis::html::escape;

/// The page's Content-Security-Policy.
pub const CSP: &str =
    "default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; form-action 'none'";

/// Rows shown per table; the JSON format has them all.
pub const MAX_ROWS: usize = 500;

const STYLE: &str = "
body{font:14px/1.45 system-ui,sans-serif;margin:24px auto;max-width:1200px;padding:0 16px;color:#1b1f24;background:#fff}
h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:28px 0 8px;border-bottom:1px solid #d0d7de;padding-bottom:4px}
.kpis{display:grid;grid-template-columns:repeat(auto-fill,minmax(150px,1fr));gap:8px;margin:16px 0}
.kpi{border:1px solid #d0d7de;border-radius:6px;padding:8px 10px}.kpi b{display:block;font-size:20px}
.kpi span{color:#57606a;font-size:12px}
.charts{display:grid;grid-template-columns:repeat(2,minmax(0,1fr));gap:12px}
.chart{margin:0;border:1px solid #d0d7de;border-radius:6px;padding:8px}.chart svg{width:100%;height:auto;display:block}
figcaption{font-weight:600;margin-bottom:4px}.empty{color:#57606a}
table{border-collapse:collapse;width:100%;font-size:12px;margin-bottom:8px}
th,td{border:1px solid #d0d7de;padding:3px 6px;text-align:left;vertical-align:top;overflow-wrap:anywhere}
th{background:#f6f8fa}td.n{text-align:right;font-variant-numeric:tabular-nums}
.more{color:#57606a;font-size:12px}
@media print{body{margin:0;max-width:none;color:#000;background:#fff}.chart,tr{break-inside:avoid}
th{background:#eee}.charts{grid-template-columns:repeat(2,1fr)}h2{break-after:avoid}}
";

/// Writes the page.
pub fn write_html(r: &Value, out: &mut dyn Write) -> io::Result<()> {
    let mut s = String::with_capacity(64 * 1024);
    let _ = write!(
        s,
        r#"<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><meta http-equiv="Content-Security-Policy" content="{CSP}"><meta name="viewport" content="width=device-width,initial-scale=1"><meta name="referrer" content="no-referrer"><title>MCP activity report</title><style>{STYLE}</style></head><body><h1>MCP activity report</h1><p>Period: {}.</p>"#,
        escape(&period_text(&r["period"]))
    );
    kpis(&r["summary"], &mut s);
    s.push_str(r#"<h2>Charts</h2><div class="charts">"#);
    for chart in charts(&r["charts"]) {
        s.push_str(&bar_chart(&chart));
    }
    s.push_str("</div>");
    if let Some(t) = r["trend"].as_object() {
        let p = period_text(&t["previous_period"]);
        let _ = write!(
            s,
            "<h2>Trend against the previous period ({})</h2>",
            escape(&p)
        );
        table(&t["figures"], &TREND_COLUMNS, &mut s);
    }
    for (title, key, columns) in sections() {
        let _ = write!(s, r#"<h2 id="{key}">{}</h2>"#, escape(title));
        table(&r[key], &columns, &mut s);
    }
    s.push_str("</body></html>\n");
    out.write_all(s.as_bytes())
}

fn kpis(summary: &Value, s: &mut String) {
    s.push_str(r#"<h2>Summary</h2><div class="kpis">"#);
    for (k, v) in summary.as_object().into_iter().flatten() {
        let _ = write!(
            s,
            r#"<div class="kpi"><b>{}</b><span>{}</span></div>"#,
            escape(&cell(v)),
            escape(&k.replace('_', " "))
        );
    }
    s.push_str("</div>");
}

/// The four charts: calls and errors over time, durations, risk mix.
fn charts(c: &Value) -> Vec<Bars<'static>> {
    let series = |key: &str, field: &str| -> (Vec<String>, Vec<u64>) {
        let points = c[key].as_array().cloned().unwrap_or_default();
        let label = |p: &Value| match key {
            "risk_mix" => cell(&p["risk"]),
            "durations" => format!("{}–{} ms", cell(&p["from_ms"]), cell(&p["to_ms"])),
            _ => cell(&p["at"]),
        };
        points
            .iter()
            .map(|p| (label(p), p[field].as_u64().unwrap_or(0)))
            .unzip()
    };
    let (when, calls) = series("over_time", "calls");
    let (_, errors) = series("over_time", "errors");
    let (spans, answers) = series("durations", "answers");
    let (levels, mix) = series("risk_mix", "calls");
    vec![
        Bars {
            id: "chart-calls",
            title: "Calls over time",
            labels: when.clone(),
            values: calls,
            color: "#2f6fba",
        },
        Bars {
            id: "chart-errors",
            title: "Errors over time",
            labels: when,
            values: errors,
            color: "#c0392b",
        },
        Bars {
            id: "chart-durations",
            title: "Duration distribution (answers per duration band)",
            labels: spans,
            values: answers,
            color: "#7a4fb0",
        },
        Bars {
            id: "chart-risk",
            title: "Risk mix (calls per risk level)",
            labels: levels,
            values: mix,
            color: "#d98c1f",
        },
    ]
}

fn cell(v: &Value) -> String {
    match v {
        Value::Null => "—".into(),
        Value::String(s) => s.clone(),
        v => v.to_string(),
    }
}

fn table(v: &Value, cols: &[&str], s: &mut String) {
    let all = rows(v);
    if all.is_empty() {
        s.push_str("<p>None.</p>");
        return;
    }
    s.push_str("<table><thead><tr>");
    for c in cols {
        let _ = write!(s, "<th>{}</th>", escape(&c.replace('_', " ")));
    }
    s.push_str("</tr></thead><tbody>");
    for row in all.iter().take(MAX_ROWS) {
        s.push_str("<tr>");
        for c in cols {
            let v = row.get(*c).unwrap_or(&Value::Null);
            let class = if v.is_number() { r#" class="n""# } else { "" };
            let _ = write!(s, "<td{class}>{}</td>", escape(&cell(v)));
        }
        s.push_str("</tr>");
    }
    s.push_str("</tbody></table>");
    if all.len() > MAX_ROWS {
        let _ = write!(
            s,
            r#"<p class="more">{} more rows in <code>--format json</code>.</p>"#,
            all.len() - MAX_ROWS
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn page(r: &Value) -> String {
        let mut out = Vec::new();
        write_html(r, &mut out).unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn a_hostile_tool_name_stays_text() {
        let evil = r#"<img src=x onerror=alert(1)><script>fetch("//e")</script>"#;
        let r = json!({
            "period": {"since": null, "until": null},
            "summary": {"calls": 1},
            "tools": [{"server": "s", "tool": evil, "calls": 1}],
            "charts": {"over_time": [{"at": evil, "calls": 1, "errors": 0}], "durations": [],
                       "risk_mix": [{"risk": "low", "calls": 1}]},
        });
        let html = page(&r);
        assert!(
            !html.contains("<script") && !html.contains("<img"),
            "{html}"
        );
        assert!(html.contains("&lt;img src=x onerror=alert(1)&gt;"));
        assert!(html.contains(&format!(r#"content="{CSP}""#)));
        assert_eq!(
            html.matches("<svg").count(),
            2,
            "calls and risk mix have data"
        );
        assert!(html.contains("@media print"));
    }
}
