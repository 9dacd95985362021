//! `mcp-blackbox compliance`: per control of a framework, what the trail
//! evidences and what the current settings lack, in Markdown, HTML or JSON.
//! Thin glue over [`audit_core::analysis::compliance`]; docs/compliance.md
//! is the guide.

use std::io::Write;
use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use audit_core::analysis::compliance::{
    assess, render, to_json, Evidence, FileFacts, Framework, Inputs, Setup, VerifyFacts,
};
use audit_core::analysis::report::out::write_private;
use audit_core::config::{LoadInput, Settings};
use audit_core::sign::PublicKey;
use audit_core::trail::trail_files;
use audit_core::verify::verify_paths;

use crate::anomalies_cmd::{to_stdout, write_json};
use crate::config_cmd::{home_dir, process_env};
use crate::read_cmd::{fold_events, TrailArgs};

/// Arguments of `mcp-blackbox compliance`.
#[derive(Debug, clap::Args)]
pub struct ComplianceArgs {
    #[command(flatten)]
    pub trail: TrailArgs,
    /// gdpr, hipaa, pci-dss or soc2.
    #[arg(long, value_name = "NAME")]
    pub framework: String,
    /// md, html or json.
    #[arg(long, value_name = "FORMAT", default_value = "md")]
    pub format: String,
    /// Write to this file (created 0600) instead of stdout.
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// Public key (`KEY.pub` from `keygen`): check the sessions' signatures.
    #[arg(long, value_name = "PUB")]
    pub key: Option<PathBuf>,
}

/// Runs `compliance`; exit status 0.
pub fn run(args: ComplianceArgs) -> Result<i32> {
    let Some(framework) = Framework::parse(&args.framework) else {
        bail!(
            "invalid --framework `{}`; valid: gdpr, hipaa, pci-dss, soc2",
            args.framework
        );
    };
    if !matches!(args.format.as_str(), "md" | "html" | "json") {
        bail!("invalid --format `{}`; valid: md, html, json", args.format);
    }
    let key = match &args.key {
        Some(p) => Some(
            PublicKey::load(p).with_context(|| format!("while reading --key {}", p.display()))?,
        ),
        None => None,
    };
    let settings = Settings::load(LoadInput {
        config_path: args.trail.config.clone(),
        home: home_dir(),
        env: process_env(),
        ..LoadInput::default()
    })?;
    let filter = args.trail.filter()?;
    let paths = args.trail.paths()?;
    let files = trail_files(&paths)?;
    let evidence = fold_events(
        &files,
        &filter,
        &|ev: &mut Evidence, e, l| ev.add(e, l),
        Evidence::merge,
    )?;
    let verify = verify_paths(&paths, key.as_ref()).context("while verifying the audit trail")?;
    let inputs = Inputs {
        evidence,
        setup: Setup::of(&settings),
        files: FileFacts::of(&files),
        verify: VerifyFacts::of(&verify),
    };
    let controls = assess(framework, &inputs);
    let write = |out: &mut dyn Write| match args.format.as_str() {
        "json" => write_json(&to_json(framework, &inputs, &controls), out),
        "html" => render::write_html(framework, &inputs, &controls, out),
        _ => render::write_markdown(framework, &inputs, &controls, out),
    };
    match &args.out {
        Some(path) => write_private(path, write)
            .with_context(|| format!("while writing --out {}", path.display()))
            .map(|()| 0),
        None => to_stdout(write),
    }
}
