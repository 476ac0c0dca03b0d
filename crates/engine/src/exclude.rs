//! What tandem leaves alone on a device, and what a scan must not judge yet.
//!
//! DESIGN.md, "Empty slots and command presets are not presets": a slot a
//! device lists with nothing in it ([`tandem_core::preset::is_empty_slot`])
//! and a number the camera reserves for commands (its `reserved` numbers and
//! its vendor profile's, see [`crate::config`]) are not presets. Both are
//! dropped where the engine reads a site ([`Engine::read_site`]), so that no
//! scan, import, token adoption or repair ever sees them; reserved numbers
//! are also refused by every operator action and skipped by the allocator.
//!
//! A preset whose operation is still pending on some site differs between
//! the sites until that operation is applied: a scan holds such differences
//! back ([`PendingWork`]) instead of reporting a mismatch a repair would undo.

use std::collections::BTreeSet;

use tandem_core::{CameraId, Mismatch, PresetNumber, SitePreset};

use crate::action::Action;
use crate::engine::Engine;
use crate::error::EngineError;

/// What the camera's pending operations are about, on any site.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct PendingWork {
    /// Numbers a pending operation writes, renumbers from or removes.
    numbers: BTreeSet<PresetNumber>,
    /// Tokens a pending removal names (a preset tandem never numbered).
    tokens: BTreeSet<String>,
}

impl PendingWork {
    /// Whether `mismatch` is about a preset with pending work: on either side,
    /// its number or (for a removal by token) its token. A token is matched
    /// whatever the site: at worst a difference waits for the work to finish.
    pub(crate) fn covers(&self, mismatch: &Mismatch) -> bool {
        [&mismatch.primary, &mismatch.secondary]
            .into_iter()
            .flatten()
            .any(|side| {
                side.number.is_some_and(|n| self.numbers.contains(&n))
                    || self.tokens.contains(&side.token)
            })
    }

    /// True when nothing is pending.
    pub(crate) fn is_empty(&self) -> bool {
        self.numbers.is_empty() && self.tokens.is_empty()
    }
}

impl Engine {
    /// Refuses `number` when the camera reserves it: the device treats it as
    /// a command, so tandem never writes, recalls or deletes it.
    pub(crate) fn refuse_reserved(
        &self,
        camera: &CameraId,
        number: PresetNumber,
    ) -> Result<(), EngineError> {
        let spec = self.bindings().camera(camera)?;
        if spec.reserved.contains(&number) {
            return Err(EngineError::Reserved {
                camera: camera.clone(),
                number,
                vendor: spec.vendor.clone(),
            });
        }
        Ok(())
    }

    /// The camera's reserved numbers, for the allocator.
    pub(crate) fn reserved_numbers(
        &self,
        camera: &CameraId,
    ) -> Result<Vec<PresetNumber>, EngineError> {
        Ok(self
            .bindings()
            .camera(camera)?
            .reserved
            .iter()
            .copied()
            .collect())
    }

    /// A site's report without what is not a preset: empty slots, and
    /// presets whose number the camera reserves.
    pub(crate) fn presets_only(
        &self,
        camera: &CameraId,
        presets: Vec<SitePreset>,
    ) -> Result<Vec<SitePreset>, EngineError> {
        let reserved = &self.bindings().camera(camera)?.reserved;
        Ok(presets
            .into_iter()
            .filter(|p| !p.is_empty_slot())
            .filter(|p| !p.number.is_some_and(|n| reserved.contains(&n)))
            .collect())
    }

    /// What the camera's operations still pending on some site are about.
    pub(crate) fn pending_work(&self, camera: &CameraId) -> Result<PendingWork, EngineError> {
        let mut work = PendingWork::default();
        let mut seen = BTreeSet::new();
        for site in self.bindings().sites() {
            for op in self.store().pending_for(camera, &site.id)? {
                if !seen.insert(op.id.0) {
                    continue;
                }
                // An action that cannot be read fails when drained; it holds nothing back.
                match serde_json::from_value::<Action>(op.action) {
                    Ok(Action::Put {
                        number,
                        renumber_from,
                        ..
                    }) => {
                        work.numbers.insert(number);
                        work.numbers.extend(renumber_from);
                    }
                    Ok(Action::Remove { number, token, .. }) => {
                        work.numbers.extend(number);
                        work.tokens.extend(token);
                    }
                    Err(_) => {}
                }
            }
        }
        Ok(work)
    }

    /// `mismatches` without those about presets with pending work, and the
    /// numbers of those held back (sorted): they are compared again once the
    /// work is applied (the next scan), not repaired meanwhile.
    pub(crate) fn hold_back_pending(
        &self,
        camera: &CameraId,
        mismatches: Vec<Mismatch>,
    ) -> Result<(Vec<Mismatch>, Vec<PresetNumber>), EngineError> {
        // Most cameras are in sync: no journal read for them.
        if mismatches.is_empty() {
            return Ok((mismatches, Vec::new()));
        }
        let work = self.pending_work(camera)?;
        if work.is_empty() {
            return Ok((mismatches, Vec::new()));
        }
        let (held, open): (Vec<Mismatch>, Vec<Mismatch>) =
            mismatches.into_iter().partition(|m| work.covers(m));
        let numbers: BTreeSet<PresetNumber> = held
            .iter()
            .flat_map(|m| [&m.primary, &m.secondary])
            .flatten()
            .filter_map(|side| side.number)
            .collect();
        Ok((open, numbers.into_iter().collect()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tandem_core::MismatchKind;

    fn side(token: &str, number: Option<u32>) -> SitePreset {
        SitePreset {
            token: token.into(),
            number: number.and_then(|n| PresetNumber::new(n).ok()),
            name: Some("Gate".into()),
            position: None,
        }
    }

    fn mismatch(primary: Option<SitePreset>, secondary: Option<SitePreset>) -> Mismatch {
        Mismatch {
            kind: MismatchKind::NameDiffers,
            primary,
            secondary,
            position_unknown: true,
        }
    }

    #[test]
    fn pending_work_covers_a_mismatch_by_either_sides_number_or_a_removed_token() {
        let n = |v: u32| PresetNumber::new(v).expect("valid");
        let work = PendingWork {
            numbers: [n(4), n(7)].into(),
            tokens: ["guid-x".to_string()].into(),
        };
        assert!(work.covers(&mismatch(None, Some(side("4", Some(4))))));
        assert!(
            work.covers(&mismatch(
                Some(side("3", Some(3))),
                Some(side("g", Some(7)))
            )),
            "a renumber: the secondary's number"
        );
        assert!(work.covers(&mismatch(Some(side("guid-x", None)), None)));
        assert!(!work.covers(&mismatch(Some(side("5", Some(5))), None)));
        assert!(!work.covers(&mismatch(Some(side("guid-y", None)), None)));
        assert!(PendingWork::default().is_empty() && !work.is_empty());
    }
}
