//! The repair plan: given the mismatches of one camera and a direction, the
//! changes that make the target side equal to the source side.

use crate::diff::{Mismatch, MismatchKind};
use crate::preset::{Position, PresetNumber, SitePreset};

/// Which side wins.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    /// Apply the primary's presets to the secondary.
    PrimaryToSecondary,
    /// Apply the secondary's presets to the primary.
    SecondaryToPrimary,
}

/// One change on the target side.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum Change {
    /// Create a preset; `number` absent means the lowest free number.
    Add {
        /// The number to give it.
        number: Option<PresetNumber>,
        /// Its name.
        name: Option<String>,
        /// Its position, when the source reported one.
        position: Option<Position>,
    },
    /// Change the target's preset `token` to match the source.
    Update {
        /// The target's token (kept: update in place).
        token: String,
        /// The target's current number.
        from_number: Option<PresetNumber>,
        /// The source's number.
        number: Option<PresetNumber>,
        /// The source's name.
        name: Option<String>,
        /// The source's position.
        position: Option<Position>,
    },
    /// Remove the target's preset `token`.
    Delete {
        /// The target's token.
        token: String,
        /// Its number, when known.
        number: Option<PresetNumber>,
    },
}

impl Change {
    fn order(&self) -> u8 {
        // Deletes free numbers and names before updates and adds need them.
        match self {
            Change::Delete { .. } => 0,
            Change::Update { .. } => 1,
            Change::Add { .. } => 2,
        }
    }
}

/// The changes on the target side, deletes first, then updates, then adds;
/// one update per target preset however many of its fields differ.
pub fn plan(mismatches: &[Mismatch], direction: Direction) -> Vec<Change> {
    let sides = |m: &Mismatch| -> (Option<SitePreset>, Option<SitePreset>) {
        match direction {
            Direction::PrimaryToSecondary => (m.primary.clone(), m.secondary.clone()),
            Direction::SecondaryToPrimary => (m.secondary.clone(), m.primary.clone()),
        }
    };
    let mut changes: Vec<Change> = Vec::new();
    for m in mismatches {
        let change = match sides(m) {
            (Some(source), None) => Change::Add {
                number: source.number,
                name: source.name.clone(),
                position: source.position,
            },
            (None, Some(target)) => Change::Delete {
                token: target.token.clone(),
                number: target.number,
            },
            (Some(source), Some(target)) => {
                debug_assert!(!matches!(
                    m.kind,
                    MismatchKind::OnlyOnPrimary | MismatchKind::OnlyOnSecondary
                ));
                Change::Update {
                    token: target.token.clone(),
                    from_number: target.number,
                    number: source.number,
                    name: source.name.clone(),
                    position: source.position,
                }
            }
            (None, None) => continue,
        };
        if !changes.contains(&change) {
            changes.push(change);
        }
    }
    changes.sort_by_key(|c| {
        let number = match c {
            Change::Add { number, .. }
            | Change::Update { number, .. }
            | Change::Delete { number, .. } => *number,
        };
        (c.order(), number.is_none(), number)
    });
    changes
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diff::{Tolerance, diff};

    fn sp(token: &str, number: u32, name: &str, pan: f64) -> SitePreset {
        SitePreset {
            token: token.into(),
            number: PresetNumber::new(number).ok(),
            name: Some(name.into()),
            position: Some(Position {
                pan,
                tilt: 0.0,
                zoom: 0.0,
            }),
        }
    }

    #[test]
    fn primary_to_secondary_adds_updates_and_deletes_on_the_secondary() {
        let p = [
            sp("1", 1, "Gate", 0.1),
            sp("2", 2, "Dock", 0.2),
            sp("3", 3, "Roof", 0.3),
        ];
        let s = [
            sp("g1", 1, "Gate", 0.1),
            sp("g2", 2, "Dock 2", 0.25),
            sp("g9", 9, "Extra", 0.9),
        ];
        let changes = plan(
            &diff(&p, &s, Tolerance::default()),
            Direction::PrimaryToSecondary,
        );
        assert_eq!(changes.len(), 3, "{changes:?}");
        assert!(matches!(&changes[0], Change::Delete { token, .. } if token == "g9"));
        assert!(
            matches!(&changes[1], Change::Update { token, name: Some(n), .. } if token == "g2" && n == "Dock")
        );
        assert!(matches!(&changes[2], Change::Add { name: Some(n), .. } if n == "Roof"));
    }

    #[test]
    fn secondary_to_primary_is_the_mirror() {
        let p = [sp("1", 1, "Gate", 0.1), sp("3", 3, "Roof", 0.3)];
        let s = [sp("g1", 1, "Gate", 0.1)];
        let changes = plan(
            &diff(&p, &s, Tolerance::default()),
            Direction::SecondaryToPrimary,
        );
        assert_eq!(
            changes,
            vec![Change::Delete {
                token: "3".into(),
                number: PresetNumber::new(3).ok()
            }]
        );
    }

    #[test]
    fn applying_the_plan_leaves_no_mismatch() {
        let p = [sp("1", 1, "Gate", 0.1), sp("4", 4, "Lobby", 0.4)];
        let s = [
            sp("1", 1, "Gate!", 0.1),
            sp("6", 6, "Lobby", 0.4),
            sp("7", 7, "X", 0.7),
        ];
        let changes = plan(
            &diff(&p, &s, Tolerance::default()),
            Direction::PrimaryToSecondary,
        );
        // Apply the plan to a copy of the secondary as a numeric-token site would.
        let mut after: Vec<SitePreset> = s.to_vec();
        for c in &changes {
            match c {
                Change::Delete { token, .. } => after.retain(|x| &x.token != token),
                Change::Update {
                    token,
                    number,
                    name,
                    position,
                    ..
                } => {
                    let x = after
                        .iter_mut()
                        .find(|x| &x.token == token)
                        .expect("target exists");
                    x.number = *number;
                    x.name = name.clone();
                    x.position = *position;
                }
                Change::Add {
                    number,
                    name,
                    position,
                } => after.push(SitePreset {
                    token: format!("new{}", after.len()),
                    number: *number,
                    name: name.clone(),
                    position: *position,
                }),
            }
        }
        assert!(diff(&p, &after, Tolerance::default()).is_empty());
    }
}
