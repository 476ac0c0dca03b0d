//! A binding on an XProtect site: presets kept in the VMS, reached through
//! tandem-xprotect. The same journaled [`Action`]s as an ONVIF site, applied
//! without moving the camera (XProtect stores the coordinates), with the
//! same read-before-write rules ([`crate::slot`]) over the VMS's list, and
//! the same token map: a preset's GUID is its opaque token.

use tandem_core::Position;
use tandem_onvif::types::{Preset as OnvifPreset, PtzVector};
use tandem_store::{Store, TokenStyle};
use tandem_xprotect::types::{NewPreset, PtzPreset};

use crate::action::Action;
use crate::error::{DeviceFailure, EngineError};
use crate::live::{CameraStatus, Command};
use crate::sites::Binding;
use crate::slot::{self, Intent, Target};
use crate::tokens::TokenMap;

/// The camera's presets in the VMS, as a site lists them: the GUID as the
/// token, the name, the position.
pub async fn read(binding: &Binding) -> Result<Vec<OnvifPreset>, EngineError> {
    Ok(listed(binding).await?.iter().map(as_site_preset).collect())
}

async fn listed(binding: &Binding) -> Result<Vec<PtzPreset>, EngineError> {
    let (link, camera) = binding.xprotect_camera().await?;
    let _permit = binding.permit().await;
    link.server
        .presets(&camera)
        .await
        .map_err(|e| binding.xp(e))
}

fn as_site_preset(p: &PtzPreset) -> OnvifPreset {
    OnvifPreset {
        token: p.id.to_lowercase(),
        name: Some(p.name.clone()),
        position: Some(PtzVector::new(p.pan, p.tilt, p.zoom)),
    }
}

/// Applies `action` to the binding's XProtect site. `Ok` means applied and
/// read back. Nothing moves: the VMS stores the coordinates.
pub async fn apply(
    store: &dyn Store,
    binding: &Binding,
    action: &Action,
    tolerance: f64,
) -> Result<(), EngineError> {
    let (camera, site) = (&binding.camera, &binding.site);
    if TokenMap::load(store, camera, site)?.style().is_none() {
        store.set_token_style(camera, site, TokenStyle::Opaque)?;
    }
    let map = TokenMap::load(store, camera, site)?;
    match action {
        Action::Put {
            number,
            name,
            position,
            renumber_from,
        } => {
            let held = listed(binding).await?;
            let as_site: Vec<OnvifPreset> = held.iter().map(as_site_preset).collect();
            let intent = Intent {
                number: *number,
                name: name.as_str(),
                position: Some(*position),
                tolerance,
            };
            let target = slot::opaque_target(&map, &as_site, intent, *renumber_from, site)?;
            let existing = match &target {
                Target::Token(token) | Target::Remap(token) => {
                    held.iter().find(|p| p.id.eq_ignore_ascii_case(token))
                }
                Target::New => None,
            };
            let wanted = NewPreset {
                name: name.as_str().to_string(),
                description: String::new(),
                pan: position.pan,
                tilt: position.tilt,
                zoom: position.zoom,
                locked: false,
            };
            let (link, guid) = binding.xprotect_camera().await?;
            let stored = match existing {
                // Already as asked (a replay, or only a renumber): kept as it is.
                Some(p) if holds(p, name.as_str(), position, tolerance) => p.clone(),
                Some(p) => {
                    let _permit = binding.permit().await;
                    link.server
                        .replace_preset(&guid, p, &wanted)
                        .await
                        .map_err(|e| binding.xp(e))?
                }
                // The mapped preset is gone from the VMS (deleted by hand), or new.
                None => {
                    let _permit = binding.permit().await;
                    link.server
                        .create_preset(&guid, &wanted)
                        .await
                        .map_err(|e| binding.xp(e))?
                }
            };
            // The number now names this GUID (a renumber's old number goes
            // with it: one token, one number).
            store.set_site_token(camera, site, *number, &stored.id.to_lowercase())?;
            verify(binding, &stored.id, name.as_str(), position, tolerance).await
        }
        Action::Remove { number, token, .. } => {
            let token = match (token, number) {
                (Some(token), _) => token.clone(),
                (None, Some(n)) => match map.mapped(*n) {
                    Some(token) => token.to_string(),
                    // Not mapped on an opaque site: nothing of tandem's.
                    None => return Ok(()),
                },
                (None, None) => return Ok(()),
            };
            let (link, guid) = binding.xprotect_camera().await?;
            {
                let _permit = binding.permit().await;
                link.server
                    .delete_preset(&guid, &token)
                    .await
                    .map_err(|e| binding.xp(e))?;
            }
            if let Some(n) = number {
                store.remove_site_token(camera, site, *n)?;
                super::onvif::forget_picture(store, binding, *n);
            }
            Ok(())
        }
    }
}

/// Whether the VMS's preset already has this name and position.
fn holds(p: &PtzPreset, name: &str, position: &Position, tolerance: f64) -> bool {
    p.name == name
        && Position::new(p.pan, p.tilt, p.zoom).is_ok_and(|at| at.within(position, tolerance))
}

async fn verify(
    binding: &Binding,
    id: &str,
    name: &str,
    position: &Position,
    tolerance: f64,
) -> Result<(), EngineError> {
    let held = listed(binding).await?;
    let fail = |message: String| binding.refused(message);
    match held.iter().find(|p| p.id.eq_ignore_ascii_case(id)) {
        None => Err(fail(format!(
            "read-back: XProtect does not list preset {id} after saving it"
        ))),
        Some(p) if !holds(p, name, position, tolerance) => Err(fail(format!(
            "read-back: XProtect holds {:?} at pan {:.4} tilt {:.4} zoom {:.4} instead of {name:?} \
             within {tolerance} of the target",
            p.name, p.pan, p.tilt, p.zoom
        ))),
        Some(_) => Ok(()),
    }
}

/// A health probe: the server's version (its `/sites`, which needs a valid token).
pub async fn probe(binding: &Binding) -> Result<(), EngineError> {
    let Some(link) = binding.xprotect() else {
        return Err(EngineError::Internal("not an XProtect binding".into()));
    };
    link.server
        .ping()
        .await
        .map(|_| ())
        .map_err(|e| binding.xp(e))
}

/// Where the camera points, through XProtect (`GetPtzAbsolutePosition`, 2024 R2+).
pub async fn position(binding: &Binding) -> Result<Position, EngineError> {
    let (link, guid) = binding.xprotect_camera().await?;
    let _permit = binding.permit().await;
    let at = link
        .server
        .position(&guid)
        .await
        .map_err(|e| binding.xp(e))?;
    Position::new(at.pan, at.tilt, at.zoom).map_err(|e| EngineError::Device {
        site: binding.site.clone(),
        camera: binding.camera.clone(),
        message: format!("XProtect reported a position out of range: {e}"),
        detail: None,
        retryable: false,
        fault: None,
        failure: DeviceFailure::Malformed,
    })
}

/// A live command through XProtect's REST API, which offers absolute moves,
/// preset recall and the position (2024 R2 and later), and no continuous
/// move. `token` is the preset's GUID for a recall.
pub async fn command(
    binding: &Binding,
    command: &Command,
    token: Option<&str>,
) -> Result<Option<CameraStatus>, EngineError> {
    let (link, guid) = binding.xprotect_camera().await?;
    let xp = |e| binding.xp(e);
    match command {
        Command::AbsoluteMove { position } => {
            let _permit = binding.permit().await;
            link.server
                .move_to(&guid, to_xp(*position), 1.0)
                .await
                .map_err(xp)?;
        }
        Command::RelativeMove { translation } => {
            let from = position(binding).await?;
            let to = Position::new(
                (from.pan + translation[0]).clamp(-1.0, 1.0),
                (from.tilt + translation[1]).clamp(-1.0, 1.0),
                (from.zoom + translation[2]).clamp(0.0, 1.0),
            )
            .map_err(|e| EngineError::Internal(e.to_string()))?;
            let _permit = binding.permit().await;
            link.server
                .move_to(&guid, to_xp(to), 1.0)
                .await
                .map_err(xp)?;
        }
        Command::RecallPreset(_) => {
            let token =
                token.ok_or_else(|| EngineError::Internal("a recall without its preset".into()))?;
            let _permit = binding.permit().await;
            link.server.goto_preset(&guid, token).await.map_err(xp)?;
        }
        // The default preset is XProtect's home position.
        Command::GotoHome => {
            let presets = listed(binding).await?;
            let Some(home) = presets.iter().find(|p| p.default_preset) else {
                return Err(
                    binding.refused("the camera has no default preset in XProtect to go home to")
                );
            };
            let _permit = binding.permit().await;
            link.server.goto_preset(&guid, &home.id).await.map_err(xp)?;
        }
        Command::ContinuousMove { .. } => {
            return Err(binding.refused(
                "XProtect's REST API has no continuous moves: steer this camera with absolute or \
                 relative moves, through the other site, or set onvif_url in this binding \
                 (the camera's ONVIF address)",
            ));
        }
        // No continuous move runs through XProtect, and a move to a
        // position ends by itself: nothing to stop.
        Command::Stop => {}
        Command::Status => {
            return Ok(Some(CameraStatus {
                position: Some(position(binding).await?),
                moving: false,
            }));
        }
    }
    Ok(None)
}

fn to_xp(p: Position) -> tandem_xprotect::types::Position {
    tandem_xprotect::types::Position {
        pan: p.pan,
        tilt: p.tilt,
        zoom: p.zoom,
    }
}

/// The camera's patrolling profiles, each with the presets it names.
pub async fn patrols(binding: &Binding) -> Result<Vec<crate::scan::Patrol>, EngineError> {
    let (link, camera) = binding.xprotect_camera().await?;
    let _permit = binding.permit().await;
    let profiles = link
        .server
        .patrols(&camera)
        .await
        .map_err(|e| binding.xp(e))?;
    Ok(profiles
        .into_iter()
        .map(|p| crate::scan::Patrol {
            presets: p
                .patrolling_entry
                .iter()
                .map(|e| e.preset_id.to_lowercase())
                .chain(
                    p.end_preset_id
                        .filter(|e| !e.is_empty())
                        .map(|e| e.to_lowercase()),
                )
                .collect(),
            name: p.name,
        })
        .collect())
}
