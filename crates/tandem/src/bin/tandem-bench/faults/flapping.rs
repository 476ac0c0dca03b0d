//! Flapping: the primary goes down and up every 300 ms while operators steer;
//! no command fails, and the active site switches a bounded number of times.

use std::time::{Duration, Instant};

use serde_json::json;
use tandem_api::sites::SwitchDto;

use crate::Scale;
use crate::bench::PartFuture;
use crate::bench::reaction::steer;
use crate::report::{Row, Verdict};
use crate::rig::{self, ADMIN_PASSWORD, Api, Service, Sim};

const OPERATORS: usize = 8;
/// The failback hold of the run: the primary must stay up this long.
const HOLD_S: u64 = 5;

/// Runs the suite part.
pub fn run(scale: Scale) -> PartFuture {
    Box::pin(measure(scale))
}

async fn measure(scale: Scale) -> anyhow::Result<Vec<Row>> {
    let dir = rig::scratch("flapping")?;
    let sim = Sim::start(&dir, OPERATORS, 0, &[])?;
    let hold = HOLD_S.to_string();
    let service = Service::start(
        &sim.config,
        &[
            "--probe-interval-ms",
            "100",
            "--command-timeout-ms",
            "400",
            "--failback-hold-s",
            &hold,
        ],
    )?;
    let admin = Api::login(&service.url, "admin", ADMIN_PASSWORD).await?;
    let operators = admin.operators(OPERATORS, &["ptz.control"]).await?;
    let duration = Duration::from_secs(scale.flapping_s);
    let until = Instant::now() + duration;
    let flow = tokio::spawn(steer(operators, until));
    let mut flaps = 0;
    let mut down = false;
    while Instant::now() < until {
        tokio::time::sleep(Duration::from_millis(300)).await;
        down = !down;
        sim.faults(1, json!({ "down": down })).await?;
        flaps += 1;
    }
    sim.faults(1, json!({ "down": false })).await?;
    let samples = flow.await??;
    let failed: Vec<&String> = samples
        .iter()
        .filter(|(s, _)| !s.ok)
        .map(|(_, why)| why)
        .collect();
    let (status, history) = admin.get("/api/v1/sites/history").await?;
    anyhow::ensure!(status == 200, "history: {status} {history}");
    let switches = rig::typed::<Vec<SwitchDto>>(&history)?.len();
    // Away on the first failure, back only after a whole hold of health.
    let bound = 2 * (scale.flapping_s / HOLD_S + 1) as usize;
    Ok(vec![
        Row::new(
            "flapping: commands failed",
            failed.len().to_string(),
            "0",
            Verdict::check(failed.is_empty()),
            format!(
                "of {} commands by {OPERATORS} operators; primary toggled {flaps} times every 300 ms for {} s{}",
                samples.len(),
                scale.flapping_s,
                failed
                    .first()
                    .map(|w| format!("; first: {w}"))
                    .unwrap_or_default()
            ),
        ),
        Row::new(
            "flapping: active-site switches",
            switches.to_string(),
            format!("≤ {bound}"),
            Verdict::check(switches <= bound),
            format!("failback hold {HOLD_S} s: the flapping primary never holds that long"),
        ),
    ])
}
