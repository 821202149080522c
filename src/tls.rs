//! TLS for Eddy's HTTP: the listener's rustls configuration from `eddy serve
//! --tls-cert FILE --tls-key FILE` (PEM), and the client side the `eddy function …`
//! commands use for an `https://` endpoint, trusting Mozilla's roots and, with
//! `--ca-cert FILE` or `EDDY_CA_CERT`, one more certificate (so that a self-signed
//! server certificate can be trusted).
//!
//! Owns reading and checking certificates and keys and the choice of crypto provider
//! (ring, which the tree already builds for lettre and wasi-http). It does not know
//! HTTP, the accept loop's limits, DynamoDB or the engine.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::crypto::CryptoProvider;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;

/// The one application protocol Eddy speaks, offered in ALPN by both sides.
const ALPN_HTTP_1_1: &[u8] = b"http/1.1";

/// The environment variable the client commands read an extra trusted certificate from
/// when `--ca-cert` is not given.
pub const CA_CERT_ENV: &str = "EDDY_CA_CERT";

/// The provider is chosen explicitly: test builds also compile aws-lc-rs (for the AWS
/// SDK), and with two providers compiled rustls cannot pick a process default itself.
fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// The listener's TLS configuration from a PEM certificate chain (the server's
/// certificate first) and a PEM private key (PKCS#8, PKCS#1 or SEC1). Every error says
/// which file and what is wrong with it, for a startup message.
pub fn server_config(cert: &Path, key: &Path) -> Result<Arc<rustls::ServerConfig>, String> {
    let chain = certificates(cert, "--tls-cert")?;
    let key_der = PrivateKeyDer::from_pem_file(key).map_err(|e| {
        format!(
            "--tls-key {}: cannot read a PEM private key ({})",
            key.display(),
            pem_error(&e)
        )
    })?;
    let mut config = rustls::ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("cannot configure TLS: {e}"))?
        .with_no_client_auth()
        .with_single_cert(chain, key_der)
        .map_err(|e| {
            format!(
                "--tls-cert {} with --tls-key {}: not a usable certificate and key ({e})",
                cert.display(),
                key.display()
            )
        })?;
    config.alpn_protocols = vec![ALPN_HTTP_1_1.to_vec()];
    Ok(Arc::new(config))
}

/// The client commands' TLS configuration: Mozilla's roots, plus every certificate in
/// `extra` (a self-signed server certificate, or the CA that signed it).
pub fn client_config(extra: Option<&Path>) -> Result<Arc<rustls::ClientConfig>, String> {
    let mut roots = rustls::RootCertStore {
        roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
    };
    if let Some(path) = extra {
        for cert in certificates(path, "--ca-cert")? {
            roots.add(cert).map_err(|e| {
                format!(
                    "--ca-cert {}: not a certificate that can be trusted ({e})",
                    path.display()
                )
            })?;
        }
    }
    let mut config = rustls::ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("cannot configure TLS: {e}"))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = vec![ALPN_HTTP_1_1.to_vec()];
    Ok(Arc::new(config))
}

/// The extra certificate the client commands trust: `--ca-cert`, else `EDDY_CA_CERT`.
pub fn ca_cert_path(flag: Option<&Path>) -> Option<PathBuf> {
    flag.map(Path::to_path_buf).or_else(|| {
        std::env::var_os(CA_CERT_ENV)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
    })
}

/// A client connection, plain or TLS, as one type for hyper.
pub trait Io: AsyncRead + AsyncWrite + Send + Unpin {}

impl<T: AsyncRead + AsyncWrite + Send + Unpin> Io for T {}

/// Why [`connect`] failed: the server could not be reached, or it was and TLS failed
/// (most often a certificate not trusted), which wants a different hint.
#[derive(Debug)]
pub enum ConnectError {
    /// No TCP connection (its error's kind tells a refused connection, which means
    /// nothing listens there, from an unknown host or a timeout).
    Unreachable(std::io::Error),
    Tls(String),
}

/// Opens a connection to `host:port`, over TLS (verifying the server's certificate
/// against `tls`'s roots and `host`) when `tls` is given.
pub async fn connect(
    host: &str,
    port: u16,
    tls: Option<Arc<rustls::ClientConfig>>,
) -> Result<Box<dyn Io>, ConnectError> {
    // A URI's IPv6 host comes in brackets; neither the socket nor the name check wants them.
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    let tcp = TcpStream::connect((bare, port))
        .await
        .map_err(ConnectError::Unreachable)?;
    let _ = tcp.set_nodelay(true);
    let Some(config) = tls else {
        return Ok(Box::new(tcp));
    };
    let name = ServerName::try_from(bare.to_owned())
        .map_err(|e| ConnectError::Tls(format!("{host} is not a name TLS can verify ({e})")))?;
    let stream = tokio_rustls::TlsConnector::from(config)
        .connect(name, tcp)
        .await
        .map_err(|e| {
            ConnectError::Tls(format!(
                "the TLS handshake failed: {e} (a self-signed certificate, or one from a \
                 private CA, is trusted with --ca-cert FILE or {CA_CERT_ENV}=FILE)"
            ))
        })?;
    Ok(Box::new(stream))
}

/// Every certificate in a PEM file; none is an error.
fn certificates(path: &Path, flag: &str) -> Result<Vec<CertificateDer<'static>>, String> {
    let unreadable = |e: &rustls_pki_types::pem::Error| {
        format!(
            "{flag} {}: cannot read PEM certificates ({})",
            path.display(),
            pem_error(e)
        )
    };
    let chain = CertificateDer::pem_file_iter(path)
        .map_err(|e| unreadable(&e))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| unreadable(&e))?;
    if chain.is_empty() {
        return Err(format!(
            "{flag} {}: no certificate in it (expected PEM: -----BEGIN CERTIFICATE-----)",
            path.display()
        ));
    }
    Ok(chain)
}

fn pem_error(e: &rustls_pki_types::pem::Error) -> String {
    match e {
        rustls_pki_types::pem::Error::NoItemsFound => {
            "no PEM section of the expected kind in it".to_owned()
        }
        other => other.to_string(),
    }
}
