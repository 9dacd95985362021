//! How readers write what they found: one short line per event (`tail`,
//! `query` as a table or CSV) and tables of rows (`stats`, `sessions`) as
//! an aligned table, JSON, CSV or Markdown.
//!
//! Every string from the trail came from a peer: before it reaches a
//! terminal its control characters are escaped, so a tool name cannot move
//! the cursor or recolour the screen.

use std::io::{self, Write};

use serde_json::{Map, Value};

use super::view::EventView;

/// Output formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Jsonl,
    Json,
    Table,
    Csv,
    Markdown,
}

impl Format {
    /// Parses a `--format` value.
    pub fn parse(s: &str) -> Option<Format> {
        Some(match s {
            "jsonl" => Format::Jsonl,
            "json" => Format::Json,
            "table" => Format::Table,
            "csv" => Format::Csv,
            "markdown" => Format::Markdown,
            _ => return None,
        })
    }
}

/// The longest argument text shown on a one-line summary.
const ARGS_SHOWN: usize = 60;

/// One event, summed up in a line.
#[derive(Debug, Clone, PartialEq)]
pub struct Summary {
    pub time: String,
    pub server: String,
    pub kind: String,
    pub tool: String,
    pub outcome: String,
    pub duration_ms: Option<f64>,
    pub arguments: String,
}

/// The columns of a [`Summary`], for CSV and table headers.
pub const SUMMARY_COLUMNS: [&str; 7] = [
    "time",
    "server",
    "type",
    "tool",
    "outcome",
    "duration_ms",
    "arguments",
];

impl Summary {
    /// The summary of an event.
    pub fn of(e: &EventView<'_>) -> Summary {
        Summary {
            time: e.timestamp.to_string(),
            server: e.server.to_string(),
            kind: e.kind.to_string(),
            tool: e.tool().to_owned(),
            outcome: e.outcome.to_string(),
            duration_ms: e.duration_ms,
            arguments: short(e.arguments.map_or("", |a| a.get())),
        }
    }

    /// The summary of an answer joined to its call ([`super::join`]).
    pub fn of_joined(o: &Map<String, Value>) -> Summary {
        let s = |k: &str| o.get(k).and_then(Value::as_str).unwrap_or("").to_owned();
        Summary {
            time: s("answered_at"),
            server: s("server"),
            kind: s("type"),
            tool: s("tool"),
            outcome: s("outcome"),
            duration_ms: o.get("duration_ms").and_then(Value::as_f64),
            arguments: short(&o.get("arguments").map_or(String::new(), |a| match a {
                Value::Null => String::new(),
                a => a.to_string(),
            })),
        }
    }

    fn cells(&self) -> [String; 7] {
        [
            self.time.clone(),
            self.server.clone(),
            self.kind.clone(),
            self.tool.clone(),
            self.outcome.clone(),
            self.duration_ms.map_or(String::new(), |d| format!("{d}")),
            self.arguments.clone(),
        ]
    }

    /// The `tail` line: `HH:MM:SS.mmm server type tool outcome duration args`,
    /// coloured by outcome when `colour`.
    pub fn write_line(&self, colour: bool, out: &mut dyn Write) -> io::Result<()> {
        let time = self.time.get(11..23).unwrap_or(&self.time);
        let (on, off) = match (colour, self.outcome.as_str()) {
            (true, "failure") => ("\x1b[31m", "\x1b[0m"),
            (true, "blocked") => ("\x1b[35m", "\x1b[0m"),
            (true, "pending") => ("\x1b[36m", "\x1b[0m"),
            (true, _) => ("\x1b[32m", "\x1b[0m"),
            (false, _) => ("", ""),
        };
        let duration = self
            .duration_ms
            .map_or(String::new(), |d| format!("{d:.1}ms"));
        writeln!(
            out,
            "{time} {:<12} {:<16} {:<20} {on}{:<8}{off} {duration:>9} {}",
            safe(&self.server),
            safe(&self.kind),
            safe(&self.tool),
            safe(&self.outcome),
            safe(&self.arguments)
        )
    }

    /// One CSV record.
    pub fn write_csv(&self, out: &mut dyn Write) -> io::Result<()> {
        write_csv_record(self.cells().iter().map(String::as_str), out)
    }
}

/// `s` with control characters escaped (`\u{1b}`), for a terminal.
pub fn safe(s: &str) -> std::borrow::Cow<'_, str> {
    if s.chars().any(char::is_control) {
        s.chars()
            .map(|c| {
                if c.is_control() {
                    c.escape_default().to_string()
                } else {
                    c.to_string()
                }
            })
            .collect::<String>()
            .into()
    } else {
        s.into()
    }
}

/// The first [`ARGS_SHOWN`] characters of argument JSON, `…` if cut.
fn short(s: &str) -> String {
    match s.char_indices().nth(ARGS_SHOWN) {
        Some((i, _)) => format!("{}…", &s[..i]),
        None => s.to_owned(),
    }
}

/// One CSV record (RFC 4180 quoting).
pub fn write_csv_record<'a>(
    cells: impl Iterator<Item = &'a str>,
    out: &mut dyn Write,
) -> io::Result<()> {
    let mut first = true;
    for c in cells {
        if !first {
            out.write_all(b",")?;
        }
        first = false;
        if c.contains([',', '"', '\n', '\r']) {
            write!(out, "\"{}\"", c.replace('"', "\"\""))?;
        } else {
            out.write_all(c.as_bytes())?;
        }
    }
    out.write_all(b"\n")
}

/// Writes rows as `format`; table, CSV and Markdown show `columns`, in
/// that order.
pub fn write_rows(
    rows: &[Map<String, Value>],
    columns: &[&str],
    format: Format,
    out: &mut dyn Write,
) -> io::Result<()> {
    let headers = columns;
    let values = |r: &Map<String, Value>| -> Vec<Value> {
        columns
            .iter()
            .map(|c| r.get(*c).cloned().unwrap_or(Value::Null))
            .collect()
    };
    let cell = |v: &Value| match v {
        Value::Null => String::new(),
        Value::String(s) => safe(s).into_owned(),
        v => v.to_string(),
    };
    match format {
        Format::Json => {
            serde_json::to_writer_pretty(&mut *out, rows)?;
            out.write_all(b"\n")
        }
        Format::Jsonl => rows.iter().try_for_each(|r| {
            serde_json::to_writer(&mut *out, r)?;
            out.write_all(b"\n")
        }),
        Format::Csv => {
            write_csv_record(headers.iter().copied(), out)?;
            rows.iter().try_for_each(|r| {
                let cells: Vec<String> = values(r).iter().map(cell).collect();
                write_csv_record(cells.iter().map(String::as_str), out)
            })
        }
        Format::Markdown => {
            writeln!(out, "| {} |", headers.join(" | "))?;
            writeln!(out, "|{}", "---|".repeat(headers.len()))?;
            rows.iter().try_for_each(|r| {
                let cells: Vec<String> = values(r)
                    .iter()
                    .map(|v| cell(v).replace('|', "\\|"))
                    .collect();
                writeln!(out, "| {} |", cells.join(" | "))
            })
        }
        Format::Table => {
            let cells: Vec<Vec<String>> = rows
                .iter()
                .map(|r| values(r).iter().map(cell).collect())
                .collect();
            let mut widths: Vec<usize> = headers.iter().map(|h| h.chars().count()).collect();
            for row in &cells {
                for (w, c) in widths.iter_mut().zip(row) {
                    *w = (*w).max(c.chars().count());
                }
            }
            let line = |cs: &mut dyn Iterator<Item = &str>, out: &mut dyn Write| {
                let padded: Vec<String> =
                    cs.zip(&widths).map(|(c, w)| format!("{c:<w$}")).collect();
                writeln!(out, "{}", padded.join("  ").trim_end())
            };
            line(&mut headers.iter().copied(), out)?;
            cells
                .iter()
                .try_for_each(|row| line(&mut row.iter().map(String::as_str), out))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn control_characters_never_reach_the_terminal() {
        let e = EventView::parse(br#"{"timestamp":"2026-01-01T10:00:00.000Z","type":"tool_call","tool":"x\u001b[2Jy","server":"s","outcome":"pending"}"#).unwrap();
        let mut out = Vec::new();
        Summary::of(&e).write_line(false, &mut out).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert!(!text.contains('\x1b'), "{text:?}");
        assert!(text.starts_with("10:00:00.000 s "), "{text}");
    }

    #[test]
    fn rows_in_every_format() {
        let rows: Vec<Map<String, Value>> = vec![
            json!({"tool": "a,b", "calls": 2})
                .as_object()
                .unwrap()
                .clone(),
            json!({"tool": "c|d", "calls": 10})
                .as_object()
                .unwrap()
                .clone(),
        ];
        let render = |f| {
            let mut out = Vec::new();
            write_rows(&rows, &["tool", "calls"], f, &mut out).unwrap();
            String::from_utf8(out).unwrap()
        };
        assert_eq!(render(Format::Csv), "tool,calls\n\"a,b\",2\nc|d,10\n");
        assert_eq!(render(Format::Table), "tool  calls\na,b   2\nc|d   10\n");
        assert!(render(Format::Markdown).contains("| c\\|d | 10 |"));
        let back: Value = serde_json::from_str(&render(Format::Json)).unwrap();
        assert_eq!(back[1]["calls"], 10);
    }
}
