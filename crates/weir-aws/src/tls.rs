//! The TLS side of the listener: rustls (ring provider, TLS 1.2 and 1.3) with ALPN `h2` and
//! `http/1.1`, from a PEM certificate chain and private key.
//!
//! ALPN is advertised for clients that need it (the Java SDK's Netty client, the KPL), but the
//! server does not trust it: the decrypted stream is sniffed for the HTTP/2 preface exactly as
//! on the cleartext port, so prior-knowledge h2 over TLS works too.

use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use std::sync::Arc;
use std::time::Duration;

pub use tokio_rustls::TlsAcceptor;

pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("no certificate in the PEM certificate file")]
    NoCertificate,
    #[error("cannot parse the PEM certificate file: {0}")]
    Certificate(String),
    #[error("cannot parse the PEM private key file: {0}")]
    Key(String),
    #[error("the certificate and key are not usable together: {0}")]
    Config(#[from] rustls::Error),
}

/// A TLS acceptor for a PEM certificate chain and key (PKCS#8, PKCS#1 or SEC1).
pub fn acceptor(cert_pem: &[u8], key_pem: &[u8]) -> Result<tokio_rustls::TlsAcceptor, TlsError> {
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(cert_pem)
        .collect::<Result<_, _>>()
        .map_err(|e| TlsError::Certificate(e.to_string()))?;
    if certs.is_empty() {
        return Err(TlsError::NoCertificate);
    }
    let key = PrivateKeyDer::from_pem_slice(key_pem).map_err(|e| TlsError::Key(e.to_string()))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])?
        .with_no_client_auth()
        .with_single_cert(certs, key)?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(tokio_rustls::TlsAcceptor::from(Arc::new(config)))
}
