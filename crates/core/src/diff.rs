//! The diff between two sites' presets for one camera.
//!
//! Rules (DESIGN.md, "Mismatch rules"): pair presets by number first, then the
//! unpaired ones by exact name. Each difference of a pair is one mismatch:
//! name differs, number differs (paired by name), position differs (any axis
//! beyond the tolerance). Unpaired presets are only-on-primary or
//! only-on-secondary. A side that reports no name or no position, or whose
//! number is unknown, is not compared on it; a missing position is noted.

use std::collections::BTreeMap;

use crate::preset::{PresetNumber, SitePreset};

/// Largest per-axis difference still counted as the same position, in generic units.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Tolerance(pub f64);

impl Default for Tolerance {
    /// 0.001: devices round positions, typically to 1/1000 or coarser.
    fn default() -> Self {
        Tolerance(0.001)
    }
}

/// What differs.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum MismatchKind {
    /// A preset on the primary has no counterpart on the secondary.
    OnlyOnPrimary,
    /// A preset on the secondary has no counterpart on the primary.
    OnlyOnSecondary,
    /// Same number, different name.
    NameDiffers,
    /// Same name, different number.
    NumberDiffers,
    /// Paired presets point to different places.
    PositionDiffers,
}

impl MismatchKind {
    /// The kind as the API and CLI spell it.
    pub fn as_str(self) -> &'static str {
        match self {
            MismatchKind::OnlyOnPrimary => "only_on_primary",
            MismatchKind::OnlyOnSecondary => "only_on_secondary",
            MismatchKind::NameDiffers => "name_differs",
            MismatchKind::NumberDiffers => "number_differs",
            MismatchKind::PositionDiffers => "position_differs",
        }
    }
}

/// One difference between the sites' presets of one camera.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Mismatch {
    /// What differs.
    pub kind: MismatchKind,
    /// The primary's preset, absent for only-on-secondary.
    pub primary: Option<SitePreset>,
    /// The secondary's preset, absent for only-on-primary.
    pub secondary: Option<SitePreset>,
    /// Positions were not compared: a side reported none.
    pub position_unknown: bool,
}

impl Mismatch {
    /// A stable identity across scans: the kind and both sides' tokens.
    pub fn key(&self) -> String {
        let token = |p: &Option<SitePreset>| {
            p.as_ref()
                .map(|p| p.token.as_str())
                .unwrap_or("-")
                .to_string()
        };
        format!(
            "{}|{}|{}",
            self.kind.as_str(),
            token(&self.primary),
            token(&self.secondary)
        )
    }

    /// The number this mismatch is about (the primary's, else the secondary's).
    pub fn number(&self) -> Option<PresetNumber> {
        self.primary
            .as_ref()
            .and_then(|p| p.number)
            .or_else(|| self.secondary.as_ref().and_then(|p| p.number))
    }
}

/// Every mismatch between `primary` and `secondary`, sorted by number, then kind.
pub fn diff(
    primary: &[SitePreset],
    secondary: &[SitePreset],
    tolerance: Tolerance,
) -> Vec<Mismatch> {
    let mut p_left: Vec<&SitePreset> = sorted(primary);
    let mut s_left: Vec<&SitePreset> = sorted(secondary);
    let mut pairs: Vec<(&SitePreset, &SitePreset)> = Vec::new();

    // 1. By number.
    let s_by_number: BTreeMap<PresetNumber, usize> = s_left
        .iter()
        .enumerate()
        .rev() // the first of duplicate numbers wins
        .filter_map(|(i, s)| s.number.map(|n| (n, i)))
        .collect();
    let mut s_taken = vec![false; s_left.len()];
    let mut p_rest = Vec::new();
    for p in p_left.drain(..) {
        match p
            .number
            .and_then(|n| s_by_number.get(&n))
            .filter(|i| !s_taken[**i])
        {
            Some(&i) => {
                s_taken[i] = true;
                pairs.push((p, s_left[i]));
            }
            None => p_rest.push(p),
        }
    }
    s_left = s_left
        .into_iter()
        .zip(s_taken)
        .filter(|(_, t)| !t)
        .map(|(s, _)| s)
        .collect();

    // 2. The rest by exact name.
    let mut p_unpaired = Vec::new();
    for p in p_rest {
        let found = p
            .name
            .as_ref()
            .and_then(|name| s_left.iter().position(|s| s.name.as_ref() == Some(name)));
        match found {
            Some(i) => pairs.push((p, s_left.remove(i))),
            None => p_unpaired.push(p),
        }
    }

    let mut out = Vec::new();
    for (p, s) in pairs {
        let position_unknown = p.position.is_none() || s.position.is_none();
        let mut push = |kind| {
            out.push(Mismatch {
                kind,
                primary: Some(p.clone()),
                secondary: Some(s.clone()),
                position_unknown,
            })
        };
        if let (Some(pn), Some(sn)) = (&p.name, &s.name)
            && pn != sn
        {
            push(MismatchKind::NameDiffers);
        }
        // A side whose number is unknown (an opaque token tandem has not mapped yet) is not compared.
        if let (Some(pn), Some(sn)) = (p.number, s.number)
            && pn != sn
        {
            push(MismatchKind::NumberDiffers);
        }
        if let (Some(pp), Some(sp)) = (&p.position, &s.position)
            && !pp.within(sp, tolerance.0)
        {
            push(MismatchKind::PositionDiffers);
        }
    }
    for p in p_unpaired {
        out.push(Mismatch {
            kind: MismatchKind::OnlyOnPrimary,
            primary: Some(p.clone()),
            secondary: None,
            position_unknown: p.position.is_none(),
        });
    }
    for s in s_left {
        out.push(Mismatch {
            kind: MismatchKind::OnlyOnSecondary,
            primary: None,
            secondary: Some(s.clone()),
            position_unknown: s.position.is_none(),
        });
    }
    out.sort_by_key(|m| (m.number(), m.kind, m.key()));
    out
}

fn sorted(presets: &[SitePreset]) -> Vec<&SitePreset> {
    let mut v: Vec<&SitePreset> = presets.iter().collect();
    v.sort_by(|a, b| {
        (a.number.is_none(), a.number, &a.token).cmp(&(b.number.is_none(), b.number, &b.token))
    });
    v
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::preset::Position;

    fn sp(
        token: &str,
        number: Option<u32>,
        name: Option<&str>,
        pos: Option<(f64, f64, f64)>,
    ) -> SitePreset {
        SitePreset {
            token: token.into(),
            number: number.map(|n| PresetNumber::new(n).expect("valid")),
            name: name.map(str::to_string),
            position: pos.map(|(p, t, z)| Position {
                pan: p,
                tilt: t,
                zoom: z,
            }),
        }
    }

    fn kinds(m: &[Mismatch]) -> Vec<(MismatchKind, Option<u32>)> {
        m.iter()
            .map(|m| (m.kind, m.number().map(PresetNumber::get)))
            .collect()
    }

    #[test]
    fn identical_sites_have_no_mismatch_even_with_rounding_and_other_tokens() {
        let p = [sp("1", Some(1), Some("Gate"), Some((0.1234, 0.5, 0.2)))];
        let s = [sp(
            "guid-a",
            Some(1),
            Some("Gate"),
            Some((0.1235, 0.5, 0.2)),
        )];
        assert!(diff(&p, &s, Tolerance::default()).is_empty());
        assert_eq!(diff(&p, &s, Tolerance(0.00001)).len(), 1);
    }

    #[test]
    fn every_kind_is_found() {
        let p = [
            sp("1", Some(1), Some("Gate"), Some((0.0, 0.0, 0.0))),
            sp("2", Some(2), Some("Parking"), Some((0.2, 0.0, 0.0))),
            sp("3", Some(3), Some("Dock"), Some((0.3, 0.0, 0.0))),
            sp("4", Some(4), Some("Lobby"), Some((0.4, 0.0, 0.0))),
            sp("5", Some(5), Some("Roof"), Some((0.5, 0.0, 0.0))),
        ];
        let s = [
            sp("1", Some(1), Some("Gate"), Some((0.0, 0.0, 0.0))),
            sp("2", Some(2), Some("Parking lot"), Some((0.2, 0.0, 0.0))),
            sp("3", Some(3), Some("Dock"), Some((0.5, 0.0, 0.0))),
            sp("6", Some(6), Some("Lobby"), Some((0.4, 0.0, 0.0))),
            sp("9", Some(9), Some("Extra"), None),
        ];
        let m = diff(&p, &s, Tolerance::default());
        assert_eq!(
            kinds(&m),
            vec![
                (MismatchKind::NameDiffers, Some(2)),
                (MismatchKind::PositionDiffers, Some(3)),
                (MismatchKind::NumberDiffers, Some(4)),
                (MismatchKind::OnlyOnPrimary, Some(5)),
                (MismatchKind::OnlyOnSecondary, Some(9)),
            ]
        );
        assert!(m[4].position_unknown);
    }

    #[test]
    fn names_differing_by_case_are_different_and_unnamed_presets_are_not_paired_by_name() {
        let p = [sp("a", None, Some("gate"), None), sp("b", None, None, None)];
        let s = [sp("x", None, Some("Gate"), None), sp("y", None, None, None)];
        let m = diff(&p, &s, Tolerance::default());
        assert_eq!(
            m.iter()
                .filter(|m| m.kind == MismatchKind::OnlyOnPrimary)
                .count(),
            2
        );
        assert_eq!(
            m.iter()
                .filter(|m| m.kind == MismatchKind::OnlyOnSecondary)
                .count(),
            2
        );
    }

    #[test]
    fn missing_names_and_positions_are_not_compared_but_noted() {
        let p = [sp("1", Some(1), Some("Gate"), Some((0.0, 0.0, 0.0)))];
        let s = [sp("1", Some(1), None, None)];
        assert!(diff(&p, &s, Tolerance::default()).is_empty());
        let s = [sp("1", Some(1), Some("Other"), None)];
        let m = diff(&p, &s, Tolerance::default());
        assert_eq!(m.len(), 1);
        assert!(m[0].position_unknown);
    }

    #[test]
    fn result_is_deterministic_whatever_the_input_order() {
        let mut p = vec![
            sp("2", Some(2), Some("B"), None),
            sp("1", Some(1), Some("A"), None),
        ];
        let s = vec![sp("7", Some(7), Some("C"), None)];
        let first = diff(&p, &s, Tolerance::default());
        p.reverse();
        assert_eq!(first, diff(&p, &s, Tolerance::default()));
    }
}
