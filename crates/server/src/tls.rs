//! HTTPS for the service: rustls with a certificate and key from PEM files,
//! or a self-signed certificate made on first start and kept beside the
//! configuration, so that clients can pin its fingerprint once.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use sha2::{Digest, Sha256};

/// A loaded certificate: the acceptor's configuration and the certificate's
/// SHA-256 fingerprint (what clients pin).
#[derive(Clone)]
pub struct Tls {
    /// The server side of rustls, for [`crate::serve`].
    pub config: Arc<rustls::ServerConfig>,
    /// `AB:CD:…`, 32 pairs: the leaf certificate's SHA-256.
    pub fingerprint: String,
}

impl std::fmt::Debug for Tls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tls")
            .field("fingerprint", &self.fingerprint)
            .finish_non_exhaustive()
    }
}

/// `AB:CD:…` of a DER certificate's SHA-256, as `openssl x509 -fingerprint
/// -sha256` prints it.
pub fn fingerprint(der: &[u8]) -> String {
    Sha256::digest(der)
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect::<Vec<_>>()
        .join(":")
}

impl Tls {
    /// The certificate chain in `cert` (PEM, leaf first) and its key in `key`
    /// (PEM: PKCS#8, PKCS#1 or SEC1).
    pub fn from_files(cert: &Path, key: &Path) -> Result<Tls, String> {
        let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert)
            .map_err(|e| format!("cannot read the certificate {}: {e}", cert.display()))?
            .collect::<Result<_, _>>()
            .map_err(|e| format!("the certificate {} is not PEM: {e}", cert.display()))?;
        let key = PrivateKeyDer::from_pem_file(key)
            .map_err(|e| format!("cannot read the key {}: {e}", key.display()))?;
        Tls::new(certs, key)
    }

    /// The self-signed certificate kept in `dir` (`tls-cert.pem`,
    /// `tls-key.pem`), made now for `names` when there is none yet. Answers
    /// whether it was made now.
    pub fn self_signed(dir: &Path, names: &[String]) -> Result<(Tls, bool), String> {
        let (cert, key) = (dir.join("tls-cert.pem"), dir.join("tls-key.pem"));
        if cert.exists() && key.exists() {
            return Ok((Tls::from_files(&cert, &key)?, false));
        }
        let made = rcgen::generate_simple_self_signed(names.to_vec())
            .map_err(|e| format!("making a self-signed certificate: {e}"))?;
        write_private(&key, made.key_pair.serialize_pem().as_bytes())?;
        std::fs::write(&cert, made.cert.pem())
            .map_err(|e| format!("writing {}: {e}", cert.display()))?;
        Ok((Tls::from_files(&cert, &key)?, true))
    }

    fn new(
        certs: Vec<CertificateDer<'static>>,
        key: PrivateKeyDer<'static>,
    ) -> Result<Tls, String> {
        let leaf = certs
            .first()
            .ok_or_else(|| "the certificate file holds no certificate".to_string())?;
        let fingerprint = fingerprint(leaf.as_ref());
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| format!("TLS set-up: {e}"))?
            .with_no_client_auth()
            .with_single_cert(certs, key)
            .map_err(|e| format!("the certificate and key do not go together: {e}"))?;
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(Tls {
            config: Arc::new(config),
            fingerprint,
        })
    }
}

/// Writes `bytes` to a new file only its owner may read.
fn write_private(path: &PathBuf, bytes: &[u8]) -> Result<(), String> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options
        .open(path)
        .map_err(|e| format!("writing {}: {e}", path.display()))?;
    file.write_all(bytes)
        .map_err(|e| format!("writing {}: {e}", path.display()))
}
