//! The TLS listener's certificate: the operator's PEM files, or a self-signed one that weir
//! makes on first start in `<data-dir>/tls/` (SANs localhost, 127.0.0.1, ::1) and reuses after.
//! Clients trust it by pointing at `cert.pem` (boto3 `verify=`, the AWS CLI `--ca-bundle`,
//! `AWS_CA_BUNDLE`) or by turning verification off (the KPL's `VerifyCertificate=false`).

use anyhow::{Context, Result};
use std::path::{Path, PathBuf};

/// Where the certificate and key come from.
pub struct TlsFiles {
    pub cert: PathBuf,
    pub key: PathBuf,
    /// Whether weir made them just now.
    pub generated: bool,
}

/// The configured files, or the generated pair under `<data_dir>/tls/`, made if missing.
pub fn resolve(cert: Option<&Path>, key: Option<&Path>, data_dir: &Path) -> Result<TlsFiles> {
    if let (Some(cert), Some(key)) = (cert, key) {
        return Ok(TlsFiles {
            cert: cert.to_path_buf(),
            key: key.to_path_buf(),
            generated: false,
        });
    }
    let dir = data_dir.join("tls");
    let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
    if cert.exists() && key.exists() {
        return Ok(TlsFiles {
            cert,
            key,
            generated: false,
        });
    }
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let names = vec![
        "localhost".to_string(),
        "127.0.0.1".to_string(),
        "::1".to_string(),
    ];
    let certified = rcgen::generate_simple_self_signed(names)
        .context("cannot generate a self-signed certificate")?;
    write_private(&key, certified.key_pair.serialize_pem().as_bytes())?;
    std::fs::write(&cert, certified.cert.pem())
        .with_context(|| format!("cannot write {}", cert.display()))?;
    Ok(TlsFiles {
        cert,
        key,
        generated: true,
    })
}

/// Writes a file readable by its owner only (a private key).
fn write_private(path: &Path, bytes: &[u8]) -> Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .truncate(true)
        .write(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("cannot write {}", path.display()))?;
    f.write_all(bytes)?;
    f.sync_all()?;
    Ok(())
}

/// A TLS acceptor for the resolved files.
pub fn acceptor(files: &TlsFiles) -> Result<weir_aws::tls::TlsAcceptor> {
    let cert = std::fs::read(&files.cert)
        .with_context(|| format!("cannot read --tls-cert {}", files.cert.display()))?;
    let key = std::fs::read(&files.key)
        .with_context(|| format!("cannot read --tls-key {}", files.key.display()))?;
    weir_aws::tls::acceptor(&cert, &key)
        .with_context(|| format!("unusable TLS certificate {}", files.cert.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generates_once_and_reuses() {
        let dir = tempfile::tempdir().unwrap();
        let first = resolve(None, None, dir.path()).unwrap();
        assert!(first.generated);
        let pem = std::fs::read_to_string(&first.cert).unwrap();
        assert!(pem.contains("BEGIN CERTIFICATE"));
        acceptor(&first).unwrap();
        let again = resolve(None, None, dir.path()).unwrap();
        assert!(!again.generated);
        assert_eq!(std::fs::read_to_string(&again.cert).unwrap(), pem);
    }
}
