//! Full scan: every camera's presets read on both sites and compared, with
//! 5 ms injected per ONVIF call and 32 calls in flight per site, against two
//! bounds (the latency: calls per site × 5 ms ÷ 32; the simulator's CPU
//! spread over the cores) and against a Python script doing the same scan
//! with onvif-zeep-async. The CPU of the service per camera and of the
//! simulator per answer are figures of their own.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use serde_json::{Value, json};
use tandem_api::sync::ScanDto;

use super::PartFuture;
use crate::Scale;
use crate::report::{Row, Verdict};
use crate::rig::{self, ADMIN_PASSWORD, Api, Service, Sim};

/// Injected latency per call.
const LATENCY: Duration = Duration::from_millis(5);
/// Calls in flight per site (the service's default).
const IN_FLIGHT: f64 = 32.0;
/// Target: at most 1.3 times the larger bound.
const TARGET_BOUND: f64 = 1.3;
/// Target: Python takes at least 50 times as long.
const TARGET_PYTHON: f64 = 50.0;
/// Target: the service's CPU per camera (both sites' answers), in ms.
const TARGET_CPU_PER_CAMERA_MS: f64 = 0.10;
/// Target: the simulator's CPU per 64-preset answer, in µs.
const TARGET_SIM_PER_ANSWER_US: f64 = 50.0;

/// Runs the benchmark.
pub fn run(scale: Scale) -> PartFuture {
    Box::pin(measure(scale))
}

/// The Python with onvif-zeep-async: `TANDEM_PYTHON`, or the venv of `scripts/test.sh`.
pub fn python() -> anyhow::Result<PathBuf> {
    let path = std::env::var_os("TANDEM_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(".venv/bin/python"));
    anyhow::ensure!(
        path.exists(),
        "no Python at {} (set TANDEM_PYTHON, or run bash scripts/test.sh from the repository root)",
        path.display()
    );
    Ok(path)
}

/// Answered ONVIF calls per site so far, from the service's metrics.
async fn calls(api: &Api) -> anyhow::Result<Vec<(String, f64)>> {
    let text = api.text("/metrics").await?;
    Ok(text
        .lines()
        .filter_map(|l| l.strip_prefix("tandem_onvif_call_duration_seconds_count{site=\""))
        .filter_map(|rest| {
            let (site, rest) = rest.split_once('"')?;
            let count = rest.rsplit(' ').next()?.parse().ok()?;
            Some((site.to_string(), count))
        })
        .fold(Vec::new(), |mut acc: Vec<(String, f64)>, (site, n)| {
            match acc.iter_mut().find(|(s, _)| *s == site) {
                Some((_, total)) => *total += n,
                None => acc.push((site, n)),
            }
            acc
        }))
}

async fn measure(scale: Scale) -> anyhow::Result<Vec<Row>> {
    let dir = rig::scratch("scan")?;
    let sim = Sim::start(&dir, scale.scan_cameras, scale.scan_presets, &["2=vms"])?;
    let service = Service::start(&sim.config, &[])?;
    let api = Api::login(&service.url, "admin", ADMIN_PASSWORD).await?;
    // The first scan imports the primary's presets and learns each binding's
    // profile; the measured one is the scan operators repeat.
    api.scan().await.context("first scan")?;
    sim.faults(1, json!({ "latency_ms": LATENCY.as_millis() as u64 }))
        .await?;
    sim.faults(2, json!({ "latency_ms": LATENCY.as_millis() as u64 }))
        .await?;

    let before = calls(&api).await?;
    let cpu_before = service.cpu_time()?;
    let sim_before = sim.proc.cpu_time()?;
    let started = Instant::now();
    let reports = api.scan().await?;
    let tandem = started.elapsed();
    let scanned = reports.len();
    let failed: Vec<&ScanDto> = reports.iter().filter(|r| rig::scan_failed(r)).collect();
    if let Some(first) = failed.first() {
        anyhow::bail!(
            "{scanned} scanned, {} failed; first: {}",
            failed.len(),
            serde_json::to_string(first)?
        );
    }
    anyhow::ensure!(
        scanned == scale.scan_cameras,
        "{scanned} of {} scanned",
        scale.scan_cameras
    );
    let cpu = service.cpu_time()?.saturating_sub(cpu_before);
    let sim_cpu = sim.proc.cpu_time()?.saturating_sub(sim_before);
    let after = calls(&api).await?;
    let per_site = after
        .iter()
        .map(|(site, n)| {
            n - before
                .iter()
                .find(|(s, _)| s == site)
                .map_or(0.0, |(_, b)| *b)
        })
        .fold(0.0_f64, f64::max);
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let latency_bound = per_site * LATENCY.as_secs_f64() / IN_FLIGHT;
    let sim_bound = sim_cpu.as_secs_f64() / cores as f64;
    let bound = latency_bound.max(sim_bound);
    let ratio = tandem.as_secs_f64() / bound;
    let answers = 2.0 * scale.scan_cameras as f64;
    let cpu_per_camera_ms = cpu.as_secs_f64() * 1000.0 / scale.scan_cameras as f64;
    let sim_per_answer_us = sim_cpu.as_secs_f64() * 1e6 / answers;
    let mut rows = vec![
        Row::new(
            "full scan ÷ bound",
            format!("{ratio:.2}"),
            format!("≤ {TARGET_BOUND}"),
            Verdict::target(ratio <= TARGET_BOUND),
            format!(
                "{} cameras × {} presets × 2 sites in {:.2} s; bounds: latency {per_site:.0} calls per site × 5 ms ÷ 32 = {latency_bound:.2} s, \
                 the simulator's CPU {:.2} s ÷ {cores} cores = {sim_bound:.2} s; the service, the simulator and this client share the cores",
                scale.scan_cameras,
                scale.scan_presets,
                tandem.as_secs_f64(),
                sim_cpu.as_secs_f64(),
            ),
        ),
        Row::new(
            "full scan: service CPU per camera",
            format!("{cpu_per_camera_ms:.3} ms"),
            format!("≤ {TARGET_CPU_PER_CAMERA_MS} ms"),
            Verdict::target(cpu_per_camera_ms <= TARGET_CPU_PER_CAMERA_MS),
            format!(
                "tandem serve, repeat scan: two GetPresets answers of {} presets fetched, parsed, resolved against the store, diffed, recorded",
                scale.scan_presets
            ),
        ),
        Row::new(
            "full scan: simulator CPU per answer",
            format!("{sim_per_answer_us:.0} µs"),
            format!("≤ {TARGET_SIM_PER_ANSWER_US} µs"),
            Verdict::target(sim_per_answer_us <= TARGET_SIM_PER_ANSWER_US),
            format!(
                "tandem sim: one GetPresets of {} presets received, authenticated (WS-Security digest), answered",
                scale.scan_presets
            ),
        ),
    ];

    // The Python peer against the same sites, same latency.
    let endpoints: Vec<Value> = sim
        .endpoints
        .iter()
        .filter(|e| e.site <= 2)
        .map(|e| json!({ "site": e.site, "camera": e.camera, "device_url": e.device_url, "username": e.username, "password": e.password }))
        .collect();
    let list = dir.join("endpoints.json");
    std::fs::write(&list, serde_json::to_vec(&endpoints)?)?;
    let script = dir.join("scan.py");
    std::fs::write(&script, include_str!("scan.py"))?;
    let output = tokio::process::Command::new(python()?)
        .arg(&script)
        .arg(&list)
        .arg(IN_FLIGHT.to_string())
        .output()
        .await
        .context("cannot run the Python peer")?;
    anyhow::ensure!(
        output.status.success(),
        "the Python peer failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let report: Value =
        serde_json::from_slice(&output.stdout).context("the Python peer's report")?;
    let python_s = report["scan_s"].as_f64().context("scan_s")?;
    let speedup = python_s / tandem.as_secs_f64();
    rows.push(Row::new(
        "full scan: Python onvif-zeep-async ÷ tandem",
        format!("{speedup:.1}×"),
        format!("≥ {TARGET_PYTHON}×"),
        Verdict::target(speedup >= TARGET_PYTHON),
        format!(
            "Python {python_s:.2} s for the same GetPresets calls and diff ({} presets, {} differences; its client set-up, {:.1} s, not counted)",
            report["presets"], report["mismatches"], report["setup_s"].as_f64().unwrap_or(0.0)
        ),
    ));
    Ok(rows)
}
