//! Load: concurrent API clients for a while, each an operator on its own
//! camera doing what a console does (list, read, look, steer, recall); no
//! errors, and a latency table per kind of request.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use tandem_api::live::ContinuousDto;

use anyhow::Context as _;

use crate::Scale;
use crate::bench::PartFuture;
use crate::report::{Row, Verdict};
use crate::rig::{self, ADMIN_PASSWORD, Api, Service, Sim, percentile};

/// Runs the suite part.
pub fn run(scale: Scale) -> PartFuture {
    Box::pin(measure(scale))
}

async fn measure(scale: Scale) -> anyhow::Result<Vec<Row>> {
    let dir = rig::scratch("load")?;
    let sim = Sim::start(&dir, scale.load_clients, 4, &[])?;
    let service = Service::start(&sim.config, &[])?;
    let admin = Api::login(&service.url, "admin", ADMIN_PASSWORD).await?;
    admin.scan().await.context("first scan")?;
    let clients = admin
        .operators(scale.load_clients, &["ptz.control", "preset.recall"])
        .await?;
    let until = Instant::now() + Duration::from_secs(scale.load_s);
    let mut set = tokio::task::JoinSet::new();
    for (i, api) in clients.into_iter().enumerate() {
        set.spawn(async move {
            let cam = format!("/api/v1/cameras/cam-{}", i + 1);
            let mut samples: Vec<(&'static str, Duration, bool, String)> = Vec::new();
            let mut round = 0usize;
            while Instant::now() < until {
                let (kind, result) = match round % 6 {
                    0 => ("GET cameras", timed(api.get("/api/v1/cameras")).await),
                    1 => (
                        "GET presets",
                        timed(api.get(&format!("{cam}/presets"))).await,
                    ),
                    2 => (
                        "GET ptz/status",
                        timed(api.get(&format!("{cam}/ptz/status"))).await,
                    ),
                    3 => (
                        "POST ptz/continuous",
                        timed(api.post(
                            &format!("{cam}/ptz/continuous"),
                            &ContinuousDto {
                                pan: 0.1,
                                tilt: 0.0,
                                zoom: 0.0,
                                timeout_ms: Some(300),
                            },
                        ))
                        .await,
                    ),
                    4 => (
                        "POST ptz/stop",
                        timed(api.command(&format!("{cam}/ptz/stop"))).await,
                    ),
                    _ => (
                        "POST presets/N/recall",
                        timed(api.command(&format!("{cam}/presets/{}/recall", round % 4 + 1)))
                            .await,
                    ),
                };
                let (took, outcome) = result;
                let (ok, why) = match outcome {
                    Ok((status, _)) if status < 300 => (true, String::new()),
                    Ok((status, body)) => (false, format!("{kind}: {status} {body}")),
                    Err(e) => (false, format!("{kind}: {e:#}")),
                };
                samples.push((kind, took, ok, why));
                round += 1;
            }
            samples
        });
    }
    let mut by_kind: BTreeMap<&'static str, Vec<Duration>> = BTreeMap::new();
    let mut errors = Vec::new();
    let mut total = 0;
    while let Some(joined) = set.join_next().await {
        for (kind, took, ok, why) in joined? {
            total += 1;
            by_kind.entry(kind).or_default().push(took);
            if !ok {
                errors.push(why);
            }
        }
    }
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    let mut rows = vec![Row::new(
        "load: errors",
        errors.len().to_string(),
        "0",
        Verdict::check(errors.is_empty()),
        format!(
            "{total} requests by {} clients in {} s ({:.0}/s){}",
            scale.load_clients,
            scale.load_s,
            total as f64 / scale.load_s as f64,
            errors
                .first()
                .map(|e| format!("; first: {e}"))
                .unwrap_or_default()
        ),
    )];
    for (kind, mut samples) in by_kind {
        samples.sort();
        rows.push(Row::new(
            format!("load: {kind} p50 / p99 / max"),
            format!(
                "{:.1} / {:.1} / {:.1} ms",
                ms(percentile(&samples, 50.0)),
                ms(percentile(&samples, 99.0)),
                ms(samples.last().copied().unwrap_or_default())
            ),
            "-",
            Verdict::Info,
            format!("{} requests", samples.len()),
        ));
    }
    Ok(rows)
}

async fn timed<T>(f: impl std::future::Future<Output = T>) -> (Duration, T) {
    let started = Instant::now();
    let out = f.await;
    (started.elapsed(), out)
}
