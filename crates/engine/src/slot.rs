//! Read before write: which slot of a site an action may write or remove,
//! decided from what the site holds now (read in the same operation) and what
//! tandem created or adopted there (its token map). A slot holding a preset
//! tandem neither created nor adopted is never overwritten or removed: the
//! site refuses the action with a conflict naming that preset (DESIGN.md,
//! "Read before write").
//!
//! Adopted means mapped: a scan maps each site preset that pairs with a
//! canonical number, an import maps the imported ones, and a write maps what
//! it stored. A slot that already holds exactly what is being written (same
//! name, position within tolerance) is tandem's own write replayed after a
//! crash, before its token was recorded: it counts as tandem's.

use tandem_core::{PresetNumber, SiteId};
use tandem_onvif::types::Preset as OnvifPreset;

use crate::error::EngineError;
use crate::sites::from_vector;
use crate::tokens::TokenMap;

/// Where a `Put` writes on a site.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// `SetPreset` with this token: tandem's preset there, or a free numeric slot.
    Token(String),
    /// The mapped token of the preset being renumbered, to map to the new
    /// number first: on an opaque site a renumber is tandem's business only.
    Remap(String),
    /// `SetPreset` without a token: the device chooses one (opaque sites).
    New,
}

/// What is being written, to recognise tandem's own replayed write.
#[derive(Debug, Clone, Copy)]
pub struct Intent<'a> {
    /// The preset number.
    pub number: PresetNumber,
    /// Its name.
    pub name: &'a str,
    /// Its position, when known.
    pub position: Option<tandem_core::Position>,
    /// The camera's position tolerance.
    pub tolerance: f64,
}

/// The slot to write on a numeric-token site (or one whose style is not known
/// yet: tried as numeric first).
pub fn numeric_target(
    map: &TokenMap,
    held: &[OnvifPreset],
    intent: Intent<'_>,
    site: &SiteId,
) -> Result<Target, EngineError> {
    let token = map
        .mapped(intent.number)
        .map(str::to_string)
        .unwrap_or_else(|| intent.number.token());
    match held.iter().find(|p| p.token == token) {
        Some(found) if !owned(map, found, intent) => Err(foreign(site, Some(intent.number), found)),
        _ => Ok(Target::Token(token)),
    }
}

/// The slot to write on an opaque-token site: the mapped token, the renumbered
/// preset's token, an unmapped preset that is tandem's replayed write, or a new one.
pub fn opaque_target(
    map: &TokenMap,
    held: &[OnvifPreset],
    intent: Intent<'_>,
    renumber_from: Option<PresetNumber>,
    site: &SiteId,
) -> Result<Target, EngineError> {
    if let Some(token) = map.mapped(intent.number) {
        return Ok(Target::Token(token.to_string()));
    }
    if let Some(token) = renumber_from.and_then(|from| map.mapped(from)) {
        return Ok(Target::Remap(token.to_string()));
    }
    let unmapped = held
        .iter()
        .filter(|p| !map.has_token(&p.token) && p.name.as_deref() == Some(intent.name));
    let mut same_name = None;
    for p in unmapped {
        if same_place(p, intent) {
            return Ok(Target::Token(p.token.clone()));
        }
        same_name.get_or_insert(p);
    }
    match same_name {
        // A device preset of that name that tandem never adopted: writing
        // beside it would leave two of one name, and taking it would overwrite it.
        Some(found) => Err(foreign(site, None, found)),
        None => Ok(Target::New),
    }
}

/// Whether removing `number` from a site may remove `found`, the preset in its slot now.
pub fn may_remove(
    map: &TokenMap,
    found: &OnvifPreset,
    intent: Intent<'_>,
    site: &SiteId,
) -> Result<(), EngineError> {
    if owned(map, found, intent) {
        Ok(())
    } else {
        Err(foreign(site, Some(intent.number), found))
    }
}

/// Whether the slot's preset is tandem's: mapped to this number, an empty
/// slot, or what is being written already (a replay).
fn owned(map: &TokenMap, found: &OnvifPreset, intent: Intent<'_>) -> bool {
    map.mapped(intent.number) == Some(found.token.as_str())
        || is_empty_slot(found)
        || (found.name.as_deref() == Some(intent.name)
            && (intent.position.is_none() || same_place(found, intent)))
}

fn same_place(found: &OnvifPreset, intent: Intent<'_>) -> bool {
    match (
        found.position.as_ref().and_then(from_vector),
        intent.position,
    ) {
        (Some(at), Some(target)) => at.within(&target, intent.tolerance),
        _ => false,
    }
}

/// A slot the device lists with nothing in it: nothing to lose. The one rule
/// is core's ([`tandem_core::preset::is_empty_slot`]), as scans apply it.
pub fn is_empty_slot(p: &OnvifPreset) -> bool {
    tandem_core::preset::is_empty_slot(&p.token, p.name.as_deref(), p.position.is_some())
}

/// The refusal: `number` is the slot on a numeric site, `None` on an opaque one.
fn foreign(site: &SiteId, number: Option<PresetNumber>, found: &OnvifPreset) -> EngineError {
    let what = match found.name.as_deref().filter(|n| !n.trim().is_empty()) {
        Some(name) => format!("\"{name}\""),
        None => format!("a preset without a name (token {:?})", found.token),
    };
    let place = match number {
        Some(number) => format!("slot {number} on {site} holds {what}"),
        None => format!("{site} holds {what}"),
    };
    EngineError::Conflict(format!(
        "{place}, which tandem has not adopted: scan the camera and resolve the mismatch first"
    ))
}
