//! How a server's certificate is trusted over HTTPS: the public roots, an
//! internal CA's certificates from a file, or exactly one certificate named
//! by its SHA-256 fingerprint (servers with a self-signed or internally
//! issued certificate, as cameras and XProtect installations often have).
//!
//! One set of rules for every HTTPS client of tandem's: ONVIF devices
//! ([`crate::client::HttpTransport::with_trust`]), XProtect servers
//! (`tandem_xprotect`, which re-exports this module) and the CLI's client of
//! an HTTPS `tandem serve`.

use std::path::PathBuf;
use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{CryptoProvider, verify_tls12_signature, verify_tls13_signature};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, SignatureScheme};
use sha2::{Digest, Sha256};

/// Why a [`Trust`] cannot be used, a fingerprint not read or an HTTPS client
/// not built: a CA file that cannot be read or holds no certificate, text
/// that is not a fingerprint. Nothing a retry will cure.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct TrustError(String);

impl TrustError {
    /// An error saying `message`.
    pub fn new(message: impl Into<String>) -> Self {
        TrustError(message.into())
    }

    /// What is wrong, in words an operator may read.
    pub fn message(&self) -> &str {
        &self.0
    }
}

type Result<T> = std::result::Result<T, TrustError>;

/// Which certificates an HTTPS server may present.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Trust {
    /// Certificates signed by the usual public roots, for the server's name.
    #[default]
    PublicRoots,
    /// Certificates signed by one of the CAs in this PEM file, for the
    /// server's name (an internal CA).
    CaFile(PathBuf),
    /// Exactly the certificate with this SHA-256 fingerprint (of its DER),
    /// whoever signed it and whatever name it carries.
    Pinned(Fingerprint),
}

/// A certificate's SHA-256 fingerprint.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Fingerprint(pub [u8; 32]);

impl Fingerprint {
    /// Reads 64 hexadecimal digits, with or without `:` between pairs (as
    /// `openssl x509 -fingerprint -sha256` prints it), any case.
    pub fn parse(text: &str) -> Result<Fingerprint> {
        let digits: String = text.trim().chars().filter(|c| *c != ':').collect();
        let bad = || {
            TrustError(format!(
                "{text:?} is not a SHA-256 fingerprint (64 hexadecimal digits, colons allowed)"
            ))
        };
        if digits.len() != 64 || !digits.is_ascii() {
            return Err(bad());
        }
        let mut out = [0u8; 32];
        for (i, byte) in out.iter_mut().enumerate() {
            *byte = u8::from_str_radix(&digits[2 * i..2 * i + 2], 16).map_err(|_| bad())?;
        }
        Ok(Fingerprint(out))
    }

    /// The fingerprint of a DER certificate.
    pub fn of(der: &[u8]) -> Fingerprint {
        Fingerprint(Sha256::digest(der).into())
    }
}

impl std::fmt::Display for Fingerprint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for (i, b) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(":")?;
            }
            write!(f, "{b:02X}")?;
        }
        Ok(())
    }
}

impl std::fmt::Debug for Fingerprint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Fingerprint({self})")
    }
}

/// `builder` set to trust what `trust` says: ONVIF devices, XProtect
/// servers, and the CLI's trust in an HTTPS `tandem serve`. Reads a CA file
/// now; fails when it cannot be read or holds no certificate.
pub fn configure(builder: reqwest::ClientBuilder, trust: &Trust) -> Result<reqwest::ClientBuilder> {
    match trust {
        Trust::PublicRoots => Ok(builder),
        Trust::CaFile(path) => {
            let pem = std::fs::read(path).map_err(|e| {
                TrustError(format!("cannot read the CA file {}: {e}", path.display()))
            })?;
            let certificates = reqwest::Certificate::from_pem_bundle(&pem).map_err(|e| {
                TrustError(format!(
                    "the CA file {} is not PEM certificates: {e}",
                    path.display()
                ))
            })?;
            if certificates.is_empty() {
                return Err(TrustError(format!(
                    "the CA file {} holds no certificate",
                    path.display()
                )));
            }
            Ok(certificates
                .into_iter()
                .fold(builder.tls_built_in_root_certs(false), |b, c| {
                    b.add_root_certificate(c)
                }))
        }
        Trust::Pinned(fingerprint) => {
            let provider = Arc::new(rustls::crypto::ring::default_provider());
            let config = rustls::ClientConfig::builder_with_provider(provider.clone())
                .with_safe_default_protocol_versions()
                .map_err(|e| TrustError(format!("TLS set-up: {e}")))?
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(Pinned {
                    fingerprint: *fingerprint,
                    provider,
                }))
                .with_no_client_auth();
            Ok(builder.use_preconfigured_tls(config))
        }
    }
}

/// Accepts exactly the pinned certificate; the handshake's signatures are
/// still checked against it (the server must hold its key).
#[derive(Debug)]
struct Pinned {
    fingerprint: Fingerprint,
    provider: Arc<CryptoProvider>,
}

impl ServerCertVerifier for Pinned {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp: &[u8],
        _now: UnixTime,
    ) -> std::result::Result<ServerCertVerified, rustls::Error> {
        let presented = Fingerprint::of(end_entity.as_ref());
        if presented == self.fingerprint {
            Ok(ServerCertVerified::assertion())
        } else {
            Err(rustls::Error::General(format!(
                "the server's certificate (SHA-256 {presented}) is not the pinned one ({})",
                self.fingerprint
            )))
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

/// The certificate problem behind a failed exchange, if that is what it was:
/// a refusal no retry will cure.
pub fn certificate_problem(e: &(dyn std::error::Error + 'static)) -> Option<String> {
    let mut source = Some(e);
    while let Some(err) = source {
        // An I/O error carrying another (rustls's, in one or two I/O
        // errors) hides it from `source()`.
        let mut err = err;
        while let Some(inner) = err
            .downcast_ref::<std::io::Error>()
            .and_then(|io| io.get_ref())
        {
            err = inner;
        }
        match err.downcast_ref::<rustls::Error>() {
            // The pinned verifier's own words, without rustls's "unexpected
            // error: " before them.
            Some(rustls::Error::General(said)) => return Some(said.clone()),
            Some(tls @ rustls::Error::InvalidCertificate(_)) => return Some(tls.to_string()),
            _ => {}
        }
        source = err.source();
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fingerprints_read_with_or_without_colons_and_print_as_openssl_does() {
        let hex = "9cab3296c6e140c9ce077da681dedcc09a9bbd92556ab65d89acf2601c9501ac";
        let plain = Fingerprint::parse(hex).expect("plain");
        let colons = Fingerprint::parse(&plain.to_string()).expect("with colons");
        assert_eq!(plain, colons);
        assert!(plain.to_string().starts_with("9C:AB:32"));
        for bad in [
            "",
            "9cab",
            &hex.replace('9', "g"),
            &format!("{hex}00"),
            "é".repeat(64).as_str(),
        ] {
            assert!(Fingerprint::parse(bad).is_err(), "{bad:?}");
        }
    }
}
