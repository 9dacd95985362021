//! Real log collectors for the forwarding scenarios: rsyslog (Debian's
//! `rsyslog`, `rsyslog-gnutls`) and rotel's OTLP collector (PyPI `rotel`),
//! installed by `scripts/install-peers.sh`. Each test starts its own, in the
//! foreground, on a free loopback port, and reads what it received from a
//! file.
//!
//! A missing collector fails the test under `CI=true` and skips it elsewhere,
//! like a missing MCP peer ([`crate::peers`]).

use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use crate::process::{wait_exit, wait_until};

/// A free loopback TCP port (bound, then released for the collector).
pub fn free_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").expect("binding a free port");
    l.local_addr().expect("local address").port()
}

/// `None` (after saying why) when a collector is missing; panics under CI.
fn present(what: &str, path: &Path) -> Option<PathBuf> {
    if path.exists() {
        return Some(path.to_owned());
    }
    let msg = format!(
        "{what} missing at {}; run scripts/install-peers.sh",
        path.display()
    );
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!("{msg} (CI=true: a missing collector is a failure, not a skip)");
    }
    eprintln!("SKIPPED: {msg}");
    None
}

/// TLS files rsyslog's gtls driver serves with (PEM paths).
#[derive(Debug, Clone)]
pub struct ServerTls {
    pub ca: PathBuf,
    pub cert: PathBuf,
    pub key: PathBuf,
}

/// One rsyslogd, receiving octet-counted syslog on a loopback port and
/// writing each message's raw text (`%rawmsg%`) as one line of a file.
#[derive(Debug)]
pub struct Rsyslog {
    child: Option<Child>,
    pub port: u16,
    /// The file of received messages.
    pub output: PathBuf,
    dir: PathBuf,
    tls: Option<ServerTls>,
    max_message: usize,
}

impl Rsyslog {
    /// Whether `rsyslogd` and its TLS driver are installed.
    pub fn available() -> bool {
        let daemon = present("rsyslogd", Path::new("/usr/sbin/rsyslogd")).is_some();
        daemon
            && present(
                "rsyslog-gnutls",
                Path::new("/usr/lib/x86_64-linux-gnu/rsyslog/lmnsd_gtls.so"),
            )
            .is_some()
    }

    /// A stopped rsyslog using `dir` for its files, on a free port.
    pub fn new(dir: &Path, tls: Option<ServerTls>, max_message: usize) -> Rsyslog {
        Rsyslog {
            child: None,
            port: free_port(),
            output: dir.join("received.log"),
            dir: dir.to_owned(),
            tls,
            max_message,
        }
    }

    fn config(&self) -> String {
        let work = self.dir.join("work");
        std::fs::create_dir_all(&work).expect("rsyslog work dir");
        let mut global = format!(
            "global(workDirectory=\"{}\" maxMessageSize=\"{}\"",
            work.display(),
            self.max_message
        );
        let mut module = String::from("module(load=\"imtcp\"");
        if let Some(t) = &self.tls {
            global += &format!(
                " defaultNetstreamDriver=\"gtls\" defaultNetstreamDriverCAFile=\"{}\" defaultNetstreamDriverCertFile=\"{}\" defaultNetstreamDriverKeyFile=\"{}\"",
                t.ca.display(),
                t.cert.display(),
                t.key.display()
            );
            module += " streamDriver.name=\"gtls\" streamDriver.mode=\"1\" streamDriver.authMode=\"anon\"";
        }
        format!(
            "{global})\n{module})\n\
             template(name=\"raw\" type=\"string\" string=\"%rawmsg%\\n\")\n\
             ruleset(name=\"fwd\") {{ action(type=\"omfile\" file=\"{}\" template=\"raw\" asyncWriting=\"off\" flushOnTXEnd=\"on\") }}\n\
             input(type=\"imtcp\" address=\"127.0.0.1\" port=\"{}\" ruleset=\"fwd\" supportOctetCountedFraming=\"on\")\n",
            self.output.display(),
            self.port
        )
    }

    /// Starts rsyslogd in the foreground and waits until it accepts connections.
    pub fn start(&mut self) {
        let conf = self.dir.join("rsyslog.conf");
        std::fs::write(&conf, self.config()).expect("writing rsyslog.conf");
        let check = Command::new("/usr/sbin/rsyslogd")
            .args(["-N1", "-f"])
            .arg(&conf)
            .output()
            .expect("rsyslogd -N1");
        assert!(
            check.status.success(),
            "rsyslog.conf invalid: {}",
            String::from_utf8_lossy(&check.stderr)
        );
        let child = Command::new("/usr/sbin/rsyslogd")
            .arg("-n")
            .arg("-f")
            .arg(&conf)
            .arg("-i")
            .arg(self.dir.join("rsyslogd.pid"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            // Its own complaints (the readiness probe's bare connection) are noise here.
            .stderr(Stdio::null())
            .spawn()
            .expect("starting rsyslogd");
        self.child = Some(child);
        let port = self.port;
        wait_until("rsyslogd listening", || {
            TcpStream::connect(("127.0.0.1", port)).is_ok()
        });
    }

    /// Stops rsyslogd (SIGTERM) and waits for it to exit.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            // SAFETY: kill(2) has no memory-safety preconditions.
            unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
            wait_exit(&mut child, "rsyslogd");
        }
    }

    /// The messages received so far, one per line.
    pub fn messages(&self) -> Vec<String> {
        std::fs::read_to_string(&self.output)
            .unwrap_or_default()
            .lines()
            .map(str::to_owned)
            .collect()
    }
}

impl Drop for Rsyslog {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// The parts of an RFC 5424 message: header fields, structured data, message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Syslog5424 {
    pub pri: u8,
    pub header: Vec<String>,
    pub structured_data: String,
    pub msg: String,
}

/// Splits `text` (`<PRI>1 TS HOST APP PROCID MSGID SD MSG`); `None` if it is
/// not RFC 5424.
pub fn parse_5424(text: &str) -> Option<Syslog5424> {
    let rest = text.strip_prefix('<')?;
    let (pri, rest) = rest.split_once('>')?;
    let mut fields = rest.splitn(7, ' ');
    let header: Vec<String> = fields.by_ref().take(6).map(str::to_owned).collect();
    let tail = fields.next()?;
    if header.len() != 6 || header[0] != "1" {
        return None;
    }
    // Structured data ends at the first unescaped `]` followed by a space.
    let bytes = tail.as_bytes();
    let mut i = 0;
    let mut escaped = false;
    while i < bytes.len() {
        match bytes[i] {
            b'\\' if !escaped => escaped = true,
            b']' if !escaped && bytes.get(i + 1) == Some(&b' ') => break,
            _ => escaped = false,
        }
        i += 1;
    }
    Some(Syslog5424 {
        pri: pri.parse().ok()?,
        header,
        structured_data: tail.get(..=i)?.to_owned(),
        msg: tail.get(i + 2..).unwrap_or("").to_owned(),
    })
}

/// rotel's collector, receiving OTLP/HTTP on a loopback port and printing
/// every log record it gets (its debug exporter) to a file.
#[derive(Debug)]
pub struct Rotel {
    child: Child,
    pub port: u16,
    output: PathBuf,
}

impl Rotel {
    /// The `rotel-agent` binary inside the installed wheel.
    pub fn binary() -> Option<PathBuf> {
        let root = std::env::var_os("MCP_BLACKBOX_PEERS")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../.peers"));
        let lib = root.join("collectors/lib");
        let found = std::fs::read_dir(&lib).ok().and_then(|dir| {
            dir.filter_map(Result::ok)
                .map(|e| e.path().join("site-packages/rotel/rotel-agent"))
                .find(|p| p.exists())
        });
        present(
            "rotel-agent",
            &found.unwrap_or_else(|| lib.join("python3/site-packages/rotel/rotel-agent")),
        )
    }

    /// Starts `binary` on free ports, writing records to `dir/rotel.out`.
    pub fn start(binary: &Path, dir: &Path) -> Rotel {
        let (port, grpc) = (free_port(), free_port());
        let output = dir.join("rotel.out");
        let out = std::fs::File::create(&output).expect("rotel output file");
        let child = Command::new(binary)
            .arg("start")
            .args(["--otlp-http-endpoint", &format!("127.0.0.1:{port}")])
            .args(["--otlp-grpc-endpoint", &format!("127.0.0.1:{grpc}")])
            .args(["--exporter", "blackhole", "--debug-log", "logs"])
            .args(["--debug-log-verbosity", "detailed"])
            .stdin(Stdio::null())
            .stdout(out.try_clone().expect("dup"))
            .stderr(out)
            .spawn()
            .expect("starting rotel-agent");
        wait_until("rotel listening", || {
            TcpStream::connect(("127.0.0.1", port)).is_ok()
        });
        Rotel {
            child,
            port,
            output,
        }
    }

    /// The log records printed so far: each record's text block.
    pub fn records(&self) -> Vec<String> {
        let text = std::fs::read_to_string(&self.output).unwrap_or_default();
        text.split("LogRecord #")
            .skip(1)
            .map(str::to_owned)
            .collect()
    }
}

impl Drop for Rotel {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `name: Str(value)` of a rotel record block, the value's text.
pub fn rotel_field<'a>(record: &'a str, name: &str) -> Option<&'a str> {
    record.lines().find_map(|l| {
        let l = l.trim();
        let rest = l.strip_prefix(name)?.trim_start();
        let rest = rest.strip_prefix(':')?.trim();
        Some(
            rest.strip_prefix("Str(")
                .and_then(|r| r.strip_suffix(')'))
                .unwrap_or(rest),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_a_5424_message_with_escapes_in_structured_data() {
        let m = parse_5424(
            r#"<108>1 2026-01-01T00:00:00.000Z h app 1 tool_call [mcp@32473 tool="a\] b"] {"x":1}"#,
        )
        .unwrap();
        assert_eq!(m.pri, 108);
        assert_eq!(m.header[5], "tool_call");
        assert_eq!(m.structured_data, r#"[mcp@32473 tool="a\] b"]"#);
        assert_eq!(m.msg, r#"{"x":1}"#);
        let rec = "0\n     -> event_id: Str(e1)\n    Trace ID       : ab\n";
        assert_eq!(rotel_field(rec, "-> event_id"), Some("e1"));
        assert_eq!(rotel_field(rec, "Trace ID"), Some("ab"));
    }
}
