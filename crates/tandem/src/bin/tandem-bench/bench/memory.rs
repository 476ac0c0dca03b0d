//! Memory: the resident set of `tandem serve` with every camera scanned, its
//! peak, and the peak of a `tandem scan` run (the CLI) over the same store.

use std::process::Stdio;

use anyhow::Context as _;

use super::PartFuture;
use crate::Scale;
use crate::report::{Row, Verdict};
use crate::rig::{self, ADMIN_PASSWORD, Api, Service, Sim};

/// Target: at most 64 MiB resident, peaks included.
const TARGET_MIB: f64 = 64.0;
/// A check, not a target: more than this resident after full scans is a
/// leak, whatever the machine. Measured: 33 MiB at 1,000 cameras, 54 MiB at
/// 5,000 (release build); the bound leaves room for a debug build.
const LEAK_BOUND_MIB: f64 = 128.0;

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
    let started = std::time::Instant::now();
    api.scan().await.context("second scan")?;
    let second = started.elapsed();
    // As a service sits between scans: idle connections closed, freed memory returned.
    tokio::time::sleep(std::time::Duration::from_secs(6)).await;
    let (rss, peak) = service.memory_kib()?;
    let cli_peak = cli_scan_peak_kib(&sim.config).await?;
    let mib = |kib: u64| kib as f64 / 1024.0;
    let cameras = scale.memory_cameras;
    let imported = cameras * 64;
    let per_s = imported as f64 / first.as_secs_f64();
    Ok(vec![
        Row::new(
            "first scan through tandem serve",
            format!("{:.0}k presets/s", per_s / 1000.0),
            "-",
            Verdict::Info,
            format!(
                "{imported} presets imported ({cameras} cameras × 64, both sites read, each binding's \
                 services and profile learned) in {:.2} s; the repeat scan took {:.2} s",
                first.as_secs_f64(),
                second.as_secs_f64()
            ),
        ),
        Row::new(
            "memory of tandem serve after full scans",
            format!("{:.1} MiB", mib(rss)),
            format!("≤ {TARGET_MIB} MiB"),
            Verdict::target(mib(rss) <= TARGET_MIB),
            format!("{cameras} cameras × 64 presets × 2 sites, after a first and a repeat scan"),
        ),
        Row::new(
            "memory of tandem serve: peak",
            format!("{:.1} MiB", mib(peak)),
            format!("≤ {TARGET_MIB} MiB"),
            Verdict::target(mib(peak) <= TARGET_MIB),
            "the largest resident set over both scans (the first one imports)",
        ),
        Row::new(
            "memory of tandem scan (CLI): peak",
            format!("{:.1} MiB", mib(cli_peak)),
            format!("≤ {TARGET_MIB} MiB"),
            Verdict::target(mib(cli_peak) <= TARGET_MIB),
            format!(
                "a repeat scan of the {cameras} cameras from the command line, on the service's store"
            ),
        ),
        Row::new(
            "memory: no leak over full scans",
            format!("{:.1} MiB", mib(rss)),
            format!("≤ {LEAK_BOUND_MIB} MiB"),
            Verdict::check(mib(rss) <= LEAK_BOUND_MIB),
            "tandem serve's resident set after two full scans and 6 s idle",
        ),
    ])
}

/// Runs `tandem scan` on `config` to its end and answers its peak resident
/// set, in KiB, as the kernel accounted it when the process was reaped.
async fn cli_scan_peak_kib(config: &std::path::Path) -> anyhow::Result<u64> {
    let child = std::process::Command::new(rig::tandem_bin()?)
        .args(["scan", "--json", "-c"])
        .arg(config)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .context("cannot start tandem scan")?;
    let pid = child.id() as libc::pid_t;
    // Reaped here with wait4, which reports the process's own peak (std's
    // `wait` does not); the `Child` is dropped unwaited, which is harmless.
    drop(child);
    let (status, max_rss) = tokio::task::spawn_blocking(move || {
        let mut status: libc::c_int = 0;
        // SAFETY: a zeroed rusage is a valid value to be written into.
        let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
        // SAFETY: both pointers are to live, writable values of the right types.
        let reaped = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
        (
            if reaped == pid { Some(status) } else { None },
            usage.ru_maxrss,
        )
    })
    .await?;
    let status = status.context("tandem scan could not be waited for")?;
    anyhow::ensure!(
        libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0,
        "tandem scan failed (wait status {status})"
    );
    // ru_maxrss is in KiB on Linux.
    Ok(u64::try_from(max_rss).unwrap_or(0))
}
