//! Repairs: make one side equal to the other for a camera, through the same
//! journal as operator actions, then scan again and report what remains.

use std::sync::Arc;

use tandem_core::AuditAction;
use tandem_core::access::{self, Principal};
use tandem_core::plan::{Change, Direction, plan};
use tandem_core::{CameraId, Mismatch, Preset, PresetName, PresetNumber};
use tandem_store::{NewAudit, Origin, PresetWrite};

use crate::action::Action;
use crate::engine::{Engine, Outcome, journal_entry};
use crate::error::EngineError;
use crate::tokens::TokenMap;

/// A repair before it is applied: what would change on the target side.
#[derive(Debug, Clone, serde::Serialize)]
pub struct RepairPlan {
    /// The camera.
    pub camera: CameraId,
    /// Which side wins.
    pub direction: Direction,
    /// The mismatches being repaired.
    pub mismatches: Vec<Mismatch>,
    /// The changes on the target side, in the order they are applied.
    pub changes: Vec<Change>,
    /// Whether the target site stores a position by turning the camera
    /// there (ONVIF); an XProtect site stores the coordinates.
    #[serde(skip)]
    pub target_moves_camera: bool,
}

/// A repair after it ran.
#[derive(Debug, Clone, serde::Serialize)]
pub struct RepairReport {
    /// The plan that was applied.
    pub plan: RepairPlan,
    /// One operation per change.
    pub outcomes: Vec<Outcome>,
    /// Changes that could not be made, with the reason.
    pub skipped: Vec<(Change, String)>,
    /// Mismatches left after the re-scan.
    pub remaining: Vec<Mismatch>,
}

impl RepairPlan {
    /// Whether applying it moves the physical camera (and returns it
    /// afterwards): it stores a position (an add or an update) on an ONVIF site.
    pub fn moves_camera(&self) -> bool {
        self.target_moves_camera
            && self
                .changes
                .iter()
                .any(|c| matches!(c, Change::Add { .. } | Change::Update { .. }))
    }
}

impl Engine {
    /// Scans the camera and plans the repair. `only` restricts it to the
    /// mismatches with these keys (one mismatch); `None` repairs the whole camera.
    /// `who` needs `mismatch.resolve` on the camera.
    pub async fn plan_repair(
        self: &Arc<Self>,
        who: &Principal,
        camera: &CameraId,
        direction: Direction,
        only: Option<&[String]>,
    ) -> Result<RepairPlan, EngineError> {
        self.require(who, access::Action::ResolveMismatch, camera)?;
        let report = self.scan_camera(camera).await?;
        if let Some(unread) = report.unread.first() {
            return Err(EngineError::NoSite(
                camera.clone(),
                format!(
                    "site {} cannot be read ({}): {}",
                    unread.site,
                    unread.failure.as_str(),
                    unread.message
                ),
            ));
        }
        let mismatches: Vec<Mismatch> = match only {
            Some(keys) => report
                .mismatches
                .into_iter()
                .filter(|m| keys.contains(&m.key()))
                .collect(),
            None => report.mismatches,
        };
        let changes = plan(&mismatches, direction);
        let (p, s) = self.bindings().pair()?;
        let target = match direction {
            Direction::PrimaryToSecondary => s,
            Direction::SecondaryToPrimary => p,
        };
        let target_moves_camera = self
            .bindings()
            .get(camera, target)?
            .adapter()
            .moves_camera();
        Ok(RepairPlan {
            target_moves_camera,
            camera: camera.clone(),
            direction,
            mismatches,
            changes,
        })
    }

    /// Plans and applies a repair, each change an operation on the target site only.
    pub async fn repair(
        self: &Arc<Self>,
        camera: &CameraId,
        direction: Direction,
        only: Option<&[String]>,
        who: &Principal,
    ) -> Result<RepairReport, EngineError> {
        let plan = self.plan_repair(who, camera, direction, only).await?;
        let actor = who.user.as_str();
        let (p, s) = self.bindings().pair()?;
        let target = match direction {
            Direction::PrimaryToSecondary => s.clone(),
            Direction::SecondaryToPrimary => p.clone(),
        };
        let mut outcomes = Vec::new();
        let mut skipped = Vec::new();
        for change in &plan.changes {
            match self.repair_step(camera, &target, change)? {
                Ok((action, write)) => {
                    let audit = NewAudit {
                        actor: actor.into(),
                        action: AuditAction::MismatchRepair.as_str().into(),
                        camera: Some(camera.clone()),
                        before: None,
                        after: Some(
                            serde_json::json!({ "direction": direction, "change": change }),
                        ),
                    };
                    let sites = vec![target.clone()];
                    let outcome = self
                        .submit_claim(camera, &write, sites.clone(), &|claimed| {
                            // An added preset's number is claimed in the
                            // transaction; the action follows the claim.
                            let action = match (&action, &claimed.after) {
                                (Action::Put { .. }, Some(after)) => {
                                    action.renumbered(after.number)
                                }
                                _ => action.clone(),
                            };
                            journal_entry(
                                camera,
                                &action,
                                Origin::Repair,
                                actor,
                                sites.clone(),
                                audit.clone(),
                            )
                        })
                        .await?;
                    outcomes.push(outcome);
                }
                Err(reason) => skipped.push((change.clone(), reason)),
            }
        }
        let remaining = self.scan_camera(camera).await?.mismatches;
        Ok(RepairReport {
            plan,
            outcomes,
            skipped,
            remaining,
        })
    }

    /// The action and canonical change for one planned change, or why it cannot be made.
    fn repair_step(
        &self,
        camera: &CameraId,
        target: &tandem_core::SiteId,
        change: &Change,
    ) -> Result<Result<(Action, PresetWrite), String>, EngineError> {
        let canonical = self.store().presets(camera)?;
        let name_for = |name: &Option<String>, number: PresetNumber| -> Option<PresetName> {
            name.as_deref()
                .and_then(|n| PresetName::new(n).ok())
                .or_else(|| {
                    canonical
                        .iter()
                        .find(|c| c.number == number)
                        .map(|c| c.name.clone())
                })
                .or_else(|| PresetName::new(format!("Preset {number}")).ok())
        };
        Ok(match change {
            Change::Add {
                number,
                name,
                position,
            } => {
                let Some(position) = *position else {
                    return Ok(Err("the source reports no position for this preset".into()));
                };
                // Without a number, the lowest free one is claimed in the
                // journal's transaction (this one only names a nameless preset).
                let provisional = match number {
                    Some(n) => *n,
                    None => match PresetNumber::lowest_free(canonical.iter().map(|c| c.number)) {
                        Some(n) => n,
                        None => return Ok(Err("no free preset number".into())),
                    },
                };
                let Some(name) = name_for(name, provisional) else {
                    return Ok(Err("no usable name".into()));
                };
                let write = match number {
                    Some(number) => PresetWrite::Upsert(Preset {
                        number: *number,
                        name: name.clone(),
                        position: Some(position),
                        locked: false,
                        is_default: false,
                    }),
                    None => PresetWrite::Add {
                        number: None,
                        name: name.clone(),
                        position,
                        unique_name: false,
                        reserved: self.reserved_numbers(camera)?,
                    },
                };
                Ok((
                    Action::Put {
                        number: provisional,
                        name,
                        position,
                        renumber_from: None,
                    },
                    write,
                ))
            }
            Change::Update {
                token,
                from_number,
                number,
                name,
                position,
            } => {
                let Some(number) = number.or(*from_number) else {
                    return Ok(Err("neither side has a number for this preset".into()));
                };
                let position = position.or_else(|| {
                    canonical
                        .iter()
                        .find(|c| c.number == number)
                        .and_then(|c| c.position)
                });
                let Some(position) = position else {
                    return Ok(Err("no position is known for this preset".into()));
                };
                let Some(name) = name_for(name, number) else {
                    return Ok(Err("no usable name".into()));
                };
                // The target's preset is this one: keep its token (update in place).
                let numeric = TokenMap::load(self.store().as_ref(), camera, target)?.numeric();
                if !numeric || from_number.is_none() {
                    self.store().set_site_token(camera, target, number, token)?;
                }
                let renumber_from = from_number.filter(|f| *f != number && numeric);
                let preset = Preset {
                    number,
                    name: name.clone(),
                    position: Some(position),
                    locked: false,
                    is_default: false,
                };
                let write = match from_number.filter(|f| *f != number) {
                    Some(from)
                        if canonical.iter().any(|c| c.number == from)
                            && !canonical.iter().any(|c| c.number == number) =>
                    {
                        PresetWrite::Renumber { from, preset }
                    }
                    _ => PresetWrite::Upsert(preset),
                };
                Ok((
                    Action::Put {
                        number,
                        name,
                        position,
                        renumber_from,
                    },
                    write,
                ))
            }
            Change::Delete { token, number } => {
                // The source does not have it: neither should the canonical list.
                let write = match number {
                    Some(n) if canonical.iter().any(|c| c.number == *n) => PresetWrite::Delete(*n),
                    _ => PresetWrite::None,
                };
                Ok((
                    Action::Remove {
                        number: *number,
                        token: Some(token.clone()),
                        name: None,
                    },
                    write,
                ))
            }
        })
    }
}
