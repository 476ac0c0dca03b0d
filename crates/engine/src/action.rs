//! What an operation asks of one site: replayable from the journal, so every
//! action is written to be idempotent (re-applying never duplicates a preset).

use serde::{Deserialize, Serialize};
use tandem_core::{Position, PresetName, PresetNumber};

/// One preset change, as journaled and as applied to each site.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Action {
    /// Make the site hold preset `number`, named `name`, at `position`:
    /// created when missing, updated in place (same token) when present.
    Put {
        /// The preset number.
        number: PresetNumber,
        /// Its name.
        name: PresetName,
        /// Where it points.
        position: Position,
        /// The number it had before, when this is a renumber. On numeric-token
        /// sites the old slot is removed after the new one is stored, so a crash
        /// between the two steps leaves a duplicate to finish, never a loss.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        renumber_from: Option<PresetNumber>,
    },
    /// Remove preset `number` from the site; a preset already gone counts as removed.
    Remove {
        /// The preset number; absent for a preset tandem never numbered.
        number: Option<PresetNumber>,
        /// The site's token, when the preset is known only by token (a repair of
        /// a preset tandem never numbered).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        token: Option<String>,
        /// The preset's name when the operation was asked for: a slot tandem
        /// never mapped is removed only if it holds this name (read before write).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        name: Option<PresetName>,
    },
}

impl Action {
    /// The preset number the action is about, when it has one.
    pub fn number(&self) -> Option<PresetNumber> {
        match self {
            Action::Put { number, .. } => Some(*number),
            Action::Remove { number, .. } => *number,
        }
    }

    /// The same action for preset `number` (a `Put` whose number was claimed
    /// in the journal's transaction); a `Remove` is returned as it is.
    pub fn renumbered(&self, number: PresetNumber) -> Action {
        match self {
            Action::Put {
                name,
                position,
                renumber_from,
                ..
            } => Action::Put {
                number,
                name: name.clone(),
                position: *position,
                renumber_from: *renumber_from,
            },
            Action::Remove { .. } => self.clone(),
        }
    }

    /// A short description for logs and audit.
    pub fn describe(&self) -> String {
        match self {
            Action::Put {
                number,
                name,
                renumber_from: Some(from),
                ..
            } => {
                format!("put preset {number} \"{name}\" (renumbered from {from})")
            }
            Action::Put { number, name, .. } => format!("put preset {number} \"{name}\""),
            Action::Remove {
                number: Some(number),
                ..
            } => format!("remove preset {number}"),
            Action::Remove { token, .. } => {
                format!("remove preset token {}", token.as_deref().unwrap_or("?"))
            }
        }
    }
}
