//! The values the store reads and writes: plain data, no SQL.

use std::fmt;

use chrono::{DateTime, Utc};
use serde_json::Value;
use tandem_core::{CameraId, Mismatch, Position, Preset, PresetName, PresetNumber, SiteId};

/// A camera as the store keeps it.
#[derive(Debug, Clone, PartialEq)]
pub struct CameraRecord {
    /// Its configured id.
    pub id: CameraId,
    /// Its human-readable name.
    pub name: String,
    /// Position tolerance for mismatch detection, in ONVIF generic units (finite, >= 0).
    pub tolerance: f64,
}

pub use tandem_core::TokenStyle;

/// Who asked for an operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Origin {
    /// A user's request through the API, console or CLI.
    Operator,
    /// An operator-chosen repair of a mismatch.
    Repair,
    /// Presets taken over from a site.
    Import,
}

/// An operation's state on one site.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SiteState {
    /// Still to apply; retried with backoff and replayed after a restart.
    Pending,
    /// Applied and verified by reading back.
    Applied,
    /// Refused permanently by the site; the error says why.
    Failed,
}

/// Text spellings shared by the SQL `CHECK` constraints and the code.
macro_rules! spelled {
    ($ty:ident, $($variant:ident => $text:literal),+ $(,)?) => {
        impl $ty {
            /// The spelling stored in the database and shown by the API.
            pub fn as_str(self) -> &'static str {
                match self {
                    $($ty::$variant => $text,)+
                }
            }

            /// Parses [`Self::as_str`]'s spelling.
            pub fn parse(text: &str) -> Option<Self> {
                match text {
                    $($text => Some($ty::$variant),)+
                    _ => None,
                }
            }
        }

        impl fmt::Display for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

spelled!(Origin, Operator => "operator", Repair => "repair", Import => "import");
spelled!(SiteState, Pending => "pending", Applied => "applied", Failed => "failed");

/// An operation's id in the journal: increasing, never reused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct OperationId(pub i64);

impl fmt::Display for OperationId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// An operation to journal.
#[derive(Debug, Clone, PartialEq)]
pub struct NewOperation {
    /// The camera it changes; must exist.
    pub camera: CameraId,
    /// The engine's action, stored as JSON and not interpreted by the store.
    pub action: Value,
    /// Who asked.
    pub origin: Origin,
    /// The user name (or "system").
    pub actor: String,
    /// The sites to apply it on, in priority order; at least one, no repeats.
    pub sites: Vec<SiteId>,
}

/// The change to the canonical presets that an operation makes, written in
/// the same transaction as the operation.
#[derive(Debug, Clone, PartialEq)]
pub enum PresetWrite {
    /// The canonical presets do not change (e.g. a repair that only touches a site).
    None,
    /// Insert, or replace the preset with the same number.
    Upsert(Preset),
    /// Move the preset `from` to `preset.number` with `preset`'s fields; the
    /// site tokens of `from` follow it. `from` must exist; the new number must
    /// be free (or equal to `from`).
    Renumber {
        /// The current number.
        from: PresetNumber,
        /// The preset as it will be, with its new number.
        preset: Preset,
    },
    /// Delete the preset. Its site tokens stay until each site has removed it
    /// (the engine forgets them then). Deleting an absent preset is not an
    /// error: a repair may delete what only one site held.
    Delete(PresetNumber),
    /// An operator's new preset, claimed inside the journal's transaction:
    /// the number (`number`, or the lowest one free on every site) and, with
    /// `unique_name`, the name (compared as [`name_key`] does). Never replaces
    /// a stored preset: a taken number or name is a [`StoreError::Conflict`]
    /// and nothing is journaled. The preset is neither locked nor the default.
    /// A `reserved` number is never given, and asking for one is a
    /// [`StoreError::Invalid`].
    ///
    /// [`StoreError::Conflict`]: crate::StoreError::Conflict
    /// [`StoreError::Invalid`]: crate::StoreError::Invalid
    Add {
        /// The number asked for; `None` for the lowest free one.
        number: Option<PresetNumber>,
        /// The name.
        name: PresetName,
        /// Where it points.
        position: Position,
        /// Refuse a name another preset of the camera has.
        unique_name: bool,
        /// The camera's reserved numbers (the device treats them as
        /// commands): the allocator skips them.
        reserved: Vec<PresetNumber>,
    },
    /// An operator's change of preset `number`, checked inside the journal's
    /// transaction against what is stored then: the preset exists
    /// ([`StoreError::NotFound`]), a locked one needs `may_change_locked`
    /// ([`StoreError::Locked`]), a new number or name is free
    /// ([`StoreError::Conflict`]). Absent fields stay as they are; the site
    /// tokens follow a renumber.
    ///
    /// [`StoreError::NotFound`]: crate::StoreError::NotFound
    /// [`StoreError::Locked`]: crate::StoreError::Locked
    /// [`StoreError::Conflict`]: crate::StoreError::Conflict
    Change {
        /// The preset changed.
        number: PresetNumber,
        /// A new name.
        name: Option<PresetName>,
        /// A new number.
        new_number: Option<PresetNumber>,
        /// A new position.
        position: Option<Position>,
        /// The caller may change locked presets.
        may_change_locked: bool,
    },
    /// An operator's deletion of preset `number`: it must exist, and a locked
    /// one needs `may_change_locked`. Its site tokens stay, as with `Delete`.
    Remove {
        /// The preset deleted.
        number: PresetNumber,
        /// The caller may change locked presets.
        may_change_locked: bool,
    },
}

/// What a [`PresetWrite`] found and left in the canonical presets, decided
/// inside the journal's transaction; the engine builds the operation and its
/// audit entry from it (`JournalStore::journal_claim`).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Claimed {
    /// The preset before the write, if there was one.
    pub before: Option<Preset>,
    /// The preset after it (absent after a delete), with its claimed number.
    pub after: Option<Preset>,
}

/// The operation and audit entry journaled for a [`Claimed`] write.
#[derive(Debug, Clone, PartialEq)]
pub struct Journal {
    /// The operation.
    pub operation: NewOperation,
    /// Its audit entry.
    pub audit: NewAudit,
}

/// The form in which two preset names of one camera are the same name:
/// Unicode lower case with surrounding white space removed. Devices compare
/// names loosely (many refuse "gate" beside "Gate"), and operators recalling
/// by name cannot tell such names apart, so tandem refuses them as duplicates.
pub fn name_key(name: &str) -> String {
    name.trim().to_lowercase()
}

/// Refuses `name` when another preset of the camera among `presets` (not
/// `except`) has the same name as [`name_key`] compares them. The journal's
/// claim applies it inside its transaction; the engine also asks it early,
/// so that a request the claim would refuse calls no site.
pub fn check_name_free(
    presets: &[Preset],
    camera: &CameraId,
    name: &PresetName,
    except: Option<PresetNumber>,
) -> Result<(), crate::StoreError> {
    let key = name_key(name.as_str());
    match presets
        .iter()
        .find(|p| Some(p.number) != except && name_key(p.name.as_str()) == key)
    {
        Some(taken) => Err(crate::StoreError::Conflict(format!(
            "camera {camera} already has a preset named {:?} (number {}); choose another name",
            taken.name.as_str(),
            taken.number
        ))),
        None => Ok(()),
    }
}

/// Refuses to change a locked preset unless the caller may change locked
/// presets; applied, like [`check_name_free`], by the claim and early.
pub fn check_unlocked(
    camera: &CameraId,
    preset: &Preset,
    may_change_locked: bool,
) -> Result<(), crate::StoreError> {
    if preset.locked && !may_change_locked {
        return Err(crate::StoreError::Locked(format!(
            "preset {} \"{}\" of camera {camera} is locked; changing it needs the \
             preset.manage_locked permission",
            preset.number,
            preset.name.as_str()
        )));
    }
    Ok(())
}

/// A journaled operation with its progress on every site.
#[derive(Debug, Clone, PartialEq)]
pub struct Operation {
    /// Its id.
    pub id: OperationId,
    /// The camera it changes.
    pub camera: CameraId,
    /// The engine's action as journaled.
    pub action: Value,
    /// Who asked.
    pub origin: Origin,
    /// The user name (or "system").
    pub actor: String,
    /// When it was journaled.
    pub created_utc: DateTime<Utc>,
    /// Progress per site, in the order the operation listed them.
    pub sites: Vec<SiteProgress>,
}

/// An operation's progress on one site.
#[derive(Debug, Clone, PartialEq)]
pub struct SiteProgress {
    /// The site.
    pub site: SiteId,
    /// Where it stands.
    pub state: SiteState,
    /// Attempts made so far.
    pub attempts: u32,
    /// The last failure in the site's own words.
    pub error: Option<String>,
    /// When the next attempt is due; always set while pending.
    pub next_attempt_utc: Option<DateTime<Utc>>,
    /// When this progress last changed.
    pub updated_utc: DateTime<Utc>,
}

/// What [`MismatchStore::replace_mismatches`](crate::MismatchStore::replace_mismatches)
/// changed, by [`Mismatch::key`].
#[derive(Debug, Clone, Default, PartialEq)]
pub struct MismatchDelta {
    /// Found by this scan and not open before.
    pub new: Vec<Mismatch>,
    /// Open before and found again (their first-seen time is kept).
    pub still_open: Vec<Mismatch>,
    /// Open before and not found by this scan: resolved.
    pub gone: Vec<Mismatch>,
}

/// An open mismatch with when scans saw it.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredMismatch {
    /// The camera.
    pub camera: CameraId,
    /// The mismatch as the latest scan reported it.
    pub mismatch: Mismatch,
    /// When a scan first found it.
    pub first_seen_utc: DateTime<Utc>,
    /// When a scan last found it.
    pub last_seen_utc: DateTime<Utc>,
}

/// An audit entry to append.
#[derive(Debug, Clone, PartialEq)]
pub struct NewAudit {
    /// The user name (or "system").
    pub actor: String,
    /// What was done, e.g. "preset.add".
    pub action: String,
    /// The camera concerned, if any.
    pub camera: Option<CameraId>,
    /// The state before, if any.
    pub before: Option<Value>,
    /// The state after, if any.
    pub after: Option<Value>,
}

/// An audit entry as stored, with its place in the hash chain.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct AuditRecord {
    /// Position in the chain, from 1, without gaps.
    pub seq: u64,
    /// When it was written (microsecond precision, as stored and hashed).
    pub at_utc: DateTime<Utc>,
    /// The user name (or "system").
    pub actor: String,
    /// What was done.
    pub action: String,
    /// The camera concerned, if any.
    pub camera: Option<CameraId>,
    /// The state before, if any.
    pub before: Option<Value>,
    /// The state after, if any.
    pub after: Option<Value>,
    /// The previous entry's hash; 64 zeros for the first.
    pub prev_hash: String,
    /// Hex SHA-256 of this entry's canonical encoding.
    pub hash: String,
}

impl AuditRecord {
    /// The header line of [`AuditRecord::csv_row`].
    pub const CSV_HEADER: &'static str = "seq,at_utc,actor,action,camera,before,after,hash";

    /// The entry as one CSV line (no line end). Text cells are quoted when
    /// they need it, and a cell that a spreadsheet would run as a formula
    /// (`=`, `+`, `-`, `@` first) is prefixed with `'`.
    pub fn csv_row(&self) -> String {
        let json = |v: &Option<Value>| v.as_ref().map(Value::to_string).unwrap_or_default();
        format!(
            "{},{},{},{},{},{},{},{}",
            self.seq,
            csv_cell(&self.at_utc.to_rfc3339()),
            csv_cell(&self.actor),
            csv_cell(&self.action),
            csv_cell(self.camera.as_ref().map_or("", |c| c.as_str())),
            csv_cell(&json(&self.before)),
            csv_cell(&json(&self.after)),
            self.hash
        )
    }
}

fn csv_cell(raw: &str) -> String {
    let raw = if raw.starts_with(['=', '+', '-', '@']) {
        format!("'{raw}")
    } else {
        raw.to_string()
    };
    if raw.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", raw.replace('"', "\"\""))
    } else {
        raw
    }
}

/// The result of checking the audit chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditVerification {
    /// Entries checked (all of them when the chain is intact).
    pub entries: u64,
    /// The first broken entry's seq and what is wrong with it; `None` when intact.
    pub first_bad: Option<(u64, String)>,
    /// The newest entry's seq and hash when the chain is intact. The chain
    /// cannot reveal that its newest entries were removed; keep this head
    /// outside the store (a log, a ticket) and compare later to detect that.
    pub head: Option<(u64, String)>,
}
