//! The audit log's hash chain: the canonical encoding of an entry, its hash,
//! and the check of a whole chain. Pure functions; the SQL is in `sqlite/audit_log.rs`.
//!
//! # Encoding (version 1)
//!
//! An entry's hash is the lower-case hex SHA-256 of these bytes, in order:
//!
//! 1. the tag `tandem-audit-v1`, as a text field (below), so a later format
//!    can never produce the same bytes as this one;
//! 2. `seq` as 8 bytes, unsigned big-endian;
//! 3. `at_utc`, `actor`, `action` as text fields;
//! 4. `camera_id`, `before`, `after` as optional text fields;
//! 5. `prev_hash` as a text field.
//!
//! A *text field* is its UTF-8 length in bytes as 8 bytes unsigned big-endian,
//! then the bytes. An *optional text field* is one byte `0` when absent, or one
//! byte `1` and a text field when present (so absent and empty differ).
//! Because every variable-length part is preceded by its length, the encoding
//! is injective: two different entries never encode alike, whatever
//! characters (separators, quotes, NULs) their fields contain.
//!
//! Texts are hashed exactly as stored (the `_utc` text, the JSON text as
//! serde_json wrote it), so verification never depends on re-serializing.
//!
//! # What the chain detects, and what it does not
//!
//! An edit of any field of any entry, and the deletion of any entry but the
//! newest ones, break the chain and are reported by [`Verifier`]. Without a
//! secret key, the chain cannot detect (a) the removal of the newest entries
//! (the rest is still a valid chain) or (b) someone who rewrites an entry and
//! recomputes every later hash. Both are detected by keeping the head (`seq`
//! and `hash` of the newest entry, see
//! [`AuditVerification::head`](crate::AuditVerification::head)) outside the
//! store and comparing.

use sha2::{Digest, Sha256};

use crate::record::AuditVerification;

/// The `prev_hash` of the first entry: 64 zeros.
pub const GENESIS_HASH: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// Identifies encoding version 1; part of every hashed byte string.
const TAG: &str = "tandem-audit-v1";

/// An entry's fields as stored (texts verbatim), the input of [`hash`].
#[derive(Debug, Clone, Copy)]
pub struct AuditFields<'a> {
    /// Position in the chain.
    pub seq: u64,
    /// The `at_utc` text.
    pub at_utc: &'a str,
    /// The actor.
    pub actor: &'a str,
    /// The action.
    pub action: &'a str,
    /// The camera id, if any.
    pub camera: Option<&'a str>,
    /// The JSON text of the state before, if any.
    pub before: Option<&'a str>,
    /// The JSON text of the state after, if any.
    pub after: Option<&'a str>,
    /// The previous entry's hash.
    pub prev_hash: &'a str,
}

/// The canonical encoding described in the module documentation.
pub fn encode(f: &AuditFields<'_>) -> Vec<u8> {
    fn text(out: &mut Vec<u8>, s: &str) {
        out.extend_from_slice(&(s.len() as u64).to_be_bytes());
        out.extend_from_slice(s.as_bytes());
    }
    fn optional(out: &mut Vec<u8>, s: Option<&str>) {
        match s {
            None => out.push(0),
            Some(s) => {
                out.push(1);
                text(out, s);
            }
        }
    }
    let mut out = Vec::with_capacity(256);
    text(&mut out, TAG);
    out.extend_from_slice(&f.seq.to_be_bytes());
    text(&mut out, f.at_utc);
    text(&mut out, f.actor);
    text(&mut out, f.action);
    optional(&mut out, f.camera);
    optional(&mut out, f.before);
    optional(&mut out, f.after);
    text(&mut out, f.prev_hash);
    out
}

/// Lower-case hex SHA-256 of [`encode`].
pub fn hash(f: &AuditFields<'_>) -> String {
    let digest = Sha256::digest(encode(f));
    let mut hex = String::with_capacity(64);
    for b in digest {
        // Both nibbles are below 16, so `from_digit` always has a digit.
        hex.push(char::from_digit(u32::from(b >> 4), 16).unwrap_or('0'));
        hex.push(char::from_digit(u32::from(b & 0xf), 16).unwrap_or('0'));
    }
    hex
}

/// Checks a chain entry by entry, in `seq` order; stops judging at the first
/// broken entry but keeps counting.
#[derive(Debug)]
pub struct Verifier {
    expected_seq: u64,
    prev_hash: String,
    entries: u64,
    first_bad: Option<(u64, String)>,
}

impl Default for Verifier {
    fn default() -> Self {
        Verifier {
            expected_seq: 1,
            prev_hash: GENESIS_HASH.to_string(),
            entries: 0,
            first_bad: None,
        }
    }
}

impl Verifier {
    /// Checks the next entry, given its fields and its stored hash.
    pub fn check(&mut self, fields: &AuditFields<'_>, stored_hash: &str) {
        self.entries += 1;
        if self.first_bad.is_some() {
            return;
        }
        let bad = if fields.seq > self.expected_seq {
            Some((
                self.expected_seq,
                format!("sequence gap: entry {} missing", self.expected_seq),
            ))
        } else if fields.seq < self.expected_seq {
            Some((
                fields.seq,
                format!("sequence out of order: expected {}", self.expected_seq),
            ))
        } else if fields.prev_hash != self.prev_hash {
            Some((
                fields.seq,
                "prev_hash does not match the previous entry".to_string(),
            ))
        } else if hash(fields) != stored_hash {
            Some((fields.seq, "hash does not match its contents".to_string()))
        } else {
            None
        };
        match bad {
            Some(bad) => self.first_bad = Some(bad),
            None => {
                self.expected_seq = fields.seq + 1;
                self.prev_hash = stored_hash.to_string();
            }
        }
    }

    /// The verdict.
    pub fn finish(self) -> AuditVerification {
        let head = match (&self.first_bad, self.expected_seq) {
            (None, next) if next > 1 => Some((next - 1, self.prev_hash)),
            _ => None,
        };
        AuditVerification {
            entries: self.entries,
            first_bad: self.first_bad,
            head,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields<'a>(seq: u64, actor: &'a str, prev_hash: &'a str) -> AuditFields<'a> {
        AuditFields {
            seq,
            at_utc: "2025-01-31T08:15:00.000000Z",
            actor,
            action: "preset.add",
            camera: Some("cam-1"),
            before: None,
            after: Some(r#"{"number":3}"#),
            prev_hash,
        }
    }

    #[test]
    fn hash_is_lower_case_hex_sha256() {
        let h = hash(&fields(1, "alice", GENESIS_HASH));
        assert_eq!(h.len(), 64);
        assert!(
            h.chars()
                .all(|c| c.is_ascii_digit() || ('a'..='f').contains(&c))
        );
    }

    #[test]
    fn moving_bytes_between_fields_changes_the_encoding() {
        // Without length prefixes these two would concatenate alike.
        let a = AuditFields {
            actor: "ab",
            action: "c",
            ..fields(1, "", GENESIS_HASH)
        };
        let b = AuditFields {
            actor: "a",
            action: "bc",
            ..fields(1, "", GENESIS_HASH)
        };
        assert_ne!(encode(&a), encode(&b));
    }

    #[test]
    fn absent_and_empty_optional_fields_differ() {
        let a = AuditFields {
            camera: None,
            ..fields(1, "x", GENESIS_HASH)
        };
        let b = AuditFields {
            camera: Some(""),
            ..fields(1, "x", GENESIS_HASH)
        };
        assert_ne!(hash(&a), hash(&b));
    }

    #[test]
    fn verifier_accepts_a_chain_and_reports_its_head() {
        let mut v = Verifier::default();
        let h1 = hash(&fields(1, "a", GENESIS_HASH));
        let h2 = hash(&fields(2, "b", &h1));
        v.check(&fields(1, "a", GENESIS_HASH), &h1);
        v.check(&fields(2, "b", &h1), &h2);
        let r = v.finish();
        assert_eq!(r.entries, 2);
        assert_eq!(r.first_bad, None);
        assert_eq!(r.head, Some((2, h2)));
    }

    #[test]
    fn verifier_reports_the_first_gap() {
        let mut v = Verifier::default();
        let h1 = hash(&fields(1, "a", GENESIS_HASH));
        v.check(&fields(1, "a", GENESIS_HASH), &h1);
        v.check(&fields(3, "c", "whatever"), "whatever");
        let r = v.finish();
        assert_eq!(
            r.first_bad,
            Some((2, "sequence gap: entry 2 missing".to_string()))
        );
        assert_eq!(r.head, None);
    }
}
