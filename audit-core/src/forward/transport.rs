//! Connections to collectors: syslog over TCP, TLS (rustls, `ring`
//! provider) and UDP, and OTLP/HTTP POSTs. A [`Connector`] opens a [`Link`];
//! a link sends batches of stamped lines in its wire format and reports any
//! failure as an error, after which the worker drops it and reconnects.
//!
//! A stream link checks before each batch that the collector has not closed
//! its end (a collector that shuts down cleanly sends FIN or TLS
//! `close_notify`): a write after that would be accepted by the kernel and
//! then lost, so the batch goes to the next connection (or the spool).

use std::io::{self, Read, Write};
use std::net::{TcpStream, ToSocketAddrs, UdpSocket};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};

use super::syslog::{Framing, SyslogFormat};
use super::url::{ForwardUrl, Scheme};
use super::{otlp, ForwardError};

/// How long a connect, a write or an HTTP exchange may take.
pub const IO_TIMEOUT: Duration = Duration::from_secs(10);
/// The largest UDP payload sent (IPv4's limit is 65,507).
const MAX_DATAGRAM: usize = 65_000;

/// A collector accepting batches of lines.
pub trait Link: Send {
    /// Sends `lines` (stamped JSONL lines). `Err` means some may not have
    /// arrived; [`io::ErrorKind::InvalidData`] means the collector refused
    /// them for good (retrying cannot help).
    fn send(&mut self, lines: &[Bytes]) -> io::Result<()>;
}

/// Opens links to one collector.
pub struct Connector {
    pub url: ForwardUrl,
    pub format: SyslogFormat,
    pub tls: Option<Arc<rustls::ClientConfig>>,
    /// OTLP `service.name`.
    pub service: String,
}

impl Connector {
    /// Connects (TCP and TLS handshake included) within [`IO_TIMEOUT`].
    pub fn connect(&self) -> io::Result<Box<dyn Link>> {
        match self.url.scheme {
            Scheme::SyslogTcp => Ok(Box::new(StreamLink {
                stream: self.tcp()?,
                format: self.format.clone(),
                out: Vec::new(),
            })),
            Scheme::SyslogTls => {
                let config = self
                    .tls
                    .clone()
                    .ok_or_else(|| io::Error::other("no TLS config"))?;
                let name = ServerName::try_from(self.url.host.clone())
                    .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
                let conn = rustls::ClientConnection::new(config, name).map_err(io::Error::other)?;
                let mut stream = rustls::StreamOwned::new(conn, self.tcp()?);
                while stream.conn.is_handshaking() {
                    stream.conn.complete_io(&mut stream.sock)?;
                }
                Ok(Box::new(StreamLink {
                    stream,
                    format: self.format.clone(),
                    out: Vec::new(),
                }))
            }
            Scheme::SyslogUdp => {
                let socket = UdpSocket::bind(if self.url.host.contains(':') {
                    "[::]:0"
                } else {
                    "0.0.0.0:0"
                })?;
                socket.connect(self.url.authority())?;
                let mut format = self.format.clone();
                format.max_message = format.max_message.min(MAX_DATAGRAM);
                Ok(Box::new(UdpLink {
                    socket,
                    format,
                    out: Vec::new(),
                }))
            }
            Scheme::OtlpHttp => {
                // Fail fast while the collector is down, like the stream links.
                drop(self.tcp()?);
                let config = ureq::Agent::config_builder()
                    .timeout_global(Some(IO_TIMEOUT))
                    .http_status_as_error(false)
                    .build();
                Ok(Box::new(HttpLink {
                    agent: config.into(),
                    url: format!("http://{}{}", self.url.authority(), self.url.path),
                    service: self.service.clone(),
                }))
            }
        }
    }

    fn tcp(&self) -> io::Result<TcpStream> {
        let mut last = io::Error::new(io::ErrorKind::NotFound, "no address");
        for addr in self.url.authority().to_socket_addrs()? {
            match TcpStream::connect_timeout(&addr, IO_TIMEOUT) {
                Ok(s) => {
                    s.set_write_timeout(Some(IO_TIMEOUT))?;
                    s.set_read_timeout(Some(IO_TIMEOUT))?;
                    s.set_nodelay(true)?;
                    return Ok(s);
                }
                Err(e) => last = e,
            }
        }
        Err(last)
    }
}

/// A byte stream whose far end may have closed.
trait Stream: Read + Write + Send {
    fn socket(&self) -> &TcpStream;
    /// Ends the stream politely (TLS: `close_notify`), best effort.
    fn close(&mut self) {}
}

impl Stream for TcpStream {
    fn socket(&self) -> &TcpStream {
        self
    }
}

impl Stream for rustls::StreamOwned<rustls::ClientConnection, TcpStream> {
    fn socket(&self) -> &TcpStream {
        &self.sock
    }

    fn close(&mut self) {
        self.conn.send_close_notify();
        let _ = self.conn.complete_io(&mut self.sock);
    }
}

/// Syslog over TCP or TLS, octet-counted.
struct StreamLink<S: Stream> {
    stream: S,
    format: SyslogFormat,
    out: Vec<u8>,
}

impl<S: Stream> StreamLink<S> {
    /// True when the collector closed its end (EOF, `close_notify`, error).
    fn closed(&mut self) -> bool {
        if self.stream.socket().set_nonblocking(true).is_err() {
            return true;
        }
        let mut buf = [0u8; 512];
        let closed = loop {
            match self.stream.read(&mut buf) {
                Ok(0) => break true,
                Ok(_) => continue, // a collector has nothing to say; skip it
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break false,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(_) => break true,
            }
        };
        closed || self.stream.socket().set_nonblocking(false).is_err()
    }
}

impl<S: Stream> Drop for StreamLink<S> {
    fn drop(&mut self) {
        self.stream.close();
    }
}

impl<S: Stream> Link for StreamLink<S> {
    fn send(&mut self, lines: &[Bytes]) -> io::Result<()> {
        if self.closed() {
            return Err(io::Error::new(
                io::ErrorKind::ConnectionReset,
                "collector closed the connection",
            ));
        }
        self.out.clear();
        for line in lines {
            self.format
                .encode(line, Framing::OctetCounted, &mut self.out);
        }
        self.stream.write_all(&self.out)?;
        self.stream.flush()
    }
}

/// Syslog over UDP: one datagram per event.
struct UdpLink {
    socket: UdpSocket,
    format: SyslogFormat,
    out: Vec<u8>,
}

impl Link for UdpLink {
    fn send(&mut self, lines: &[Bytes]) -> io::Result<()> {
        for line in lines {
            self.out.clear();
            self.format.encode(line, Framing::Datagram, &mut self.out);
            self.socket.send(&self.out)?;
        }
        Ok(())
    }
}

/// OTLP/HTTP logs: one POST per batch.
struct HttpLink {
    agent: ureq::Agent,
    url: String,
    service: String,
}

impl Link for HttpLink {
    fn send(&mut self, lines: &[Bytes]) -> io::Result<()> {
        let body = otlp::encode(lines, &self.service);
        let response = self
            .agent
            .post(&self.url)
            .header("Content-Type", "application/json")
            .send(&body[..])
            .map_err(io::Error::other)?;
        match response.status().as_u16() {
            200..=299 => Ok(()),
            code @ (400..=499) if code != 408 && code != 429 => Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("collector refused the records: HTTP {code}"),
            )),
            code => Err(io::Error::other(format!("collector answered HTTP {code}"))),
        }
    }
}

/// Where a TLS link finds its trust anchors and its own identity.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TlsFiles {
    /// PEM file of the CA certificates to trust (default: the system bundle).
    pub ca_file: Option<std::path::PathBuf>,
    /// PEM client certificate chain, for collectors that ask for one.
    pub client_cert: Option<std::path::PathBuf>,
    /// PEM private key of the client certificate.
    pub client_key: Option<std::path::PathBuf>,
}

/// The system CA bundle used when no CA file is named.
pub const SYSTEM_CA_BUNDLE: &str = "/etc/ssl/certs/ca-certificates.crt";

/// A rustls client configuration from `files`.
pub fn tls_config(files: &TlsFiles) -> Result<Arc<rustls::ClientConfig>, ForwardError> {
    let bad = |path: &Path, reason: String| ForwardError::Tls {
        path: path.to_owned(),
        reason,
    };
    let ca = files
        .ca_file
        .clone()
        .unwrap_or_else(|| SYSTEM_CA_BUNDLE.into());
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_file_iter(&ca).map_err(|e| bad(&ca, e.to_string()))? {
        let cert = cert.map_err(|e| bad(&ca, e.to_string()))?;
        roots.add(cert).map_err(|e| bad(&ca, e.to_string()))?;
    }
    if roots.is_empty() {
        return Err(bad(&ca, "no certificate in the file".into()));
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| bad(&ca, e.to_string()))?
        .with_root_certificates(roots);
    let config = match (&files.client_cert, &files.client_key) {
        (Some(cert), Some(key)) => {
            let chain = CertificateDer::pem_file_iter(cert)
                .and_then(|it| it.collect::<Result<Vec<_>, _>>())
                .map_err(|e| bad(cert, e.to_string()))?;
            let key_der = PrivateKeyDer::from_pem_file(key).map_err(|e| bad(key, e.to_string()))?;
            builder
                .with_client_auth_cert(chain, key_der)
                .map_err(|e| bad(cert, e.to_string()))?
        }
        (None, None) => builder.with_no_client_auth(),
        (Some(p), None) | (None, Some(p)) => {
            return Err(bad(
                p,
                "a client certificate needs both the certificate and its key".into(),
            ))
        }
    };
    Ok(Arc::new(config))
}
