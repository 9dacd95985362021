//! `mcp-blackbox compliance`: per control of a framework, what the trail
//! evidences and what the current settings lack, in Markdown, HTML or JSON.
//! Thin glue over [`audit_core::analysis::compliance`]; docs/compliance.md
//! is the guide.

use std::io::Write;

use anyhow::{bail, Context, Result};
use audit_core::analysis::compliance::{
    assess, render, to_json, Evidence, FileFacts, Framework, Inputs, Setup, VerifyFacts,
};
use audit_core::trail::trail_files;
use audit_core::verify::verify_paths;

use crate::anomalies_cmd::write_json;
use crate::config_cmd::reader_settings;
use crate::document::{DocFormat, DocumentArgs};
use crate::read_cmd::{fold_events, TrailArgs};

/// Arguments of `mcp-blackbox compliance`.
#[derive(Debug, clap::Args)]
pub struct ComplianceArgs {
    #[command(flatten)]
    pub trail: TrailArgs,
    /// gdpr, hipaa, pci-dss or soc2.
    #[arg(long, value_name = "NAME")]
    pub framework: String,
    #[command(flatten)]
    pub document: DocumentArgs,
}

/// Runs `compliance`; exit status 0.
pub fn run(args: ComplianceArgs) -> Result<i32> {
    let Some(framework) = Framework::parse(&args.framework) else {
        bail!(
            "invalid --framework `{}`; valid: gdpr, hipaa, pci-dss, soc2",
            args.framework
        );
    };
    let settings = reader_settings(args.trail.config.clone())?;
    let key = args.document.public_key(&settings)?;
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
    args.document
        .emit(|out: &mut dyn Write| match args.document.format {
            DocFormat::Json => write_json(&to_json(framework, &inputs, &controls), out),
            DocFormat::Html => render::write_html(framework, &inputs, &controls, out),
            DocFormat::Md => render::write_markdown(framework, &inputs, &controls, out),
        })
}
