//! Forwarding URLs: `syslog+tcp://`, `syslog+tls://`, `syslog+udp://` and
//! `otlp+http://`, each `HOST:PORT` with an optional path for OTLP.
//!
//! Parsing is pure and every error says what would be valid.

use std::fmt;

/// How events travel to a collector.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scheme {
    /// RFC 5424 over TCP, octet-counted (RFC 6587).
    SyslogTcp,
    /// RFC 5424 over TLS, octet-counted (RFC 5425).
    SyslogTls,
    /// RFC 5424, one datagram per event (RFC 5426).
    SyslogUdp,
    /// OTLP/HTTP logs, JSON encoding.
    OtlpHttp,
}

impl Scheme {
    fn parse(s: &str) -> Option<Scheme> {
        Some(match s {
            "syslog+tcp" => Scheme::SyslogTcp,
            "syslog+tls" => Scheme::SyslogTls,
            "syslog+udp" => Scheme::SyslogUdp,
            "otlp+http" => Scheme::OtlpHttp,
            _ => return None,
        })
    }

    fn as_str(self) -> &'static str {
        match self {
            Scheme::SyslogTcp => "syslog+tcp",
            Scheme::SyslogTls => "syslog+tls",
            Scheme::SyslogUdp => "syslog+udp",
            Scheme::OtlpHttp => "otlp+http",
        }
    }
}

/// A parsed forwarding URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ForwardUrl {
    pub scheme: Scheme,
    /// Host name or IP address (without brackets for IPv6).
    pub host: String,
    pub port: u16,
    /// The HTTP path (OTLP only): `/v1/logs` unless the URL names one.
    pub path: String,
}

/// What the valid forms are, for error messages.
pub const VALID_FORMS: &str = "syslog+tcp://HOST:PORT, syslog+tls://HOST:PORT, \
syslog+udp://HOST:PORT or otlp+http://HOST:PORT[/PATH]";

/// A URL that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("forward URL {url:?}: {reason}; expected {VALID_FORMS}")]
pub struct UrlError {
    pub url: String,
    pub reason: String,
}

impl ForwardUrl {
    /// Parses `text`.
    pub fn parse(text: &str) -> Result<ForwardUrl, UrlError> {
        let err = |reason: &str| UrlError {
            url: text.to_owned(),
            reason: reason.to_owned(),
        };
        let (scheme, rest) = text.split_once("://").ok_or_else(|| err("no scheme"))?;
        let scheme = Scheme::parse(scheme).ok_or_else(|| err("unknown scheme"))?;
        let (authority, path) = match rest.find('/') {
            Some(i) => (&rest[..i], &rest[i..]),
            None => (rest, ""),
        };
        if !path.is_empty() && scheme != Scheme::OtlpHttp {
            return Err(err("a syslog URL has no path"));
        }
        if authority.contains('@') || path.contains(['?', '#']) {
            return Err(err("user info, query and fragment are not supported"));
        }
        let (host, port) = split_host_port(authority).ok_or_else(|| err("missing :PORT"))?;
        if host.is_empty() {
            return Err(err("missing host"));
        }
        let port: u16 = port
            .parse()
            .ok()
            .filter(|p| *p != 0)
            .ok_or_else(|| err("port must be 1-65535"))?;
        let path = match path {
            "" | "/" if scheme == Scheme::OtlpHttp => "/v1/logs".to_owned(),
            p => p.to_owned(),
        };
        Ok(ForwardUrl {
            scheme,
            host: host.to_owned(),
            port,
            path,
        })
    }

    /// `host:port`, bracketing an IPv6 address, for connecting.
    pub fn authority(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }

    /// A file-name-safe key naming this destination (spool files).
    pub fn spool_key(&self) -> String {
        let raw = format!("{}-{}-{}", self.scheme.as_str(), self.host, self.port);
        raw.chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '-' || c == '.' {
                    c
                } else {
                    '_'
                }
            })
            .collect()
    }
}

impl fmt::Display for ForwardUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}://{}", self.scheme.as_str(), self.authority())?;
        if self.scheme == Scheme::OtlpHttp {
            f.write_str(&self.path)?;
        }
        Ok(())
    }
}

/// `host:port` or `[v6]:port`.
fn split_host_port(authority: &str) -> Option<(&str, &str)> {
    if let Some(rest) = authority.strip_prefix('[') {
        let (host, after) = rest.split_once(']')?;
        return Some((host, after.strip_prefix(':')?));
    }
    let (host, port) = authority.rsplit_once(':')?;
    (!host.contains(':')).then_some((host, port))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_each_scheme() {
        let u = ForwardUrl::parse("syslog+tcp://127.0.0.1:514").unwrap();
        assert_eq!(
            (u.scheme, u.host.as_str(), u.port),
            (Scheme::SyslogTcp, "127.0.0.1", 514)
        );
        assert_eq!(
            ForwardUrl::parse("syslog+tls://logs.example:6514")
                .unwrap()
                .scheme,
            Scheme::SyslogTls
        );
        assert_eq!(
            ForwardUrl::parse("syslog+udp://[::1]:514")
                .unwrap()
                .authority(),
            "[::1]:514"
        );
        let o = ForwardUrl::parse("otlp+http://collector:4318").unwrap();
        assert_eq!((o.scheme, o.path.as_str()), (Scheme::OtlpHttp, "/v1/logs"));
        assert_eq!(
            ForwardUrl::parse("otlp+http://c:4318/custom/logs")
                .unwrap()
                .path,
            "/custom/logs"
        );
        assert_eq!(o.to_string(), "otlp+http://collector:4318/v1/logs");
    }

    #[test]
    fn rejects_with_a_reason() {
        for (url, reason) in [
            ("127.0.0.1:514", "no scheme"),
            ("syslog://h:514", "unknown scheme"),
            ("syslog+tcp://h", "missing :PORT"),
            ("syslog+tcp://:514", "missing host"),
            ("syslog+tcp://h:0", "port must be 1-65535"),
            ("syslog+tcp://h:99999", "port must be 1-65535"),
            ("syslog+tcp://h:514/x", "a syslog URL has no path"),
            (
                "otlp+http://u@h:1",
                "user info, query and fragment are not supported",
            ),
        ] {
            let e = ForwardUrl::parse(url).unwrap_err();
            assert_eq!(e.reason, reason, "{url}");
            assert!(e.to_string().contains("syslog+tcp://HOST:PORT"));
        }
    }

    #[test]
    fn spool_key_is_a_safe_name() {
        let u = ForwardUrl::parse("syslog+udp://[::1]:514").unwrap();
        assert_eq!(u.spool_key(), "syslog_udp-__1-514");
    }
}
