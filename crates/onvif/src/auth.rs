//! Authentication: WS-Security UsernameToken (PasswordDigest) and HTTP Digest
//! (RFC 7616, MD5 and SHA-256). Pure functions of their inputs, time and nonces
//! included, so that the simulator can verify what the client produces.

use std::collections::HashMap;
use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use chrono::{DateTime, Utc};
use md5::Md5;
use sha1::{Digest as _, Sha1};
use sha2::Sha256;

use crate::ns;
use crate::xml;

/// A username and password for one binding. `Debug` never shows the password.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    /// The device user.
    pub username: String,
    /// The device password.
    pub password: String,
}

impl Credentials {
    /// Credentials from a username and password.
    pub fn new(username: impl Into<String>, password: impl Into<String>) -> Self {
        Credentials {
            username: username.into(),
            password: password.into(),
        }
    }
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("username", &self.username)
            .field("password", &"<redacted>")
            .finish()
    }
}

/// How a device authenticates tandem's requests.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AuthMode {
    /// A WS-Security UsernameToken in the SOAP header (ONVIF's default); its
    /// `Created` timestamp must be on the device's clock.
    WsSecurity,
    /// HTTP Digest, answering the device's challenge; independent of clocks.
    HttpDigest,
    /// Nothing: no credentials are configured and the device asks for none.
    Anonymous,
}

impl AuthMode {
    /// The stored spelling: `ws-security`, `http-digest` or `none`.
    pub fn as_str(self) -> &'static str {
        match self {
            AuthMode::WsSecurity => "ws-security",
            AuthMode::HttpDigest => "http-digest",
            AuthMode::Anonymous => "none",
        }
    }

    /// Reads [`AuthMode::as_str`]'s spelling back.
    pub fn parse(text: &str) -> Option<Self> {
        [
            AuthMode::WsSecurity,
            AuthMode::HttpDigest,
            AuthMode::Anonymous,
        ]
        .into_iter()
        .find(|m| m.as_str() == text)
    }
}

impl fmt::Display for AuthMode {
    /// As users know the schemes: `WS-Security`, `HTTP Digest`, `none`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            AuthMode::WsSecurity => "WS-Security",
            AuthMode::HttpDigest => "HTTP Digest",
            AuthMode::Anonymous => "none",
        })
    }
}

/// `Base64(SHA1(nonce ‖ created ‖ password))`, the UsernameToken PasswordDigest.
pub fn password_digest(nonce: &[u8], created: &str, password: &str) -> String {
    let mut hasher = Sha1::new();
    hasher.update(nonce);
    hasher.update(created.as_bytes());
    hasher.update(password.as_bytes());
    BASE64.encode(hasher.finalize())
}

/// The `Created` timestamp format: UTC, whole seconds, as most devices expect.
pub fn format_created(at: DateTime<Utc>) -> String {
    at.format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// A WS-Security header with a UsernameToken. `created` must already be on the
/// device's clock (our UTC plus the device's offset), or the device refuses it.
pub fn wsse_header(credentials: &Credentials, created: DateTime<Utc>, nonce: &[u8; 16]) -> String {
    let created = format_created(created);
    let digest = password_digest(nonce, &created, &credentials.password);
    format!(
        concat!(
            r#"<wsse:Security xmlns:wsse="{wsse}" xmlns:wsu="{wsu}">"#,
            "<wsse:UsernameToken><wsse:Username>{user}</wsse:Username>",
            r#"<wsse:Password Type="{ptype}">{digest}</wsse:Password>"#,
            r#"<wsse:Nonce EncodingType="{enc}">{nonce}</wsse:Nonce>"#,
            "<wsu:Created>{created}</wsu:Created></wsse:UsernameToken></wsse:Security>"
        ),
        wsse = ns::WSSE,
        wsu = ns::WSU,
        user = xml::escape(&credentials.username),
        ptype = ns::PASSWORD_DIGEST,
        digest = digest,
        enc = ns::BASE64_BINARY,
        nonce = BASE64.encode(nonce),
        created = created,
    )
}

/// A UsernameToken as read from a request header (the device's side).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsernameToken {
    /// The claimed user.
    pub username: String,
    /// The password element's text: a digest or plain text, per `is_digest`.
    pub password: String,
    /// Whether `password` is a PasswordDigest.
    pub is_digest: bool,
    /// The Base64 nonce, empty when absent.
    pub nonce: String,
    /// The `Created` text, empty when absent.
    pub created: String,
}

impl UsernameToken {
    /// Finds the UsernameToken in a SOAP header, if there is one.
    pub fn from_header(header: roxmltree::Node<'_, '_>) -> Option<Self> {
        let security = xml::child(header, ns::WSSE, "Security")?;
        let token = xml::child(security, ns::WSSE, "UsernameToken")?;
        let password = xml::child(token, ns::WSSE, "Password")?;
        Some(UsernameToken {
            username: xml::child(token, ns::WSSE, "Username")
                .map(xml::text)?
                .to_string(),
            password: xml::text(password).to_string(),
            is_digest: password.attribute("Type") != Some(ns::PASSWORD_TEXT),
            nonce: xml::child(token, ns::WSSE, "Nonce")
                .map(xml::text)
                .unwrap_or("")
                .to_string(),
            created: xml::child(token, ns::WSU, "Created")
                .map(xml::text)
                .unwrap_or("")
                .to_string(),
        })
    }

    /// True when the token proves knowledge of `password`.
    pub fn verifies(&self, password: &str) -> bool {
        if !self.is_digest {
            return self.password == password;
        }
        let Ok(nonce) = BASE64.decode(self.nonce.as_bytes()) else {
            return false;
        };
        password_digest(&nonce, &self.created, password) == self.password
    }
}

/// A hash algorithm of HTTP Digest.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DigestAlgorithm {
    /// `MD5` (RFC 2617 compatible).
    Md5,
    /// `SHA-256` (RFC 7616).
    Sha256,
}

impl DigestAlgorithm {
    fn parse(raw: Option<&str>) -> Option<(Self, bool)> {
        let raw = raw.unwrap_or("MD5");
        let (name, sess) = match raw.strip_suffix("-sess") {
            Some(name) => (name, true),
            None => (raw, false),
        };
        let algorithm = if name.eq_ignore_ascii_case("MD5") {
            DigestAlgorithm::Md5
        } else if name.eq_ignore_ascii_case("SHA-256") {
            DigestAlgorithm::Sha256
        } else {
            return None;
        };
        Some((algorithm, sess))
    }

    fn name(self) -> &'static str {
        match self {
            DigestAlgorithm::Md5 => "MD5",
            DigestAlgorithm::Sha256 => "SHA-256",
        }
    }

    fn hash(self, data: &str) -> String {
        let bytes = match self {
            DigestAlgorithm::Md5 => Md5::digest(data.as_bytes()).to_vec(),
            DigestAlgorithm::Sha256 => Sha256::digest(data.as_bytes()).to_vec(),
        };
        bytes.iter().map(|b| format!("{b:02x}")).collect()
    }
}

/// One `WWW-Authenticate: Digest ...` challenge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DigestChallenge {
    /// The protection space.
    pub realm: String,
    /// The server nonce.
    pub nonce: String,
    /// Echoed back unchanged, when present.
    pub opaque: Option<String>,
    /// The hash algorithm.
    pub algorithm: DigestAlgorithm,
    /// Whether the `-sess` variant is asked for.
    pub session: bool,
    /// Whether `qop=auth` is offered (otherwise the RFC 2069 form is used).
    pub qop_auth: bool,
}

impl DigestChallenge {
    /// Picks the strongest Digest challenge we support among `WWW-Authenticate` values.
    pub fn choose<'a>(values: impl IntoIterator<Item = &'a str>) -> Option<Self> {
        values
            .into_iter()
            .filter_map(Self::parse)
            .max_by_key(|c| c.algorithm == DigestAlgorithm::Sha256)
    }

    /// Parses one `WWW-Authenticate` value; `None` unless it is a usable Digest challenge.
    pub fn parse(value: &str) -> Option<Self> {
        let (scheme, rest) = value.trim().split_once(char::is_whitespace)?;
        if !scheme.eq_ignore_ascii_case("Digest") {
            return None;
        }
        let params = parse_params(rest);
        let (algorithm, session) =
            DigestAlgorithm::parse(params.get("algorithm").map(String::as_str))?;
        let qop_auth = match params.get("qop") {
            Some(qop) => {
                if !qop
                    .split(',')
                    .any(|q| q.trim().eq_ignore_ascii_case("auth"))
                {
                    return None; // Only auth-int offered: we do not hash bodies.
                }
                true
            }
            None => false,
        };
        Some(DigestChallenge {
            realm: params.get("realm")?.clone(),
            nonce: params.get("nonce")?.clone(),
            opaque: params.get("opaque").cloned(),
            algorithm,
            session,
            qop_auth,
        })
    }

    /// The `Authorization` header answering this challenge for one request.
    /// `nc` counts requests made with this nonce, from 1.
    pub fn authorization(
        &self,
        credentials: &Credentials,
        method: &str,
        uri: &str,
        nc: u32,
        cnonce: &str,
    ) -> String {
        let nc = format!("{nc:08x}");
        let response = self.response(credentials, method, uri, &nc, cnonce);
        let mut header = format!(
            r#"Digest username="{}", realm="{}", nonce="{}", uri="{}", algorithm={}{}, response="{}""#,
            quote(&credentials.username),
            quote(&self.realm),
            quote(&self.nonce),
            quote(uri),
            self.algorithm.name(),
            if self.session { "-sess" } else { "" },
            response
        );
        if self.qop_auth {
            header.push_str(&format!(
                r#", qop=auth, nc={nc}, cnonce="{}""#,
                quote(cnonce)
            ));
        } else if self.session {
            // The -sess hash includes the cnonce, so the server needs it even without qop.
            header.push_str(&format!(r#", cnonce="{}""#, quote(cnonce)));
        }
        if let Some(opaque) = &self.opaque {
            header.push_str(&format!(r#", opaque="{}""#, quote(opaque)));
        }
        header
    }

    fn response(
        &self,
        credentials: &Credentials,
        method: &str,
        uri: &str,
        nc: &str,
        cnonce: &str,
    ) -> String {
        let h = |s: &str| self.algorithm.hash(s);
        let mut ha1 = h(&format!(
            "{}:{}:{}",
            credentials.username, self.realm, credentials.password
        ));
        if self.session {
            ha1 = h(&format!("{ha1}:{}:{cnonce}", self.nonce));
        }
        let ha2 = h(&format!("{method}:{uri}"));
        if self.qop_auth {
            h(&format!("{ha1}:{}:{nc}:{cnonce}:auth:{ha2}", self.nonce))
        } else {
            h(&format!("{ha1}:{}:{ha2}", self.nonce))
        }
    }

    /// The server's check of an `Authorization` header against this challenge
    /// (the one it issued) and the user's password.
    pub fn verify(&self, authorization: &str, method: &str, password: &str) -> Option<String> {
        let (scheme, rest) = authorization.trim().split_once(char::is_whitespace)?;
        if !scheme.eq_ignore_ascii_case("Digest") {
            return None;
        }
        let params = parse_params(rest);
        if params.get("nonce") != Some(&self.nonce) || params.get("realm") != Some(&self.realm) {
            return None;
        }
        let username = params.get("username")?;
        let uri = params.get("uri")?;
        let nc = if self.qop_auth {
            params.get("nc")?.as_str()
        } else {
            ""
        };
        let cnonce = if self.qop_auth || self.session {
            params.get("cnonce")?.as_str()
        } else {
            ""
        };
        let expected = self.response(
            &Credentials::new(username.as_str(), password),
            method,
            uri,
            nc,
            cnonce,
        );
        (params.get("response")? == &expected).then(|| username.clone())
    }

    /// The `WWW-Authenticate` value a server sends for this challenge.
    pub fn to_header(&self) -> String {
        let mut header = format!(
            r#"Digest realm="{}", nonce="{}", algorithm={}{}"#,
            quote(&self.realm),
            quote(&self.nonce),
            self.algorithm.name(),
            if self.session { "-sess" } else { "" }
        );
        if self.qop_auth {
            header.push_str(r#", qop="auth""#);
        }
        if let Some(opaque) = &self.opaque {
            header.push_str(&format!(r#", opaque="{}""#, quote(opaque)));
        }
        header
    }
}

/// Escapes a quoted-string value.
fn quote(raw: &str) -> String {
    raw.replace('\\', "\\\\").replace('"', "\\\"")
}

/// Parses `key=value, key="quoted, value"` auth-params; keys are lower-cased.
fn parse_params(input: &str) -> HashMap<String, String> {
    let mut params = HashMap::new();
    let mut chars = input.chars().peekable();
    loop {
        while chars.next_if(|c| c.is_whitespace() || *c == ',').is_some() {}
        let key: String =
            std::iter::from_fn(|| chars.next_if(|c| *c != '=' && *c != ',')).collect();
        let key = key.trim().to_ascii_lowercase();
        if key.is_empty() {
            break;
        }
        if chars.next_if_eq(&'=').is_none() {
            continue;
        }
        while chars.next_if(|c| c.is_whitespace()).is_some() {}
        let mut value = String::new();
        if chars.next_if_eq(&'"').is_some() {
            while let Some(c) = chars.next() {
                match c {
                    '\\' => value.extend(chars.next()),
                    '"' => break,
                    c => value.push(c),
                }
            }
        } else {
            value = std::iter::from_fn(|| chars.next_if(|c| *c != ',')).collect();
            value = value.trim().to_string();
        }
        params.insert(key, value);
    }
    params
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The ONVIF Application Programmer's Guide example.
    #[test]
    fn password_digest_matches_the_programmers_guide_vector() {
        let nonce = BASE64
            .decode("LKqI6G/AikKCQrN0zqZFlg==")
            .expect("valid base64");
        let digest = password_digest(&nonce, "2010-09-16T07:50:45Z", "userpassword");
        assert_eq!(digest, "tuOSpGlFlIXsozq4HFNeeGeFLEI=");
    }

    #[test]
    fn wsse_header_verifies_on_the_device_side() {
        let creds = Credentials::new("admin", "s3cret & <x>");
        let at = DateTime::parse_from_rfc3339("2026-01-02T03:04:05Z")
            .expect("valid")
            .to_utc();
        let header = format!(
            r#"<h xmlns:env="{}">{}</h>"#,
            ns::SOAP12,
            wsse_header(&creds, at, &[7u8; 16])
        );
        let doc = xml::parse(&header).expect("parses");
        let token = UsernameToken::from_header(doc.root_element()).expect("token");
        assert_eq!(token.username, "admin");
        assert_eq!(token.created, "2026-01-02T03:04:05Z");
        assert!(token.verifies("s3cret & <x>"));
        assert!(!token.verifies("wrong"));
    }

    /// RFC 7616 section 3.9.1 example, MD5 and SHA-256.
    #[test]
    fn digest_matches_rfc7616_examples() {
        let challenge = |alg: &str| {
            DigestChallenge::parse(&format!(
                r#"Digest realm="http-auth@example.org", qop="auth, auth-int", algorithm={alg}, nonce="7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v", opaque="FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS""#
            ))
            .expect("challenge")
        };
        let creds = Credentials::new("Mufasa", "Circle of Life");
        let cnonce = "f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ";
        let md5 = challenge("MD5").authorization(&creds, "GET", "/dir/index.html", 1, cnonce);
        assert!(
            md5.contains(r#"response="8ca523f5e9506fed4657c9700eebdbec""#),
            "{md5}"
        );
        let sha = challenge("SHA-256").authorization(&creds, "GET", "/dir/index.html", 1, cnonce);
        assert!(
            sha.contains(
                r#"response="753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1""#
            ),
            "{sha}"
        );
        assert_eq!(
            challenge("SHA-256").verify(&sha, "GET", "Circle of Life"),
            Some("Mufasa".into())
        );
        assert_eq!(challenge("SHA-256").verify(&sha, "GET", "wrong"), None);
    }

    /// Found by fuzzing: -sess without qop sent no cnonce, so it could not verify.
    #[test]
    fn sess_without_qop_sends_its_cnonce() {
        let challenge =
            DigestChallenge::parse(r#"Digest realm="cam", nonce="abc", algorithm=MD5-sess"#)
                .expect("challenge");
        let creds = Credentials::new("Mufasa", "pw");
        let header = challenge.authorization(&creds, "POST", "/onvif/ptz_service", 1, "c1");
        assert_eq!(
            challenge.verify(&header, "POST", "pw"),
            Some("Mufasa".into())
        );
        assert_eq!(
            DigestChallenge::parse(&challenge.to_header()),
            Some(challenge)
        );
    }

    #[test]
    fn strongest_challenge_is_chosen() {
        let chosen = DigestChallenge::choose([
            r#"Basic realm="x""#,
            r#"Digest realm="r", nonce="n", algorithm=MD5, qop="auth""#,
            r#"Digest realm="r", nonce="n", algorithm=SHA-256, qop="auth""#,
        ]);
        assert_eq!(chosen.map(|c| c.algorithm), Some(DigestAlgorithm::Sha256));
        assert!(DigestChallenge::parse(r#"Digest realm="r""#).is_none());
    }

    #[test]
    fn auth_modes_read_back_from_their_stored_spelling() {
        for mode in [
            AuthMode::WsSecurity,
            AuthMode::HttpDigest,
            AuthMode::Anonymous,
        ] {
            assert_eq!(AuthMode::parse(mode.as_str()), Some(mode));
        }
        assert_eq!(AuthMode::parse("basic"), None);
        assert_eq!(AuthMode::HttpDigest.to_string(), "HTTP Digest");
    }

    #[test]
    fn debug_redacts_password() {
        let text = format!("{:?}", Credentials::new("u", "hunter2"));
        assert!(!text.contains("hunter2"));
    }
}
