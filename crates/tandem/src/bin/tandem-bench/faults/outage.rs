//! Outage: the secondary is down for the middle third of the operations; it
//! converges, nothing stays pending, a scan is clean.

use std::time::Instant;

use serde_json::json;

use super::check;
use crate::Scale;
use crate::bench::PartFuture;
use crate::report::{Row, Verdict};
use crate::rig::{self, ADMIN_PASSWORD, Api, Service, Sim};

const CAMERAS: usize = 4;

/// Runs the suite part.
pub fn run(scale: Scale) -> PartFuture {
    Box::pin(measure(scale))
}

async fn measure(scale: Scale) -> anyhow::Result<Vec<Row>> {
    let dir = rig::scratch("outage")?;
    let sim = Sim::start(&dir, CAMERAS, 0, &[])?;
    let service = Service::start(&sim.config, &[])?;
    let api = Api::login(&service.url, "admin", ADMIN_PASSWORD).await?;
    let ops = scale.outage_ops;
    let mut acknowledged = Vec::new();
    let mut pending_answers = 0;
    let mut refused = Vec::new();
    let mut returned = Instant::now();
    for i in 0..ops {
        if i == ops / 3 {
            sim.faults(2, json!({ "down": true })).await?;
        }
        if i == 2 * ops / 3 {
            sim.faults(2, json!({ "down": false })).await?;
            returned = Instant::now();
        }
        let camera = i % CAMERAS + 1;
        let name = format!("O{i}");
        // Numbers within the 256 slots of a common camera.
        let body =
            super::kill::new_preset(1 + i / CAMERAS, &name, (0.3 - 0.001 * i as f64, -0.1, 0.3));
        match api
            .post(&format!("/api/v1/cameras/cam-{camera}/presets"), &body)
            .await?
        {
            (200 | 202, body) if super::kill::refused_somewhere(&body) => {
                refused.push(format!("a site refused it: {body}"))
            }
            (200, _) => acknowledged.push((camera, name)),
            (202, _) => {
                pending_answers += 1;
                acknowledged.push((camera, name));
            }
            (status, body) => refused.push(format!("{status} {body}")),
        }
    }
    check::settle(&api, std::time::Duration::from_secs(60)).await?;
    let converged = returned.elapsed();
    let mut rows = vec![Row::new(
        "outage: operations answered",
        format!("{}/{ops}", acknowledged.len()),
        "all",
        Verdict::check(refused.is_empty()),
        format!(
            "S down for operations {}..{}: {pending_answers} answered 202 (pending on S){}",
            ops / 3,
            2 * ops / 3,
            refused
                .first()
                .map(|r| format!("; refused: {r}"))
                .unwrap_or_default()
        ),
    )];
    rows.extend(check::converged("outage", &api, &sim, CAMERAS, &acknowledged).await?);
    rows.push(Row::new(
        "outage: convergence after S returned",
        format!("{:.1} s", converged.as_secs_f64()),
        "-",
        Verdict::Info,
        format!(
            "from S's return until nothing was pending, while the last {} operations went on",
            ops - 2 * ops / 3
        ),
    ));
    Ok(rows)
}
