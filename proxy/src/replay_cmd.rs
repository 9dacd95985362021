//! `mcp-blackbox replay`: acts as the MCP server on stdio from a transcript
//! (the matching is `audit_core::replay`; this is the stdio loop).

use std::io::{BufRead, BufWriter, Write};
use std::path::PathBuf;

use anyhow::{bail, Context};
use audit_core::redact::{RedactConfig, Redactor};
use audit_core::replay::{Replayer, Script};
use audit_core::transcript::{read_transcript, verify_chain};
use clap::Args;

/// Flags of `replay`.
#[derive(Debug, Args)]
pub struct ReplayArgs {
    /// A transcript written with --transcript (raw: --transcript-raw).
    #[arg(value_name = "TRANSCRIPT")]
    pub transcript: PathBuf,
    /// Requests must come in the recorded order.
    #[arg(long)]
    pub strict: bool,
    /// Serve a redacted transcript (its placeholders instead of the secrets).
    #[arg(long)]
    pub allow_redacted: bool,
}

/// Serves stdin's requests until it closes; 0, or 2 if the transcript is unusable.
pub fn run(args: ReplayArgs) -> anyhow::Result<i32> {
    let path = &args.transcript;
    let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    if let Err((line, why)) = verify_chain(&bytes) {
        bail!(
            "{}: hash chain broken at line {line}: {why}",
            path.display()
        );
    }
    let transcript =
        read_transcript(&bytes).with_context(|| format!("reading {}", path.display()))?;
    drop(bytes);
    if transcript.redacted && !args.allow_redacted {
        bail!(
            "{} is redacted: its answers carry placeholders, not what the server sent; record with --transcript-raw, or pass --allow-redacted",
            path.display()
        );
    }
    if transcript.redacted {
        eprintln!("mcp-blackbox replay: serving a redacted transcript: secrets are placeholders");
    }
    if transcript.truncated_frames > 0 {
        eprintln!(
            "mcp-blackbox replay: {} frames were recorded over {} bytes and are not replayable",
            transcript.truncated_frames, transcript.max_frame_bytes
        );
    }
    let mut replayer = Replayer::new(Script::from_transcript(&transcript), args.strict);
    if transcript.redacted {
        // As the recording proxy did by default, without cutting strings.
        let config = RedactConfig {
            max_field_chars: 0,
            ..RedactConfig::default()
        };
        replayer = replayer.redacting(Redactor::new(&config).context("building the redactor")?);
    }
    drop(transcript);
    let stdin = std::io::stdin().lock();
    let mut out = BufWriter::new(std::io::stdout().lock());
    for line in stdin.split(b'\n') {
        let line = line.context("reading stdin")?;
        for reply in replayer.answer(&line) {
            out.write_all(&reply.bytes)?;
            if reply.newline {
                out.write_all(b"\n")?;
            }
        }
        out.flush().context("writing stdout")?;
    }
    Ok(0)
}
