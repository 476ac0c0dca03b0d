//! Applying one journaled [`Action`] to one site, with the steps ONVIF needs:
//! `AbsoluteMove`, wait for IDLE, `SetPreset` with the mapped token (or a new
//! one), then `GetPresets` to read back. Every step is safe to repeat, because
//! after a crash the whole action is applied again from the start.

use std::time::Duration;

use tandem_core::PresetNumber;
use tandem_onvif::types::Preset as OnvifPreset;
use tandem_store::{Store, TokenStyle};

use crate::action::Action;
use crate::error::{DeviceFailure, EngineError};
use crate::hold::CameraHold;
use crate::lease::{Leases, camera_lease};
use crate::sites::{Binding, from_vector, to_vector};
use crate::tokens::TokenMap;

/// Longest wait for a camera to reach a position before `SetPreset`.
const MOVE_TIMEOUT: Duration = Duration::from_secs(30);
/// How often `GetStatus` is polled while waiting for IDLE.
const POLL: Duration = Duration::from_millis(50);

/// What keeps a physical camera where preset work put it: the in-process
/// [`CameraHold`] (shared by sites that want the same position) and the
/// camera's lease in the store (no other process moves it meanwhile).
#[derive(Debug)]
pub struct Hold<'a> {
    /// This process's hold of the camera.
    pub camera: CameraHold,
    /// This process's leases.
    pub leases: &'a Leases,
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
            let profile = binding.profile().await?.to_string();
            // Held until the preset is stored: the camera must stay where we put it.
            let held = hold.camera.hold(*position).await;
            let lease = hold
                .leases
                .take(&camera_lease(&binding.camera), MOVE_TIMEOUT)
                .await?;
            move_and_wait(binding, &profile, to_vector(*position)).await?;
            let style = TokenMap::load(store, &binding.camera, &binding.site)?.style();
            let token = match set_preset(store, binding, &profile, *number, name.as_str(), style)
                .await
            {
                // A renumber on a device that refuses duplicate names: the old
                // slot still holds the name. Give it a temporary name first (it
                // keeps its position: the camera is there), so that a crash at
                // any step still leaves the preset on the device.
                Err(e)
                    if e.is_fault("PresetExist") && renumber_from.is_some_and(|f| f != *number) =>
                {
                    let from = renumber_from.map(PresetNumber::token).unwrap_or_default();
                    {
                        let _permit = binding.permit().await;
                        let temporary = format!("~{from}");
                        binding
                            .device
                            .set_preset(&profile, Some(&temporary), Some(&from))
                            .await
                            .map_err(|e| binding.onvif(e))?;
                    }
                    set_preset(store, binding, &profile, *number, name.as_str(), style).await?
                }
                other => other?,
            };
            if let (Some(from), Some(TokenStyle::Numeric)) = (
                renumber_from,
                TokenMap::load(store, &binding.camera, &binding.site)?.style(),
            ) && from != number
            {
                remove(binding, &profile, &from.token()).await?;
            }
            drop(lease);
            drop(held);
            verify(
                binding,
                &profile,
                &token,
                name.as_str(),
                *position,
                tolerance,
            )
            .await
        }
        Action::Remove { number, token } => {
            let profile = binding.profile().await?.to_string();
            let mapped = match number {
                Some(n) => TokenMap::load(store, &binding.camera, &binding.site)?
                    .mapped(*n)
                    .map(str::to_string),
                None => None,
            };
            let Some(token) = token
                .clone()
                .or(mapped)
                .or_else(|| number.map(PresetNumber::token))
            else {
                return Ok(()); // Nothing identifies a preset: nothing to remove.
            };
            remove(binding, &profile, &token).await?;
            if let Some(n) = number {
                store.remove_site_token(&binding.camera, &binding.site, *n)?;
            }
            Ok(())
        }
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
                retryable: true,
                fault: None,
                failure: DeviceFailure::Unreachable,
            });
        }
    }
}

/// `SetPreset` with the right token for this site's token style; learns the
/// style on first use and records the token the device used.
async fn set_preset(
    store: &dyn Store,
    binding: &Binding,
    profile: &str,
    number: PresetNumber,
    name: &str,
    style: Option<TokenStyle>,
) -> Result<String, EngineError> {
    let (camera, site) = (&binding.camera, &binding.site);
    if style != Some(TokenStyle::Opaque) {
        // Numeric (or not yet known): the number is the token.
        let attempt = {
            let _permit = binding.permit().await;
            binding
                .device
                .set_preset(profile, Some(name), Some(&number.token()))
                .await
        };
        match attempt {
            Ok(token) => {
                if style.is_none() {
                    store.set_token_style(camera, site, TokenStyle::Numeric)?;
                }
                store.set_site_token(camera, site, number, &token)?;
                return Ok(token);
            }
            // A device that refuses a token it did not choose keeps opaque tokens.
            Err(e) if style.is_none() && e.fault().is_some_and(|f| f.is("NoToken")) => {
                store.set_token_style(camera, site, TokenStyle::Opaque)?;
            }
            Err(e) => return Err(binding.onvif(e)),
        }
    }
    // Opaque tokens: the mapped one, or one adopted by name (a replay after a
    // crash between SetPreset and recording its token), or a new one.
    let mapped = TokenMap::load(store, camera, site)?
        .mapped(number)
        .map(str::to_string);
    let token = match mapped {
        Some(token) => Some(token),
        None => adopt_by_name(store, binding, profile, name).await?,
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

/// A preset on the device with this name whose token tandem has not mapped to any number.
async fn adopt_by_name(
    store: &dyn Store,
    binding: &Binding,
    profile: &str,
    name: &str,
) -> Result<Option<String>, EngineError> {
    let presets = read_presets(binding, profile).await?;
    let map = TokenMap::load(store, &binding.camera, &binding.site)?;
    Ok(presets
        .into_iter()
        .find(|p| p.name.as_deref() == Some(name) && !map.has_token(&p.token))
        .map(|p| p.token))
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
    let fail = |message: String| EngineError::Device {
        site: binding.site.clone(),
        camera: binding.camera.clone(),
        message,
        retryable: false,
        fault: None,
        failure: DeviceFailure::Refused,
    };
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
