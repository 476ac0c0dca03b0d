//! Reaction time: operators steer while the primary site is killed (every
//! endpoint refuses connections); the time from the kill to the first command
//! served by the secondary, and the commands that failed for their callers.

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::json;
use tandem_api::live::{ContinuousDto, ServedDto};

use super::PartFuture;
use crate::Scale;
use crate::report::{Row, Verdict};
use crate::rig::{self, ADMIN_PASSWORD, Api, Service, Sim};

/// Target: S serves within 500 ms of the kill.
const TARGET: Duration = Duration::from_millis(500);

/// Runs the benchmark.
pub fn run(scale: Scale) -> PartFuture {
    Box::pin(measure(scale))
}

/// One command as its caller saw it.
pub struct Sample {
    /// When the answer came.
    pub done: Instant,
    /// Whether it succeeded.
    pub ok: bool,
    /// The site that served it.
    pub site: String,
}

/// Operators sending continuous moves every 20 ms until `until`; what each got.
pub async fn steer(operators: Vec<Api>, until: Instant) -> anyhow::Result<Vec<(Sample, String)>> {
    let mut set = tokio::task::JoinSet::new();
    for (i, op) in operators.into_iter().enumerate() {
        set.spawn(async move {
            let path = format!("/api/v1/cameras/cam-{}/ptz/continuous", i + 1);
            let mut out = Vec::new();
            while Instant::now() < until {
                let body = ContinuousDto {
                    pan: 0.1,
                    tilt: 0.0,
                    zoom: 0.0,
                    timeout_ms: Some(300),
                };
                let (ok, site, why) = match op.post(&path, &body).await {
                    Ok((200, b)) => match rig::typed::<ServedDto>(&b) {
                        Ok(served) => (true, served.site, String::new()),
                        Err(e) => (false, String::new(), format!("{e:#}")),
                    },
                    Ok((status, b)) => (false, String::new(), format!("{status} {b}")),
                    Err(e) => (false, String::new(), format!("{e:#}")),
                };
                out.push((
                    Sample {
                        done: Instant::now(),
                        ok,
                        site,
                    },
                    why,
                ));
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            out
        });
    }
    let mut all = Vec::new();
    while let Some(joined) = set.join_next().await {
        all.extend(joined?);
    }
    Ok(all)
}

async fn measure(scale: Scale) -> anyhow::Result<Vec<Row>> {
    let dir = rig::scratch("reaction")?;
    let sim = Arc::new(Sim::start(&dir, scale.reaction_operators, 0, &[])?);
    let service = Service::start(
        &sim.config,
        &["--probe-interval-ms", "100", "--command-timeout-ms", "400"],
    )?;
    let admin = Api::login(&service.url, "admin", ADMIN_PASSWORD).await?;
    let operators = admin
        .operators(scale.reaction_operators, &["ptz.control"])
        .await?;
    let start = Instant::now();
    let flow = tokio::spawn(steer(operators, start + Duration::from_secs(4)));
    tokio::time::sleep(Duration::from_secs(2)).await;
    let killed = Instant::now();
    sim.faults(1, json!({ "down": true })).await?;
    let samples = flow.await??;

    let failed: Vec<&String> = samples
        .iter()
        .filter(|(s, _)| !s.ok)
        .map(|(_, why)| why)
        .collect();
    let first_s = samples
        .iter()
        .filter(|(s, _)| s.ok && s.site == "secondary" && s.done >= killed)
        .map(|(s, _)| s.done - killed)
        .min();
    let total = samples.len();
    let mut rows = Vec::new();
    match first_s {
        Some(reaction) => rows.push(Row::new(
            "failover: kill → first command served by S",
            format!("{:.0} ms", reaction.as_secs_f64() * 1000.0),
            format!("≤ {} ms", TARGET.as_millis()),
            Verdict::target(reaction <= TARGET),
            format!(
                "{} operators, a command each every 20 ms; probes every 100 ms",
                scale.reaction_operators
            ),
        )),
        None => rows.push(Row::new(
            "failover: kill → first command served by S",
            "never",
            "≤ 500 ms",
            Verdict::Failed,
            "no command was served by S",
        )),
    }
    rows.push(Row::new(
        "failover: commands failed for the caller",
        failed.len().to_string(),
        "0",
        Verdict::target(failed.is_empty()),
        match failed.first() {
            Some(why) => format!("of {total}; first: {why}"),
            None => format!("of {total} commands"),
        },
    ));
    Ok(rows)
}
