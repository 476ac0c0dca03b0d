//! The one error type of the ONVIF layer.
//!
//! The engine retries some failures and reports others, so every error knows
//! which kind it is: [`Error::is_retryable`] is the single place that decides.

use std::fmt;
use std::time::Duration;

use chrono::TimeDelta;

use crate::auth::AuthMode;

/// A failed ONVIF call.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The device could not be reached or the connection broke (refused, reset, DNS).
    #[error("cannot reach {url}: {message}")]
    Transport {
        /// The service address that was called.
        url: String,
        /// What the HTTP stack said.
        message: String,
    },
    /// The device's HTTPS certificate is not one its site trusts (a CA file
    /// or a pinned fingerprint; see [`crate::tls`]): refused before anything
    /// was sent. No retry will cure it.
    #[error("{url}: the device's certificate is not trusted: {problem}")]
    Certificate {
        /// The service address that was called.
        url: String,
        /// What is wrong with the certificate, as the TLS check said it
        /// (such as "the server's certificate (SHA-256 …) is not the
        /// pinned one (…)").
        problem: String,
    },
    /// The device accepted the request but did not answer in time.
    #[error("{url} did not answer within {} ms", .after.as_millis())]
    Timeout {
        /// The service address that was called.
        url: String,
        /// The time bound that passed.
        after: Duration,
    },
    /// The device answered with a SOAP fault: its own words, kept structured.
    #[error("device fault: {0}")]
    Fault(Fault),
    /// The device refused our credentials, with every authentication scheme
    /// we tried and, for WS-Security, after reading its clock again.
    #[error("authentication refused by {url}: {message}; {advice}")]
    Unauthorized {
        /// The service address that was called.
        url: String,
        /// What the device said (HTTP status or fault reason).
        message: String,
        /// The authentication the device refused; `None` when nothing was sent.
        refused: Option<AuthMode>,
        /// What the user should look at.
        advice: AuthAdvice,
    },
    /// An HTTP status other than success, 401 or a SOAP fault.
    #[error("{url} answered HTTP {status}{}", if .said.is_empty() { String::new() } else { format!(": {}", .said) })]
    Http {
        /// The service address that was called.
        url: String,
        /// The HTTP status code.
        status: u16,
        /// What the answer said, in short: an HTML page's title, or the
        /// first line of its text (see `gist`); may be empty.
        said: String,
    },
    /// The answer was larger than the configured cap and was not read.
    #[error("answer from {url} exceeds {limit} bytes")]
    TooLarge {
        /// The service address that was called.
        url: String,
        /// The cap in bytes.
        limit: usize,
    },
    /// The answer was not the XML we expect: malformed, hostile, or missing an element.
    #[error("malformed answer: {0}")]
    Malformed(String),
    /// The device does not offer a service this call needs (for example no PTZ service).
    #[error("device has no {0} service")]
    NoService(&'static str),
}

impl Error {
    /// True when the same request may succeed later unchanged: transport failures,
    /// timeouts, server-side HTTP errors and the `ter:MovingPTZ` fault (retry after the move).
    pub fn is_retryable(&self) -> bool {
        match self {
            Error::Transport { .. } | Error::Timeout { .. } => true,
            Error::Http { status, .. } => *status >= 500 || *status == 429,
            Error::Fault(fault) => fault.is("MovingPTZ"),
            Error::Certificate { .. }
            | Error::Unauthorized { .. }
            | Error::TooLarge { .. }
            | Error::Malformed(_)
            | Error::NoService(_) => false,
        }
    }

    /// True when the device was not reached or did not answer: the failover signal.
    pub fn is_unreachable(&self) -> bool {
        matches!(self, Error::Transport { .. } | Error::Timeout { .. })
    }

    /// What failed, in words an operator may read: no device address, port
    /// or operating-system error number (those stay in [`Error`]'s `Display`,
    /// for the log). A fault keeps the device's own words.
    pub fn summary(&self) -> String {
        match self {
            Error::Transport { message, .. } => {
                format!("did not answer ({})", transport_cause(message))
            }
            Error::Timeout { after, .. } => {
                format!("did not answer within {} ms", after.as_millis())
            }
            Error::Certificate { problem, .. } => {
                format!(
                    "presented a certificate that is not trusted ({})",
                    without_addresses(problem)
                )
            }
            Error::Fault(fault) => format!("device fault: {fault}"),
            Error::Unauthorized { advice, .. } => {
                format!("refused tandem's credentials; {advice}")
            }
            Error::Http { status, said, .. } if !said.is_empty() => {
                format!("answered HTTP {status}: {}", without_addresses(said))
            }
            Error::Http { status, .. } => format!("answered HTTP {status}"),
            Error::TooLarge { limit, .. } => {
                format!("sent an answer that exceeds {limit} bytes")
            }
            Error::Malformed(why) => {
                format!(
                    "sent an answer that is not valid ONVIF ({})",
                    without_addresses(why)
                )
            }
            Error::NoService(service) => format!("has no {service} service"),
        }
    }

    /// The fault, when the device answered with one.
    pub fn fault(&self) -> Option<&Fault> {
        match self {
            Error::Fault(fault) => Some(fault),
            _ => None,
        }
    }
}

/// `text` with every URL (and a bare `host:port`) replaced by "the device":
/// what a device said, or why its answer was refused, without the address
/// behind it (that stays in the log).
fn without_addresses(text: &str) -> String {
    text.split(' ')
        .map(|word| {
            let bare = word.trim_end_matches([':', ',', ')', '.']);
            let looks_like_address = bare.contains("://")
                || bare
                    .rsplit_once(':')
                    .is_some_and(|(host, port)| host.contains('.') && port.parse::<u16>().is_ok());
            if looks_like_address {
                format!("the device{}", &word[bare.len()..])
            } else {
                word.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// The cause of a transport failure in a few words, from the HTTP stack's
/// account of it (which names the address and the OS's error number).
fn transport_cause(message: &str) -> &'static str {
    let message = message.to_ascii_lowercase();
    let causes = [
        ("refused", "connection refused"),
        ("reset", "connection reset"),
        ("timed out", "timed out"),
        ("dns", "name not found"),
        ("resolve", "name not found"),
        ("lookup", "name not found"),
        ("unreachable", "network unreachable"),
        ("certificate", "TLS handshake failed"),
        ("tls", "TLS handshake failed"),
        ("closed", "connection closed"),
    ];
    causes
        .iter()
        .find(|(word, _)| message.contains(word))
        .map_or("connection failed", |(_, cause)| cause)
}

/// How far the device's clock may be from the `Created` of a WS-Security
/// token: five minutes, the usual default of devices and of WS-Security
/// itself. Beyond it, a refusal is more likely the clock than the password.
pub const WSSE_CLOCK_TOLERANCE: TimeDelta = TimeDelta::minutes(5);

/// What a refused authentication most likely needs, so that the message
/// points at the device's clock when that is the problem, not the password.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthAdvice {
    /// The username or password (or the user's rights on the device).
    Credentials,
    /// No credentials are configured, and the device asks for some.
    NoCredentials,
    /// WS-Security was refused although tandem applied the device's clock
    /// offset (device clock minus ours), which is beyond
    /// [`WSSE_CLOCK_TOLERANCE`]: the device's time settings are suspect.
    Clock(TimeDelta),
}

impl fmt::Display for AuthAdvice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AuthAdvice::Credentials => f.write_str("check the binding's username and password"),
            AuthAdvice::NoCredentials => f.write_str(
                "the device asks for credentials: set the binding's username and password",
            ),
            AuthAdvice::Clock(offset) => write!(
                f,
                "the device's clock is {} {} this host; WS-Security needs it within ±{} \
                 minutes: tandem applies the offset, but the device still refused — check \
                 the device's time/NTP settings or the credentials",
                describe_offset(*offset),
                if *offset < TimeDelta::zero() {
                    "behind"
                } else {
                    "ahead of"
                },
                WSSE_CLOCK_TOLERANCE.num_minutes()
            ),
        }
    }
}

/// A clock offset's size as people say it: `2 h 0 min`, `7 min`, `40 s`.
pub fn describe_offset(offset: TimeDelta) -> String {
    let seconds = (offset.num_milliseconds().unsigned_abs() + 500) / 1000;
    if seconds >= 3600 {
        let minutes = (seconds + 30) / 60;
        format!("{} h {} min", minutes / 60, minutes % 60)
    } else if seconds >= 60 {
        format!("{} min", (seconds + 30) / 60)
    } else {
        format!("{seconds} s")
    }
}

/// A qualified name as a fault carries it: namespace URI and local name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QName {
    /// Namespace URI, empty when the device used an unbound or no prefix.
    pub namespace: String,
    /// Local name, such as `NoToken`.
    pub local: String,
}

impl fmt::Display for QName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match crate::ns::prefix_of(&self.namespace) {
            Some(prefix) => write!(f, "{prefix}:{}", self.local),
            None if self.namespace.is_empty() => f.write_str(&self.local),
            None => write!(f, "{{{}}}{}", self.namespace, self.local),
        }
    }
}

/// A SOAP fault as the device sent it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fault {
    /// `env:Sender` or `env:Receiver` (SOAP 1.1 `Client`/`Server` map to them).
    pub code: QName,
    /// Subcodes from outermost to innermost, such as `ter:InvalidArgVal`, `ter:NoToken`.
    pub subcodes: Vec<QName>,
    /// The device's reason text, as written.
    pub reason: String,
}

impl Fault {
    /// True when the code or any subcode has this local name (`"NoToken"`), whatever
    /// the prefix: devices disagree on namespaces for the `ter` codes.
    pub fn is(&self, local: &str) -> bool {
        self.code.local == local || self.subcodes.iter().any(|s| s.local == local)
    }

    /// The innermost subcode, the most specific part of the fault.
    pub fn detail_code(&self) -> &QName {
        self.subcodes.last().unwrap_or(&self.code)
    }
}

impl fmt::Display for Fault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.code)?;
        for sub in &self.subcodes {
            write!(f, "/{sub}")?;
        }
        if !self.reason.is_empty() {
            write!(f, ": {}", self.reason)?;
        }
        Ok(())
    }
}

/// Result of an ONVIF call.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Most characters of an error page quoted in an error.
const GIST_CHARS: usize = 120;

/// What an error page says, in one short line: the HTML `<title>` when there
/// is one, else the first line with text, control characters dropped and cut
/// at 120 characters. Device error pages (HTTP 500 from an embedded web
/// server) often name the real problem there ("Service Unavailable: PTZ
/// busy"); a bare status does not.
pub fn gist(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(&body[..body.len().min(64 * 1024)]);
    let lower = text.to_ascii_lowercase();
    let title = lower.find("<title").and_then(|start| {
        let open_end = start + lower[start..].find('>')? + 1;
        let close = open_end + lower[open_end..].find("</title")?;
        Some(&text[open_end..close])
    });
    let chosen = title.unwrap_or_else(|| {
        text.lines()
            .map(str::trim)
            .find(|l| !l.is_empty() && !l.starts_with('<'))
            .unwrap_or("")
    });
    chosen
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .chars()
        .filter(|c| !c.is_control())
        .take(GIST_CHARS)
        .collect()
}

#[cfg(test)]
mod advice_tests {
    use super::*;

    #[test]
    fn a_clock_advice_says_how_far_and_which_way() {
        let ahead = AuthAdvice::Clock(TimeDelta::seconds(7199) + TimeDelta::milliseconds(700));
        let text = ahead.to_string();
        assert!(
            text.starts_with("the device's clock is 2 h 0 min ahead of this host; WS-Security needs it within ±5 minutes"),
            "{text}"
        );
        assert!(
            text.contains("check the device's time/NTP settings"),
            "{text}"
        );
        let behind = AuthAdvice::Clock(TimeDelta::minutes(-7)).to_string();
        assert!(behind.contains("7 min behind this host"), "{behind}");
        assert_eq!(describe_offset(TimeDelta::seconds(-40)), "40 s");
        assert!(
            AuthAdvice::Credentials
                .to_string()
                .contains("username and password")
        );
    }
}

#[cfg(test)]
mod gist_tests {
    use super::gist;

    #[test]
    fn an_error_page_is_quoted_by_its_title_or_first_line() {
        let html = b"<!DOCTYPE html><html><head><TITLE>500 Internal Error:\n PTZ busy</TITLE></head><body>...</body></html>";
        assert_eq!(gist(html), "500 Internal Error: PTZ busy");
        assert_eq!(
            gist(b"\n\n  Service unavailable\nretry later"),
            "Service unavailable"
        );
        assert_eq!(gist(b""), "");
        assert_eq!(gist(&[b'x'; 500]).chars().count(), 120);
        assert_eq!(gist(b"<title>a\x1b[31mb</title>"), "a[31mb");
    }
}

#[cfg(test)]
mod summary_tests {
    use super::*;

    #[test]
    fn a_summary_names_no_address_port_or_os_error_number() {
        let url = "http://127.0.0.1:11164/onvif/media_service";
        let refused = Error::Transport {
            url: url.into(),
            message: format!(
                "error sending request for url ({url}): client error (Connect): tcp connect \
                 error: Connection refused (os error 111)"
            ),
        };
        assert_eq!(refused.summary(), "did not answer (connection refused)");
        assert!(
            refused.to_string().contains(url),
            "the log keeps the address"
        );
        let cases = [
            refused,
            Error::Timeout {
                url: url.into(),
                after: Duration::from_millis(1500),
            },
            Error::Unauthorized {
                url: url.into(),
                message: "HTTP 401".into(),
                refused: None,
                advice: AuthAdvice::Credentials,
            },
            Error::Http {
                url: url.into(),
                status: 503,
                said: format!("see {url}"),
            },
            Error::TooLarge {
                url: url.into(),
                limit: 4096,
            },
            Error::Malformed(format!("unexpected element at {url}")),
            Error::Certificate {
                url: url.into(),
                problem: "the server's certificate (SHA-256 9C:AB) is not the pinned one (07:07)"
                    .into(),
            },
        ];
        let malformed = Error::Malformed(format!("GetPresets at {url}: XML: expected '>'"));
        assert_eq!(
            malformed.summary(),
            "sent an answer that is not valid ONVIF (GetPresets at the device: XML: expected '>')",
            "the reason stays, the address goes"
        );
        let refused = &cases[cases.len() - 1];
        assert_eq!(
            refused.summary(),
            "presented a certificate that is not trusted (the server's certificate (SHA-256 \
             9C:AB) is not the pinned one (07:07))"
        );
        assert!(!refused.is_retryable() && !refused.is_unreachable());
        for e in cases {
            let summary = e.summary();
            for leak in ["127.0.0.1", "11164", "http://", "os error", "/onvif/"] {
                assert!(!summary.contains(leak), "{summary:?} shows {leak}");
            }
        }
    }
}
