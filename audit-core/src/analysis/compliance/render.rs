//! The assessment as Markdown or as one self-contained HTML page (a strict
//! Content-Security-Policy, no script, every trail string escaped).

use std::io::{self, Write};

use super::{Assessed, Framework, Inputs, DISCLAIMER};
use crate::analysis::html::escape as escape_html;
use crate::trail::format::safe;

/// The Content-Security-Policy of the HTML page: nothing is loaded, nothing runs.
pub const CSP: &str =
    "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'";

fn md_cell(s: &str) -> String {
    safe(s).replace('|', "\\|")
}

/// The summary lines shared by both formats: (label, value).
fn summary(i: &Inputs) -> Vec<(&'static str, String)> {
    let e = &i.evidence;
    vec![
        ("Events", e.events.to_string()),
        (
            "Period",
            format!(
                "{} to {} ({} day(s))",
                e.first.as_deref().unwrap_or("-"),
                e.last.as_deref().unwrap_or("-"),
                e.days()
            ),
        ),
        (
            "Sessions (signed)",
            format!("{} ({})", e.sessions, e.signed_sessions),
        ),
        (
            "Audit files",
            format!("{} ({} bytes)", i.files.files, i.files.bytes),
        ),
        (
            "Verify",
            format!(
                "{} ({}{})",
                if i.verify.ok { "intact" } else { "BROKEN" },
                i.verify.breaks(),
                if i.verify.with_key {
                    "; signatures checked"
                } else {
                    ""
                }
            ),
        ),
    ]
}

/// The assessment as Markdown.
pub fn write_markdown(
    f: Framework,
    i: &Inputs,
    controls: &[Assessed],
    out: &mut dyn Write,
) -> io::Result<()> {
    writeln!(
        out,
        "# Compliance evidence: {}\n\n> {DISCLAIMER}\n",
        f.title()
    )?;
    for (k, v) in summary(i) {
        writeln!(out, "- {k}: {}", md_cell(&v))?;
    }
    writeln!(
        out,
        "\n## Controls\n\n| control | requirement | status | reason |\n|---|---|---|---|"
    )?;
    for c in controls {
        writeln!(
            out,
            "| {} | {} | **{}** | {} |",
            c.id,
            c.title,
            c.status.label(),
            md_cell(&c.reason)
        )?;
    }
    writeln!(out, "\n## Events behind each control\n")?;
    for c in controls.iter().filter(|c| !c.event_ids.is_empty()) {
        let ids: Vec<String> = c.event_ids.iter().map(|id| md_cell(id)).collect();
        writeln!(out, "- {}: {}", c.id, ids.join(", "))?;
    }
    writeln!(
        out,
        "\n## Servers and tools called\n\n| server | tool |\n|---|---|"
    )?;
    for (server, tool) in &i.evidence.tools {
        writeln!(out, "| {} | {} |", md_cell(server), md_cell(tool))?;
    }
    Ok(())
}

/// The assessment as one HTML page.
pub fn write_html(
    f: Framework,
    i: &Inputs,
    controls: &[Assessed],
    out: &mut dyn Write,
) -> io::Result<()> {
    writeln!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n\
         <meta http-equiv=\"Content-Security-Policy\" content=\"{CSP}\">\n\
         <title>Compliance evidence: {t}</title>\n<style>{STYLE}</style></head><body>\n\
         <h1>Compliance evidence: {t}</h1>\n<p class=\"note\">{DISCLAIMER}</p>\n<ul>",
        t = f.title()
    )?;
    for (k, v) in summary(i) {
        writeln!(out, "<li>{k}: {}</li>", escape_html(&v))?;
    }
    writeln!(
        out,
        "</ul>\n<table><thead><tr><th>Control</th><th>Requirement</th><th>Status</th>\
         <th>Reason</th><th>Events</th></tr></thead><tbody>"
    )?;
    for c in controls {
        let ids: Vec<String> = c.event_ids.iter().map(|id| escape_html(id)).collect();
        writeln!(
            out,
            "<tr><td>{}</td><td>{}</td><td class=\"{}\">{}</td><td>{}</td><td class=\"ids\">{}</td></tr>",
            c.id,
            c.title,
            c.status.key(),
            c.status.label(),
            escape_html(&c.reason),
            ids.join("<br>")
        )?;
    }
    writeln!(
        out,
        "</tbody></table>\n<h2>Servers and tools called</h2>\n<table><thead><tr><th>Server</th><th>Tool</th></tr></thead><tbody>"
    )?;
    for (server, tool) in &i.evidence.tools {
        writeln!(
            out,
            "<tr><td>{}</td><td>{}</td></tr>",
            escape_html(server),
            escape_html(tool)
        )?;
    }
    writeln!(out, "</tbody></table>\n</body></html>")
}

const STYLE: &str = "body{font-family:sans-serif;margin:2em;color:#222}\
table{border-collapse:collapse;width:100%}td,th{border:1px solid #bbb;padding:.3em;vertical-align:top;text-align:left}\
.met{background:#d9f2d9}.partial{background:#fff1c2}.not_met{background:#f8d0d0}.not_evidenced{background:#e6e6e6}\
.ids{font-family:monospace;font-size:.8em}.note{font-style:italic}";
