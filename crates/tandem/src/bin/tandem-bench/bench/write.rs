//! Two-site write: presets added and updated through the API while every
//! ONVIF call to the primary takes 20 ms and to the secondary 30 ms, against
//! the same ONVIF call sequence made directly to the slower site alone.

use std::time::{Duration, Instant};

use serde_json::json;
use tandem_api::presets::{NewPresetDto, PositionDto, PresetChangeDto};
use tandem_onvif::types::{PanTilt, PtzVector};

use super::PartFuture;
use crate::Scale;
use crate::report::{Row, Verdict};
use crate::rig::{self, ADMIN_PASSWORD, Api, Service, Sim};

/// Target: the two-site write takes at most 1.10 times the slower site alone.
const TARGET: f64 = 1.10;
/// How often the engine polls `GetStatus` while a camera moves (as `apply`).
const POLL: Duration = Duration::from_millis(50);

/// Runs the benchmark.
pub fn run(scale: Scale) -> PartFuture {
    Box::pin(measure(scale))
}

/// Where operation `i` points: small steps, the same for both runs.
fn position(i: usize) -> (f64, f64, f64) {
    let step = i as f64;
    (
        0.05 + 0.01 * (step % 20.0),
        -0.05 + 0.01 * (step % 10.0),
        0.1,
    )
}

async fn measure(scale: Scale) -> anyhow::Result<Vec<Row>> {
    let dir = rig::scratch("write")?;
    let sim = Sim::start(&dir, 2, 0, &[])?;
    let service = Service::start(&sim.config, &[])?;
    let api = Api::login(&service.url, "admin", ADMIN_PASSWORD).await?;
    // Learn profiles and token styles before the clock runs, on both paths.
    let warm_up = NewPresetDto {
        number: Some(1),
        name: "warm-up".into(),
        position: Some(PositionDto {
            pan: 0.0,
            tilt: 0.0,
            zoom: 0.1,
        }),
    };
    let (status, body) = api.post("/api/v1/cameras/cam-1/presets", &warm_up).await?;
    anyhow::ensure!(status == 200, "warm-up: {status} {body}");
    let direct = rig::device(sim.endpoint(2, 2)?)?;
    let profile = direct
        .get_profiles()
        .await?
        .into_iter()
        .find(|p| p.ptz.is_some())
        .map(|p| p.token)
        .ok_or_else(|| anyhow::anyhow!("no PTZ profile"))?;
    direct
        .set_preset(&profile, Some("warm-up"), Some("1"))
        .await?;
    direct
        .absolute_move(&profile, vector((0.0, 0.0, 0.1)), None)
        .await?;

    sim.faults(1, json!({ "latency_ms": 20 })).await?;
    sim.faults(2, json!({ "latency_ms": 30 })).await?;

    // Through tandem: add then update, both sites, every answer 200 (applied everywhere).
    let started = Instant::now();
    for i in 0..scale.write_ops {
        let number = 10 + i / 2;
        let (pan, tilt, zoom) = position(i);
        let p = Some(PositionDto { pan, tilt, zoom });
        let (status, body) = if i % 2 == 0 {
            let add = NewPresetDto {
                number: Some(u32::try_from(number)?),
                name: format!("W{number}"),
                position: p,
            };
            api.post("/api/v1/cameras/cam-1/presets", &add).await?
        } else {
            let change = PresetChangeDto {
                name: None,
                number: None,
                position: p,
                current_view: false,
            };
            api.call(
                reqwest::Method::PATCH,
                &format!("/api/v1/cameras/cam-1/presets/{number}"),
                Some(&change),
            )
            .await?
        };
        anyhow::ensure!(status == 200, "operation {i}: {status} {body}");
    }
    let tandem = started.elapsed();

    // The slower site alone, directly: the calls `apply` makes for one site
    // (read before write of a slot not yet mapped, where the camera points on
    // the first run, the move, the store, the camera sent back, the read-back).
    let started = Instant::now();
    let origin = direct.get_status(&profile).await?.position;
    for i in 0..scale.write_ops {
        let number = 10 + i / 2;
        if i % 2 == 0 {
            direct.get_presets(&profile).await?;
        }
        direct
            .absolute_move(&profile, vector(position(i)), None)
            .await?;
        loop {
            tokio::time::sleep(POLL).await;
            if direct.get_status(&profile).await?.is_idle() {
                break;
            }
        }
        let token = number.to_string();
        direct
            .set_preset(&profile, Some(&format!("W{number}")), Some(&token))
            .await?;
        if let Some(origin) = origin {
            direct.absolute_move(&profile, origin, None).await?;
        }
        direct.get_presets(&profile).await?;
    }
    let alone = started.elapsed();

    let ratio = tandem.as_secs_f64() / alone.as_secs_f64();
    let ops = scale.write_ops as f64;
    Ok(vec![Row::new(
        "two-site write ÷ slower site alone",
        format!("{ratio:.3}"),
        format!("≤ {TARGET:.2}"),
        Verdict::target(ratio <= TARGET),
        format!(
            "{} adds/updates via the API (P 20 ms, S 30 ms per call): {:.1} ms/op; the same calls to S alone: {:.1} ms/op",
            scale.write_ops,
            tandem.as_secs_f64() * 1000.0 / ops,
            alone.as_secs_f64() * 1000.0 / ops
        ),
    )])
}

fn vector((pan, tilt, zoom): (f64, f64, f64)) -> PtzVector {
    PtzVector {
        pan_tilt: Some(PanTilt { x: pan, y: tilt }),
        zoom: Some(zoom),
    }
}
