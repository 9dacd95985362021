//! Each part of the pipeline from the settings that describe it.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::StartError;
use crate::config::{OnAuditFailure, Settings};
use crate::forward::{ForwardConfig, Forwarders};
use crate::pin::PinFile;
use crate::redact::{HmacKey, RedactConfig};
use crate::sign::{Checkpointer, SecretKey};
use crate::sink::{self, RotationPolicy, WriterConfig};

/// Where events go, checked before the server starts: an unusable target
/// fails fast with one line, unless `audit.on_failure` is `open`, which runs
/// the server unaudited (`Ok(None)`).
pub(super) fn audit_target(
    settings: &Settings,
) -> Result<Option<sink::PreparedTarget>, StartError> {
    let a = &settings.audit;
    let options = sink::TargetOptions::from_settings(a);
    match sink::prepare(&sink::target_of(a), options, std::time::SystemTime::now()) {
        Ok(prepared) => Ok(Some(prepared)),
        Err(e) if a.on_failure.value == OnAuditFailure::Open => {
            tracing::error!("{e}; audit.on_failure is open: the server runs unaudited");
            Ok(None)
        }
        Err(e) => Err(StartError::Target(e)),
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
        retention: sink::RetentionLimits::from_settings(a),
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
pub(super) fn forwarders(settings: &Settings) -> Result<Option<Arc<Forwarders>>, StartError> {
    let fail = |error| StartError::Forward {
        from: settings.forward.urls.source.clone(),
        error,
    };
    match ForwardConfig::from_settings(settings).map_err(fail)? {
        Some(config) => Ok(Some(Arc::new(Forwarders::start(&config).map_err(fail)?))),
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
