//! Memory: the resident set of `tandem serve` with every camera scanned.

use anyhow::Context as _;

use super::PartFuture;
use crate::Scale;
use crate::report::{Row, Verdict};
use crate::rig::{self, ADMIN_PASSWORD, Api, Service, Sim};

/// Target: at most 128 MiB resident.
const TARGET_MIB: f64 = 128.0;

/// Runs the benchmark.
pub fn run(scale: Scale) -> PartFuture {
    Box::pin(measure(scale))
}

async fn measure(scale: Scale) -> anyhow::Result<Vec<Row>> {
    let dir = rig::scratch("memory")?;
    let sim = Sim::start(&dir, scale.memory_cameras, 64, &["2=vms"])?;
    let service = Service::start(&sim.config, &[])?;
    let api = Api::login(&service.url, "admin", ADMIN_PASSWORD).await?;
    let started = std::time::Instant::now();
    api.scan().await.context("first scan")?;
    let first = started.elapsed();
    api.scan().await.context("second scan")?;
    // As a service sits between scans: idle connections closed, freed memory returned.
    tokio::time::sleep(std::time::Duration::from_secs(6)).await;
    let (rss, peak) = service.memory_kib()?;
    let mib = |kib: u64| kib as f64 / 1024.0;
    Ok(vec![Row::new(
        "memory of tandem serve after full scans",
        format!("{:.1} MiB", mib(rss)),
        format!("≤ {TARGET_MIB} MiB"),
        Verdict::target(mib(rss) <= TARGET_MIB),
        format!(
            "{} cameras × 64 presets × 2 sites; peak {:.1} MiB; the first scan (imports {} presets) took {:.1} s",
            scale.memory_cameras,
            mib(peak),
            scale.memory_cameras * 64,
            first.as_secs_f64()
        ),
    )])
}
