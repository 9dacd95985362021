//! Each part of the pipeline from the settings that describe it.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::StartError;
use crate::config::{AuditSettings, OnAuditFailure, Settings};
use crate::forward::{ForwardConfig, Forwarders};
use crate::pin::PinFile;
use crate::redact::{HmacKey, RedactConfig};
use crate::sign::{Checkpointer, SecretKey};
use crate::sink::{self, LineFeed, RetentionLimits, RotationPolicy, SinkTarget, WriterConfig};

/// Where events go, checked before the server starts: an unusable target
/// fails fast with one line, unless `audit.on_failure` is `open`, which runs
/// the server unaudited (`Ok(None)`).
pub(super) fn audit_target(
    settings: &Settings,
) -> Result<Option<sink::PreparedTarget>, StartError> {
    let a = &settings.audit;
    let options = sink::TargetOptions {
        allow_shared_dir: a.allow_shared_dir.value,
    };
    match sink::prepare(&target_of(a), options, std::time::SystemTime::now()) {
        Ok(prepared) => Ok(Some(prepared)),
        Err(e) if a.on_failure.value == OnAuditFailure::Open => {
            tracing::error!("{e}; audit.on_failure is open: the server runs unaudited");
            Ok(None)
        }
        Err(e) => Err(StartError::Target(e)),
    }
}

/// The target the settings name: `audit.file` (`-` is stderr), else
/// `audit.dir`.
fn target_of(a: &AuditSettings) -> SinkTarget {
    match &a.file.value {
        Some(f) if f == "-" => SinkTarget::Stderr,
        Some(f) => SinkTarget::File(PathBuf::from(f)),
        None => SinkTarget::Dir(a.dir.value.clone()),
    }
}

/// The retention limits the settings ask for (`0` turns an age or size
/// limit off).
fn retention_limits(a: &AuditSettings) -> RetentionLimits {
    const DAY: u64 = 24 * 3600;
    let days = a.max_age_days.value;
    let mib = a.max_total_size_mb.value;
    RetentionLimits {
        max_age: (days > 0).then(|| Duration::from_secs(days.saturating_mul(DAY))),
        max_total_bytes: (mib > 0).then(|| mib.saturating_mul(1024 * 1024)),
        min_age: Duration::from_secs(a.min_age_hours.value.saturating_mul(3600)),
    }
}

pub(super) fn writer_config(settings: &Settings) -> WriterConfig {
    let a = &settings.audit;
    WriterConfig {
        when_full: a.queue_policy.value,
        fsync: a.fsync.value,
        fsync_interval: Duration::from_millis(a.fsync_interval_ms.value),
        rotation: RotationPolicy {
            max_file_size: a.max_size_mb.value.get().saturating_mul(1024 * 1024),
            max_files: a.max_files.value.get() as usize,
        },
        retention: retention_limits(a),
        // The same key signs the seal index; `checkpointer` refuses an
        // unreadable one before the writer starts.
        seal_key: (a.signing_key.value.as_deref())
            .and_then(|p| SecretKey::load(p).ok())
            .map(Arc::new),
        ..WriterConfig::default()
    }
}

/// What the redactor is built from (on the auditor thread).
pub(super) fn redact_config(settings: &Settings) -> Result<RedactConfig, StartError> {
    let a = &settings.audit;
    let hmac_key = match &a.hmac_key_file.value {
        Some(path) => Some(HmacKey::from_file(path).map_err(StartError::HmacKey)?),
        None => None,
    };
    Ok(RedactConfig {
        enabled: a.redact_sensitive.value,
        extra_keys: a.redact_keys.value.clone(),
        extra_patterns: a
            .redact_patterns
            .value
            .0
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect(),
        max_field_chars: a.max_field_chars.value.get() as usize,
        hmac_key,
    })
}

/// The checkpoint signer, if a signing key is configured.
pub(super) fn checkpointer(settings: &Settings) -> Result<Option<Checkpointer>, StartError> {
    let a = &settings.audit;
    let Some(path) = &a.signing_key.value else {
        return Ok(None);
    };
    let key = SecretKey::load(path).map_err(|error| StartError::SigningKey {
        from: a.signing_key.source.clone(),
        error,
    })?;
    Ok(Some(Checkpointer::new(
        key,
        a.checkpoint_events.value.max(1),
        Duration::from_secs(a.checkpoint_seconds.value.max(1)),
        Instant::now(),
    )))
}

/// The approved tool definitions of this server, if a pin file has them: the
/// classifier compares the session's first listing with them, enforced or not.
pub(super) fn pinned_tools(
    path: &Path,
    server: &str,
) -> Option<BTreeMap<String, serde_json::Value>> {
    match PinFile::load_or_empty(path) {
        Ok(file) => {
            let pins = file.servers.get(server)?;
            Some(
                pins.tools
                    .iter()
                    .map(|(name, t)| (name.clone(), t.definition.clone()))
                    .collect(),
            )
        }
        Err(e) => {
            tracing::warn!("{e}; tool definitions are not compared with pins");
            None
        }
    }
}

/// The forwarders of `[forward]`, started (they connect when events come):
/// a bad URL, TLS file or spool fails before the server starts.
pub(super) fn forwarders(settings: &Settings) -> Result<Option<Arc<dyn LineFeed>>, StartError> {
    let fail = |error| StartError::Forward {
        from: settings.forward.urls.source.clone(),
        error,
    };
    match ForwardConfig::from_settings(settings).map_err(fail)? {
        Some(config) => {
            let forwarders = Forwarders::start(&config).map_err(fail)?;
            Ok(Some(Arc::new(forwarders)))
        }
        None => Ok(None),
    }
}

/// The transcript file, opened (0600, no link followed), if one is set, and
/// whether it keeps exact bytes.
pub(super) fn open_transcript(
    settings: &Settings,
) -> Result<Option<(std::fs::File, bool)>, StartError> {
    let a = &settings.audit;
    let Some(path) = &a.transcript.value else {
        return Ok(None);
    };
    let file = crate::transcript::open_private(path).map_err(|e| StartError::Transcript {
        path: path.clone(),
        reason: e.to_string(),
    })?;
    let raw = a.transcript_raw.value;
    if raw {
        tracing::warn!(
            "the transcript {} keeps exact bytes ({}): credentials in tool traffic will reach it unredacted",
            path.display(),
            a.transcript_raw.source
        );
    }
    Ok(Some((file, raw)))
}
