//! Hostile device: one camera whose every answer is malformed, truncated,
//! oversized, in a wrong namespace or an entity bomb; the service reports
//! clear errors for it and keeps serving the other cameras.

use tandem_api::access::MeDto;
use tandem_api::presets::{NewPresetDto, PositionDto};

use crate::Scale;
use crate::bench::PartFuture;
use crate::report::{Row, Verdict};
use crate::rig::{self, ADMIN_PASSWORD, Api, Service, Sim};

const CAMERAS: usize = 6;
const HOSTILE: usize = 3;

/// Runs the suite part.
pub fn run(_scale: Scale) -> PartFuture {
    Box::pin(measure())
}

async fn measure() -> anyhow::Result<Vec<Row>> {
    let dir = rig::scratch("hostile")?;
    let rules = [
        format!("1/{HOSTILE}=hostile"),
        format!("2/{HOSTILE}=hostile"),
    ];
    let rules: Vec<&str> = rules.iter().map(String::as_str).collect();
    let sim = Sim::start(&dir, CAMERAS, 4, &rules)?;
    let service = Service::start(&sim.config, &[])?;
    let api = Api::login(&service.url, "admin", ADMIN_PASSWORD).await?;

    // Several scans, so that the hostile camera answers in every way it can.
    let mut errors = Vec::new();
    let mut others_clean = true;
    for _ in 0..5 {
        for r in api.scan().await? {
            if r.camera == format!("cam-{HOSTILE}") {
                // As JSON: the error quoted, or the list of unreadable sites.
                let text = match &r.error {
                    Some(error) => serde_json::to_string(error)?,
                    None => serde_json::to_string(&r.unreachable)?,
                };
                errors.push(text);
            } else if rig::scan_failed(&r) {
                others_clean = false;
            }
        }
    }
    // The other cameras still take presets and live commands.
    let preset = NewPresetDto {
        number: None,
        name: "after hostile".into(),
        position: Some(PositionDto {
            pan: 0.1,
            tilt: 0.1,
            zoom: 0.1,
        }),
    };
    let (add, _) = api.post("/api/v1/cameras/cam-1/presets", &preset).await?;
    let (stop, _) = api.command("/api/v1/cameras/cam-2/ptz/stop").await?;
    let (_, me) = api.get("/api/v1/me").await?;
    let me_admin = rig::typed::<MeDto>(&me).is_ok_and(|me| me.user == "admin");
    let (rss, _) = service.memory_kib()?;
    let words = [
        "malformed",
        "exceeds",
        "namespace",
        "DTD",
        "truncated",
        "not the XML",
        "unexpected",
    ];
    let clear = errors
        .iter()
        .filter(|e| {
            words
                .iter()
                .any(|w| e.to_lowercase().contains(&w.to_lowercase()))
        })
        .count();
    Ok(vec![
        Row::new(
            "hostile device: other cameras served",
            if others_clean && add == 200 && stop == 200 && me_admin {
                "yes"
            } else {
                "no"
            },
            "yes",
            Verdict::check(others_clean && add == 200 && stop == 200),
            format!(
                "5 full scans of {CAMERAS} cameras; then a preset add ({add}) and a live stop ({stop}) on others; service RSS {:.1} MiB",
                rss as f64 / 1024.0
            ),
        ),
        Row::new(
            "hostile device: scans reporting a clear error",
            format!("{clear}/{}", errors.len()),
            "all",
            Verdict::check(!errors.is_empty() && clear == errors.len()),
            errors
                .first()
                .map(|e| e.chars().take(160).collect::<String>())
                .unwrap_or_default()
                .replace(['\n', '|'], " "),
        ),
    ])
}
