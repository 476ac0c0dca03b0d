//! How an XProtect server's certificate is trusted over HTTPS: the public
//! roots, an internal CA's certificates from a file, or exactly one
//! certificate named by its SHA-256 fingerprint. The rules are tandem's one
//! set for every HTTPS client, kept in `tandem_onvif::tls` (ONVIF devices
//! use them too) and re-exported here under their old paths.

pub use tandem_onvif::tls::*;
