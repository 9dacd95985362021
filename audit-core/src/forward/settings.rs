//! The forwarding setup of the effective settings (`[forward]`).

use std::time::Duration;

use super::{ForwardConfig, ForwardError, ForwardPolicy, ForwardUrl, TlsFiles};
use crate::config::Settings;
use crate::sink::QueueFullPolicy;

impl ForwardConfig {
    /// The forwarding setup of `settings`; `None` when no URL is set. A bad
    /// URL is an error naming it and the valid forms.
    pub fn from_settings(settings: &Settings) -> Result<Option<ForwardConfig>, ForwardError> {
        let f = &settings.forward;
        let urls = f
            .urls
            .value
            .iter()
            .map(|u| u.trim())
            .filter(|u| !u.is_empty())
            .map(ForwardUrl::parse)
            .collect::<Result<Vec<_>, _>>()?;
        if urls.is_empty() {
            return Ok(None);
        }
        Ok(Some(ForwardConfig {
            urls,
            spool: f.spool.value.clone(),
            max_message_bytes: usize::try_from(f.max_message_bytes.value.get())
                .unwrap_or(usize::MAX),
            tls: TlsFiles {
                ca_file: f.ca_file.value.clone(),
                client_cert: f.client_cert.value.clone(),
                client_key: f.client_key.value.clone(),
            },
            policy: match f.queue_policy.value {
                QueueFullPolicy::Block => ForwardPolicy::Block,
                QueueFullPolicy::Drop => ForwardPolicy::Drop,
            },
            block_timeout: Duration::from_millis(f.block_ms.value),
            ..ForwardConfig::default()
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::LoadInput;

    fn load(flags: Vec<(&'static str, String, &'static str)>) -> Settings {
        Settings::load(LoadInput {
            flags,
            ..LoadInput::default()
        })
        .unwrap()
    }

    #[test]
    fn no_url_no_forwarding_and_flags_fill_the_config() {
        assert!(ForwardConfig::from_settings(&load(vec![]))
            .unwrap()
            .is_none());
        let s = load(vec![
            (
                "forward.urls",
                "syslog+tcp://127.0.0.1:514,otlp+http://h:4318".into(),
                "--forward",
            ),
            ("forward.spool", "/tmp/spool".into(), "--forward-spool"),
            (
                "forward.queue_policy",
                "drop".into(),
                "--forward-queue-policy",
            ),
            (
                "forward.max_message_bytes",
                "65536".into(),
                "--forward-max-message-bytes",
            ),
        ]);
        let c = ForwardConfig::from_settings(&s).unwrap().unwrap();
        assert_eq!(c.urls.len(), 2);
        assert_eq!(c.spool.as_deref(), Some(std::path::Path::new("/tmp/spool")));
        assert_eq!(c.policy, ForwardPolicy::Drop);
        assert_eq!(c.max_message_bytes, 65536);
    }

    #[test]
    fn a_bad_url_names_itself() {
        let s = load(vec![("forward.urls", "syslog://h:1".into(), "--forward")]);
        let e = ForwardConfig::from_settings(&s).unwrap_err().to_string();
        assert!(
            e.contains("\"syslog://h:1\"") && e.contains("unknown scheme"),
            "{e}"
        );
    }
}
