//! `bench_server`: a minimal, fast MCP stdio server for benchmarks.
//!
//! Answers `initialize`, `tools/list` and `tools/call` of `echo` (returns its
//! `text`) and `blob` (returns `arguments.size` bytes of text); ignores
//! notifications. One line in, one line out, in order, so pipelined requests
//! are answered in the order they came. Output is flushed only when no further
//! request is already buffered, so a pipelined burst costs few `write`s.

use std::borrow::Cow;
use std::collections::HashMap;
use std::io::{self, BufRead, BufReader, BufWriter, Write};

use blackbox_tests::bench::{raw_stdin, raw_stdout, wire};
use serde::Deserialize;
use serde_json::value::RawValue;

#[derive(Deserialize)]
struct Request<'a> {
    #[serde(borrow)]
    id: Option<&'a RawValue>,
    #[serde(borrow)]
    method: Cow<'a, str>,
    #[serde(borrow)]
    params: Option<&'a RawValue>,
}

#[derive(Deserialize)]
struct CallParams<'a> {
    #[serde(borrow)]
    name: Cow<'a, str>,
    #[serde(default)]
    arguments: Arguments<'a>,
}

#[derive(Deserialize, Default)]
struct Arguments<'a> {
    #[serde(borrow, default)]
    text: Option<Cow<'a, str>>,
    #[serde(default)]
    size: Option<usize>,
}

const TOOLS: &str = r#"{"tools":[{"name":"echo","description":"Returns its text.","inputSchema":{"type":"object","properties":{"text":{"type":"string"}},"required":["text"]}},{"name":"blob","description":"Returns `size` bytes of text.","inputSchema":{"type":"object","properties":{"size":{"type":"integer","minimum":0}},"required":["size"]}}]}"#;

/// Blob texts already built, by size (benchmarks ask for a few sizes, often).
#[derive(Default)]
struct Blobs(HashMap<usize, Vec<u8>>);

impl Blobs {
    fn get(&mut self, size: usize) -> &[u8] {
        self.0.entry(size).or_insert_with(|| wire::blob_text(size))
    }
}

fn main() -> io::Result<()> {
    let mut input = BufReader::with_capacity(256 * 1024, raw_stdin()?);
    let mut out = BufWriter::with_capacity(256 * 1024, raw_stdout()?);
    let mut blobs = Blobs::default();
    let mut line = Vec::new();
    loop {
        line.clear();
        if input.read_until(b'\n', &mut line)? == 0 {
            break;
        }
        answer(&line, &mut blobs, &mut out)?;
        if input.buffer().is_empty() {
            out.flush()?;
        }
    }
    out.flush()
}

fn answer(line: &[u8], blobs: &mut Blobs, out: &mut impl Write) -> io::Result<()> {
    let Ok(req) = serde_json::from_slice::<Request>(line) else {
        if line.iter().all(u8::is_ascii_whitespace) {
            return Ok(());
        }
        return out.write_all(b"{\"jsonrpc\":\"2.0\",\"id\":null,\"error\":{\"code\":-32700,\"message\":\"parse error\"}}\n");
    };
    let Some(id) = req.id else {
        return Ok(()); // a notification
    };
    let id = id.get();
    match req.method.as_ref() {
        "initialize" => writeln!(
            out,
            "{{\"jsonrpc\":\"2.0\",\"id\":{id},\"result\":{{\"protocolVersion\":\"{}\",\"capabilities\":{{\"tools\":{{}}}},\"serverInfo\":{{\"name\":\"bench_server\",\"version\":\"0.1.0\"}}}}}}",
            wire::PROTOCOL_VERSION
        ),
        "tools/list" => writeln!(out, "{{\"jsonrpc\":\"2.0\",\"id\":{id},\"result\":{TOOLS}}}"),
        "tools/call" => call(id, req.params, blobs, out),
        "ping" => writeln!(out, "{{\"jsonrpc\":\"2.0\",\"id\":{id},\"result\":{{}}}}"),
        _ => error(out, id, -32601, "method not found"),
    }
}

fn call(
    id: &str,
    params: Option<&RawValue>,
    blobs: &mut Blobs,
    out: &mut impl Write,
) -> io::Result<()> {
    let Some(params) = params.and_then(|p| serde_json::from_str::<CallParams>(p.get()).ok()) else {
        return error(out, id, -32602, "invalid tools/call params");
    };
    let text: &[u8] = match (params.name.as_ref(), &params.arguments) {
        (
            "echo",
            Arguments {
                text: Some(text), ..
            },
        ) => {
            write!(out, "{{\"jsonrpc\":\"2.0\",\"id\":{id},\"result\":{{\"content\":[{{\"type\":\"text\",\"text\":")?;
            serde_json::to_writer(&mut *out, text.as_ref())?;
            return out.write_all(b"}]}}\n");
        }
        (
            "blob",
            Arguments {
                size: Some(size), ..
            },
        ) => blobs.get(*size),
        _ => return error(out, id, -32602, "unknown tool or missing argument"),
    };
    write!(out, "{{\"jsonrpc\":\"2.0\",\"id\":{id},\"result\":{{\"content\":[{{\"type\":\"text\",\"text\":\"")?;
    out.write_all(text)?;
    out.write_all(b"\"}]}}\n")
}

fn error(out: &mut impl Write, id: &str, code: i32, message: &str) -> io::Result<()> {
    writeln!(out, "{{\"jsonrpc\":\"2.0\",\"id\":{id},\"error\":{{\"code\":{code},\"message\":\"{message}\"}}}}")
}
