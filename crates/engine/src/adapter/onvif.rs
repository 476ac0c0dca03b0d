//! A binding on an ONVIF site: a camera or VMS bridge speaking ONVIF PTZ.
//!
//! Applying one journaled [`Action`] takes the steps ONVIF needs:
//! `GetPresets` (read before write: see [`crate::slot`]), `AbsoluteMove`, wait
//! for IDLE, `SetPreset` with the mapped token (or a new one), the camera back
//! where it was, then `GetPresets` to read back. Every step is safe to repeat,
//! because after a crash the whole action is applied again from the start.
//! Live commands, the position and the health probe are one ONVIF call each.

use std::time::{Duration, Instant};

use tandem_core::clock::Clock;
use tandem_core::{Position, PresetNumber};
use tandem_onvif::types::{PanTilt, Preset as OnvifPreset, PtzVector};
use tandem_store::{Store, TokenStyle};

use crate::action::Action;
use crate::control::CameraControl;
use crate::error::{DeviceFailure, EngineError};
use crate::hold::{CameraHold, Origin};
use crate::lease::{Leases, camera_lease};
use crate::live::{CameraStatus, Command};
use crate::sites::{Binding, from_vector, to_vector};
use crate::slot::{self, Intent, Target};
use crate::tokens::TokenMap;

/// Longest wait for a camera to reach a position before `SetPreset`.
const MOVE_TIMEOUT: Duration = Duration::from_secs(30);
/// How often `GetStatus` is polled while waiting for IDLE.
const POLL: Duration = Duration::from_millis(50);

/// What keeps a physical camera where preset work put it, and brings it back:
/// the in-process [`CameraHold`] (shared by sites that want the same position),
/// the camera's lease in the store (no other process moves it meanwhile), and
/// who steers it (work that moved it returns it only if nobody took control).
#[derive(Debug)]
pub struct Hold<'a> {
    /// This process's hold of the camera.
    pub camera: CameraHold,
    /// This process's leases.
    pub leases: &'a Leases,
    /// Who holds manual control of the cameras.
    pub control: &'a CameraControl,
    /// When this work began, on the engine's clock.
    pub started: Instant,
    /// The engine's clock.
    pub clock: &'a dyn Clock,
    /// Another process may have sent this write already (its lease lapsed
    /// mid-queue): read the site first, and write nothing it holds already.
    pub in_doubt: bool,
}

/// Applies `action` to the binding's site. `Ok` means applied and verified.
pub async fn apply(
    store: &dyn Store,
    binding: &Binding,
    action: &Action,
    tolerance: f64,
    hold: &Hold<'_>,
) -> Result<(), EngineError> {
    match action {
        Action::Put {
            number,
            name,
            position,
            renumber_from,
        } => {
            let profile = binding.profile().await?;
            let intent = Intent {
                number: *number,
                name: name.as_str(),
                position: Some(*position),
                tolerance,
            };
            // Read before write: refused here, the camera has not moved. A
            // slot mapped to the number (and the old one of a renumber) is
            // tandem's already: no read is needed to write it.
            let map = TokenMap::load(store, &binding.camera, &binding.site)?;
            let known = map.mapped(*number).is_some()
                && renumber_from.is_none_or(|from| from == *number || map.mapped(from).is_some());
            let held = if known && !hold.in_doubt {
                Vec::new()
            } else {
                read_presets(binding, &profile).await?
            };
            let target = if map.numeric() {
                slot::numeric_target(&map, &held, intent, &binding.site)?
            } else {
                slot::opaque_target(&map, &held, intent, *renumber_from, &binding.site)?
            };
            // The site holds this very preset already (a write that landed
            // before its process died): nothing to move, nothing to write.
            if let Target::Token(token) = &target
                && renumber_from.is_none_or(|from| from == *number)
                && held.iter().any(|p| {
                    p.token == *token
                        && p.name.as_deref() == Some(name.as_str())
                        && p.position
                            .as_ref()
                            .and_then(from_vector)
                            .is_some_and(|at| at.within(position, tolerance))
                })
            {
                store.set_site_token(&binding.camera, &binding.site, *number, token)?;
                tracing::info!(camera = %binding.camera, site = %binding.site, %token,
                    "already on the site: an earlier attempt's write landed");
                return Ok(());
            }
            // Held until the preset is stored: the camera must stay where we put it.
            let camera = hold.camera.hold(*position).await;
            let lease = hold
                .leases
                .take(&camera_lease(&binding.camera), MOVE_TIMEOUT)
                .await?;
            // Where the camera points before anyone moves it: it goes back
            // there. Just sent back by the previous run, it may still be on
            // its way: that run's origin is the one.
            camera
                .origin(async {
                    match hold.camera.take_returning() {
                        Some(back)
                            if hold.started.saturating_duration_since(back.since)
                                < RETURN_TRUST
                                && !hold.control.taken_since(&binding.camera, back.since) =>
                        {
                            Some(Origin {
                                position: back.position,
                                since: hold.started,
                            })
                        }
                        _ => read_origin(binding, &profile, hold.started).await,
                    }
                })
                .await;
            let stored = store_at(store, binding, &profile, &held, intent, *renumber_from).await;
            // The camera is where the preset points: its picture, before it goes back.
            let picture = match &stored {
                Ok(_) => tokio::time::timeout(PICTURE_TIMEOUT, binding.onvif_snapshot())
                    .await
                    .ok()
                    .and_then(Result::ok),
                Err(_) => None,
            };
            if let Some(origin) = camera.release() {
                go_back(binding, &profile, origin, *position, tolerance, hold).await;
            }
            drop(lease);
            verify(
                binding,
                &profile,
                &stored?,
                name.as_str(),
                *position,
                tolerance,
            )
            .await?;
            keep_picture(store, binding, *number, *renumber_from, picture, hold.clock);
            Ok(())
        }
        Action::Remove {
            number,
            token,
            name,
        } => {
            let profile = binding.profile().await?;
            let map = TokenMap::load(store, &binding.camera, &binding.site)?;
            let token = match (token, number) {
                // Known by token: a repair read it in its plan.
                (Some(token), _) => token.clone(),
                (None, Some(n)) => {
                    let Some(token) = map.token(*n) else {
                        return Ok(()); // An opaque site without it: nothing of ours.
                    };
                    if map.mapped(*n) != Some(token.as_str()) {
                        // The number's slot, never mapped: remove only what
                        // tandem knows is this preset.
                        let held = read_presets(binding, &profile).await?;
                        let Some(found) = held.iter().find(|p| p.token == token) else {
                            return Ok(()); // Already gone.
                        };
                        let intent = Intent {
                            number: *n,
                            name: name.as_ref().map(|n| n.as_str()).unwrap_or_default(),
                            position: None,
                            tolerance,
                        };
                        slot::may_remove(&map, found, intent, &binding.site)?;
                    }
                    token
                }
                (None, None) => return Ok(()), // Nothing identifies a preset.
            };
            remove(binding, &profile, &token).await?;
            if let Some(n) = number {
                store.remove_site_token(&binding.camera, &binding.site, *n)?;
                forget_picture(store, binding, *n);
            }
            Ok(())
        }
    }
}

/// Longest wait for a preset's picture while the camera is held there.
const PICTURE_TIMEOUT: Duration = Duration::from_secs(2);

/// Keeps the picture taken where preset `number` points (the one before a
/// renumber goes). Advisory: a picture that cannot be kept changes nothing
/// of the operation.
fn keep_picture(
    store: &dyn Store,
    binding: &Binding,
    number: PresetNumber,
    renumber_from: Option<PresetNumber>,
    picture: Option<Vec<u8>>,
    clock: &dyn Clock,
) {
    if let Some(from) = renumber_from.filter(|f| *f != number) {
        forget_picture(store, binding, from);
    }
    let Some(jpeg) = picture else { return };
    let taken = chrono::DateTime::<chrono::Utc>::from(clock.wall());
    if let Err(e) = store.put_preset_picture(&binding.camera, &binding.site, number, &jpeg, taken) {
        tracing::warn!(camera = %binding.camera, site = %binding.site, error = %e, "cannot keep a preset's picture");
    }
}

/// Forgets the picture of preset `number` on the binding's site (advisory).
pub(crate) fn forget_picture(store: &dyn Store, binding: &Binding, number: PresetNumber) {
    if let Err(e) = store.remove_preset_picture(&binding.camera, &binding.site, number) {
        tracing::warn!(camera = %binding.camera, site = %binding.site, error = %e, "cannot forget a preset's picture");
    }
}

/// Moves the camera to the intent's position and stores the preset there;
/// answers the token the site holds it under. The hold and lease are the caller's.
async fn store_at(
    store: &dyn Store,
    binding: &Binding,
    profile: &str,
    held: &[OnvifPreset],
    intent: Intent<'_>,
    renumber_from: Option<PresetNumber>,
) -> Result<String, EngineError> {
    let Some(position) = intent.position else {
        return Err(EngineError::Internal(
            "a preset is stored at a position".into(),
        ));
    };
    let number = intent.number;
    move_and_wait(binding, profile, to_vector(position)).await?;
    let token = match set_preset(store, binding, profile, held, intent, renumber_from).await {
        // A renumber on a device that refuses duplicate names: the old
        // slot still holds the name. Give it a temporary name first (it
        // keeps its position: the camera is there), so that a crash at
        // any step still leaves the preset on the device.
        Err(e) if e.is_fault("PresetExist") && renumber_from.is_some_and(|f| f != number) => {
            let from = renumber_from.map(PresetNumber::token).unwrap_or_default();
            {
                let _permit = binding.permit().await;
                let temporary = format!("~{from}");
                binding
                    .device
                    .set_preset(profile, Some(&temporary), Some(&from))
                    .await
                    .map_err(|e| binding.onvif(e))?;
            }
            set_preset(store, binding, profile, held, intent, renumber_from).await?
        }
        other => other?,
    };
    let map = TokenMap::load(store, &binding.camera, &binding.site)?;
    if let (Some(from), Some(TokenStyle::Numeric)) = (renumber_from, map.style())
        && from != number
    {
        // The old numeric slot goes, if it is this preset (or its temporary name).
        let old = held.iter().find(|p| p.token == from.token());
        let ours = old.is_none_or(|p| {
            map.mapped(from) == Some(p.token.as_str())
                || p.name.as_deref() == Some(intent.name)
                || slot::is_empty_slot(p)
        });
        if ours {
            remove(binding, profile, &from.token()).await?;
            store.remove_site_token(&binding.camera, &binding.site, from)?;
        }
    }
    Ok(token)
}

/// How long a return sent by the previous run of preset work is trusted as
/// the next run's origin: about the longest return trip.
const RETURN_TRUST: Duration = Duration::from_secs(10);

/// Longest wait for a moving camera to stop before its position is taken as
/// the origin: another process may still be returning it after its own
/// preset work (this process knows its own returns: `CameraHold::returned`).
const ORIGIN_SETTLE: Duration = Duration::from_secs(5);

/// The camera's position once it rests (at most [`ORIGIN_SETTLE`]), as the
/// origin of preset work begun at `since`.
async fn read_origin(binding: &Binding, profile: &str, since: Instant) -> Option<Origin> {
    let started = tokio::time::Instant::now();
    loop {
        let status = {
            let _permit = binding.permit().await;
            binding.device.get_status(profile).await
        };
        match status {
            Ok(status) if status.is_idle() || started.elapsed() > ORIGIN_SETTLE => {
                return status
                    .position
                    .as_ref()
                    .and_then(from_vector)
                    .map(|position| Origin { position, since });
            }
            Ok(_) => tokio::time::sleep(POLL).await,
            Err(e) => {
                tracing::warn!(camera = %binding.camera, site = %binding.site, error = %e,
                    "position before preset work unknown: the camera will not be returned");
                return None;
            }
        }
    }
}

/// Returns the camera to where preset work found it, unless someone took
/// control meanwhile (they decide where it points now) or it is there already.
/// A failed return is logged: the preset is stored all the same.
async fn go_back(
    binding: &Binding,
    profile: &str,
    origin: Origin,
    target: Position,
    tolerance: f64,
    hold: &Hold<'_>,
) {
    if hold.control.taken_since(&binding.camera, origin.since) {
        tracing::info!(camera = %binding.camera, "someone took control during preset work: the camera stays");
        return;
    }
    if origin.position.within(&target, tolerance) {
        return;
    }
    let result = {
        let _permit = binding.permit().await;
        binding
            .device
            .absolute_move(profile, to_vector(origin.position), None)
            .await
    };
    match result {
        Ok(()) => {
            hold.camera.returned(Origin {
                position: origin.position,
                since: hold.clock.monotonic(),
            });
            tracing::info!(camera = %binding.camera, site = %binding.site, "camera returned after preset work");
        }
        Err(e) => tracing::warn!(camera = %binding.camera, site = %binding.site, error = %e,
            "the camera could not be returned after preset work"),
    }
}

async fn move_and_wait(
    binding: &Binding,
    profile: &str,
    target: tandem_onvif::types::PtzVector,
) -> Result<(), EngineError> {
    {
        let _permit = binding.permit().await;
        binding
            .device
            .absolute_move(profile, target, None)
            .await
            .map_err(|e| binding.onvif(e))?;
    }
    let started = tokio::time::Instant::now();
    loop {
        tokio::time::sleep(POLL).await;
        let status = {
            let _permit = binding.permit().await;
            binding
                .device
                .get_status(profile)
                .await
                .map_err(|e| binding.onvif(e))?
        };
        if status.is_idle() {
            return Ok(());
        }
        if started.elapsed() > MOVE_TIMEOUT {
            return Err(EngineError::Device {
                site: binding.site.clone(),
                camera: binding.camera.clone(),
                message: format!("camera still moving after {} s", MOVE_TIMEOUT.as_secs()),
                detail: None,
                retryable: true,
                fault: None,
                failure: DeviceFailure::Unreachable,
            });
        }
    }
}

/// `SetPreset` on the slot [`crate::slot`] allows for this site's token style;
/// learns the style on first use and records the token the device used.
async fn set_preset(
    store: &dyn Store,
    binding: &Binding,
    profile: &str,
    held: &[OnvifPreset],
    intent: Intent<'_>,
    renumber_from: Option<PresetNumber>,
) -> Result<String, EngineError> {
    let (camera, site) = (&binding.camera, &binding.site);
    let (number, name) = (intent.number, intent.name);
    let map = TokenMap::load(store, camera, site)?;
    if map.numeric() {
        // Numeric (or not yet known): the number is the token.
        let Target::Token(token) = slot::numeric_target(&map, held, intent, site)? else {
            return Err(EngineError::Internal(
                "a numeric slot without a token".into(),
            ));
        };
        let attempt = {
            let _permit = binding.permit().await;
            binding
                .device
                .set_preset(profile, Some(name), Some(&token))
                .await
        };
        match attempt {
            Ok(token) => {
                if map.style().is_none() {
                    store.set_token_style(camera, site, TokenStyle::Numeric)?;
                }
                store.set_site_token(camera, site, number, &token)?;
                return Ok(token);
            }
            // A device that refuses a token it did not choose keeps opaque tokens.
            Err(e) if map.style().is_none() && e.fault().is_some_and(|f| f.is("NoToken")) => {
                store.set_token_style(camera, site, TokenStyle::Opaque)?;
            }
            Err(e) => return Err(binding.onvif(e)),
        }
    }
    // Opaque tokens: the mapped one, the renumbered preset's (mapped to the
    // new number first: no temporary preset, nothing to clean up after a
    // crash), one that is this write replayed, or a new one.
    let map = TokenMap::load(store, camera, site)?;
    let token = match slot::opaque_target(&map, held, intent, renumber_from, site)? {
        Target::Token(token) => Some(token),
        Target::Remap(token) => {
            store.set_site_token(camera, site, number, &token)?;
            Some(token)
        }
        Target::New => None,
    };
    let result = {
        let _permit = binding.permit().await;
        binding
            .device
            .set_preset(profile, Some(name), token.as_deref())
            .await
    };
    let token = match result {
        Ok(token) => token,
        // The mapped token vanished (device reset, deleted by hand): create anew.
        Err(e) if token.is_some() && e.fault().is_some_and(|f| f.is("NoToken")) => {
            let _permit = binding.permit().await;
            binding
                .device
                .set_preset(profile, Some(name), None)
                .await
                .map_err(|e| binding.onvif(e))?
        }
        Err(e) => return Err(binding.onvif(e)),
    };
    store.set_site_token(camera, site, number, &token)?;
    Ok(token)
}

async fn remove(binding: &Binding, profile: &str, token: &str) -> Result<(), EngineError> {
    let _permit = binding.permit().await;
    match binding.device.remove_preset(profile, token).await {
        Ok(()) => Ok(()),
        // Already gone: the goal of a removal is reached.
        Err(e) if e.fault().is_some_and(|f| f.is("NoToken")) => Ok(()),
        Err(e) => Err(binding.onvif(e)),
    }
}

/// Reads the presets of a binding.
pub async fn read_presets(
    binding: &Binding,
    profile: &str,
) -> Result<Vec<OnvifPreset>, EngineError> {
    let _permit = binding.permit().await;
    binding
        .device
        .get_presets(profile)
        .await
        .map_err(|e| binding.onvif(e))
}

async fn verify(
    binding: &Binding,
    profile: &str,
    token: &str,
    name: &str,
    position: tandem_core::Position,
    tolerance: f64,
) -> Result<(), EngineError> {
    let presets = read_presets(binding, profile).await?;
    let fail = |message: String| binding.refused(message);
    let Some(found) = presets.iter().find(|p| p.token == token) else {
        return Err(fail(format!(
            "read-back: preset token {token:?} is missing after SetPreset"
        )));
    };
    if let Some(reported) = &found.name
        && reported != name
    {
        return Err(fail(format!(
            "read-back: the device stored the name {reported:?} instead of {name:?}"
        )));
    }
    if let Some(reported) = found.position.as_ref().and_then(from_vector)
        && !reported.within(&position, tolerance)
    {
        return Err(fail(format!(
            "read-back: the device stored pan {:.4} tilt {:.4} zoom {:.4}, more than {tolerance} from the target; \
             if the device rounds positions, raise the camera's tolerance",
            reported.pan, reported.tilt, reported.zoom
        )));
    }
    Ok(())
}

/// The camera's presets, read once: a scan does not keep the connection.
pub(crate) async fn read_once(binding: &Binding) -> Result<Vec<OnvifPreset>, EngineError> {
    let profile = binding.profile().await?;
    let _permit = binding.permit().await;
    binding
        .device
        .get_presets_once(&profile)
        .await
        .map_err(|e| binding.onvif(e))
}

/// Where the camera points (`GetStatus`).
pub(crate) async fn position(binding: &Binding) -> Result<Position, EngineError> {
    let profile = binding.profile().await?;
    let status = {
        let _permit = binding.permit().await;
        binding.device.get_status(&profile).await
    }
    .map_err(|e| binding.onvif(e))?;
    status
        .position
        .as_ref()
        .and_then(from_vector)
        .ok_or_else(|| binding.refused("the device does not report the camera's position"))
}

/// A health probe: `GetSystemDateAndTime`, which every ONVIF device answers
/// without credentials.
pub(crate) async fn probe(binding: &Binding) -> Result<(), EngineError> {
    binding
        .device
        .get_system_date_and_time()
        .await
        .map(|_| ())
        .map_err(|e| binding.onvif(e))
}

/// A live command; `token` is the preset's token for a recall.
pub(crate) async fn command(
    binding: &Binding,
    command: &Command,
    token: Option<&str>,
) -> Result<Option<CameraStatus>, EngineError> {
    let profile = binding.profile().await?;
    let device = &binding.device;
    let onvif = |e| binding.onvif(e);
    let vector = |v: [f64; 3]| PtzVector {
        pan_tilt: Some(PanTilt { x: v[0], y: v[1] }),
        zoom: Some(v[2]),
    };
    match command {
        Command::ContinuousMove { velocity, timeout } => device
            .continuous_move(&profile, vector(*velocity), Some(*timeout))
            .await
            .map_err(onvif)?,
        Command::RelativeMove { translation } => device
            .relative_move(&profile, vector(*translation), None)
            .await
            .map_err(onvif)?,
        Command::AbsoluteMove { position } => device
            .absolute_move(&profile, to_vector(*position), None)
            .await
            .map_err(onvif)?,
        Command::Stop => device.stop(&profile, true, true).await.map_err(onvif)?,
        Command::GotoHome => device
            .goto_home_position(&profile, None)
            .await
            .map_err(onvif)?,
        Command::RecallPreset(_) => {
            let token =
                token.ok_or_else(|| EngineError::Internal("a recall without its preset".into()))?;
            device
                .goto_preset(&profile, token, None)
                .await
                .map_err(onvif)?
        }
        Command::Status => {
            let status = device.get_status(&profile).await.map_err(onvif)?;
            return Ok(Some(CameraStatus {
                position: status.position.as_ref().and_then(from_vector),
                moving: !status.is_idle(),
            }));
        }
    }
    Ok(None)
}
