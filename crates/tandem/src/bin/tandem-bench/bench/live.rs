//! Live control: concurrent operators, each steering its own camera with
//! continuous-move and stop pairs through the API, against the same commands
//! sent directly to the simulator; the latency tandem adds at p50 and p99.
//! Twice: open loop (every operator sends at a steady pace, 1,000 commands a
//! second in all, as joysticks do), which the target is about; and closed
//! loop (each sends its next command as soon as the last is answered), the
//! saturation reference.

use std::time::{Duration, Instant};

use tandem_api::live::ContinuousDto;
use tandem_onvif::types::{PanTilt, PtzVector};

use super::PartFuture;
use crate::Scale;
use crate::report::{Row, Verdict};
use crate::rig::{self, ADMIN_PASSWORD, Api, Service, Sim, percentile};

/// Target: p99 of the added latency at most 1 ms (open loop).
const TARGET_MS: f64 = 1.0;
/// Target: the service's CPU per command, in µs.
const TARGET_CPU_US: f64 = 40.0;
/// Commands per second of all operators together, open loop.
const OPEN_LOOP_RATE: f64 = 1000.0;

/// Runs the benchmark.
pub fn run(scale: Scale) -> PartFuture {
    Box::pin(measure(scale))
}

fn velocity() -> PtzVector {
    PtzVector {
        pan_tilt: Some(PanTilt { x: 0.2, y: 0.0 }),
        zoom: Some(0.0),
    }
}

async fn measure(scale: Scale) -> anyhow::Result<Vec<Row>> {
    let dir = rig::scratch("live")?;
    let sim = Sim::start(&dir, scale.live_operators, 0, &[])?;
    let service = Service::start(&sim.config, &[])?;
    let admin = Api::login(&service.url, "admin", ADMIN_PASSWORD).await?;
    let operators = admin
        .operators(scale.live_operators, &["ptz.control"])
        .await?;

    // One operator alone first: what the service adds without contention.
    let lone_direct = direct_pairs(&sim, 1, scale.live_pairs * 8).await?;
    let lone_api = api_pairs(operators[..1].to_vec(), scale.live_pairs * 8).await?;

    // Every operator at a steady pace: what operators do.
    let open_for = Duration::from_secs(if scale.name == "ci" { 3 } else { 10 });
    let period = Duration::from_secs_f64(scale.live_operators as f64 / OPEN_LOOP_RATE);
    let open_direct = direct_open(&sim, scale.live_operators, period, open_for).await?;
    let cpu_before = service.cpu_time()?;
    let open_api = api_open(&operators, period, open_for).await?;
    let open_cpu = service.cpu_time()?.saturating_sub(cpu_before);

    // Then every operator at once, each on its own camera, back to back.
    let direct = direct_pairs(&sim, scale.live_operators, scale.live_pairs).await?;
    let cpu_before = service.cpu_time()?;
    let api = api_pairs(operators, scale.live_pairs).await?;
    let cpu = service.cpu_time()?.saturating_sub(cpu_before);
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    let (d50, d99) = (ms(percentile(&direct, 50.0)), ms(percentile(&direct, 99.0)));
    let (a50, a99) = (ms(percentile(&api, 50.0)), ms(percentile(&api, 99.0)));
    let note = format!(
        "{} operators × {} move+stop pairs: API p50 {a50:.2} ms, p99 {a99:.2} ms; direct to the simulator p50 {d50:.2} ms, p99 {d99:.2} ms; \
         tandem serve used {:.0} µs of CPU per command, on a machine of {} cores shared with the simulator and the {} clients",
        scale.live_operators,
        scale.live_pairs,
        cpu.as_secs_f64() * 1e6 / api.len() as f64,
        std::thread::available_parallelism().map_or(1, |n| n.get()),
        scale.live_operators
    );
    let (l50, l99) = (
        ms(percentile(&lone_api, 50.0)) - ms(percentile(&lone_direct, 50.0)),
        ms(percentile(&lone_api, 99.0)) - ms(percentile(&lone_direct, 99.0)),
    );
    let (o50, o99) = (
        ms(percentile(&open_api, 50.0)) - ms(percentile(&open_direct, 50.0)),
        ms(percentile(&open_api, 99.0)) - ms(percentile(&open_direct, 99.0)),
    );
    let open_cpu_us = open_cpu.as_secs_f64() * 1e6 / open_api.len() as f64;
    let open_note = format!(
        "{} operators, one command each every {} ms ({OPEN_LOOP_RATE:.0}/s in all) for {} s: {} commands; \
         API p50 {:.2} ms, p99 {:.2} ms; direct to the simulator at the same pace p50 {:.2} ms, p99 {:.2} ms",
        scale.live_operators,
        period.as_millis(),
        open_for.as_secs(),
        open_api.len(),
        ms(percentile(&open_api, 50.0)),
        ms(percentile(&open_api, 99.0)),
        ms(percentile(&open_direct, 50.0)),
        ms(percentile(&open_direct, 99.0)),
    );
    Ok(vec![
        Row::new(
            "live control, open loop: added latency p50 / p99",
            format!("{o50:.2} / {o99:.2} ms"),
            format!("p99 ≤ {TARGET_MS} ms"),
            Verdict::target(o99 <= TARGET_MS),
            open_note,
        ),
        Row::new(
            "live control: service CPU per command",
            format!("{open_cpu_us:.0} µs"),
            format!("≤ {TARGET_CPU_US} µs"),
            Verdict::target(open_cpu_us <= TARGET_CPU_US),
            "tandem serve during the open-loop run: the HTTP request, the session, the rights, \
             the camera's control, the ONVIF command to the active site and its answer",
        ),
        Row::new(
            "live control, one operator: added latency p50 / p99",
            format!("{l50:.2} / {l99:.2} ms"),
            "-",
            Verdict::Info,
            format!(
                "{} move+stop pairs alone: API p50 {:.2} ms, p99 {:.2} ms; direct p50 {:.2} ms, p99 {:.2} ms",
                scale.live_pairs * 8,
                ms(percentile(&lone_api, 50.0)),
                ms(percentile(&lone_api, 99.0)),
                ms(percentile(&lone_direct, 50.0)),
                ms(percentile(&lone_direct, 99.0))
            ),
        ),
        Row::new(
            "live control, closed loop: added latency p50",
            format!("{:.2} ms", a50 - d50),
            "-",
            Verdict::Info,
            note.clone(),
        ),
        Row::new(
            "live control, closed loop: added latency p99",
            format!("{:.2} ms", a99 - d99),
            "-",
            Verdict::Info,
            note,
        ),
    ])
}

/// Move/stop pairs sent directly to the simulator by `operators` ONVIF
/// clients (cameras 1.., on the primary), all at once.
async fn direct_pairs(sim: &Sim, operators: usize, pairs: usize) -> anyhow::Result<Vec<Duration>> {
    let mut devices = Vec::new();
    for camera in 1..=operators {
        let device = rig::device(sim.endpoint(1, camera)?)?;
        device.stop("profile_1", true, true).await?; // connect outside the clock
        devices.push(device);
    }
    run_all(devices.into_iter().map(move |device| async move {
        let mut samples = Vec::with_capacity(pairs * 2);
        for _ in 0..pairs {
            let t = Instant::now();
            device
                .continuous_move("profile_1", velocity(), Some(Duration::from_millis(500)))
                .await?;
            samples.push(t.elapsed());
            let t = Instant::now();
            device.stop("profile_1", true, true).await?;
            samples.push(t.elapsed());
        }
        anyhow::Ok(samples)
    }))
    .await
}

/// The same pairs through the API, operator `i` on camera `i + 1`, all at once.
async fn api_pairs(operators: Vec<Api>, pairs: usize) -> anyhow::Result<Vec<Duration>> {
    for (i, op) in operators.iter().enumerate() {
        let path = format!("/api/v1/cameras/cam-{}/ptz/stop", i + 1);
        let (status, body) = op.command(&path).await?;
        anyhow::ensure!(status == 200, "warm-up: {status} {body}");
    }
    run_all(
        operators
            .into_iter()
            .enumerate()
            .map(move |(i, op)| async move {
                let camera = format!("/api/v1/cameras/cam-{}/ptz", i + 1);
                let mut samples = Vec::with_capacity(pairs * 2);
                for _ in 0..pairs {
                    let t = Instant::now();
                    let body = ContinuousDto {
                        pan: 0.2,
                        tilt: 0.0,
                        zoom: 0.0,
                        timeout_ms: Some(500),
                    };
                    let (status, answer) = op.post(&format!("{camera}/continuous"), &body).await?;
                    samples.push(t.elapsed());
                    anyhow::ensure!(status == 200, "continuous: {status} {answer}");
                    let t = Instant::now();
                    let (status, answer) = op.command(&format!("{camera}/stop")).await?;
                    samples.push(t.elapsed());
                    anyhow::ensure!(status == 200, "stop: {status} {answer}");
                }
                anyhow::Ok(samples)
            }),
    )
    .await
}

/// Commands sent directly to the simulator, open loop: client `i` (camera
/// `i + 1`) sends one every `period`, move and stop in turn, for `span`.
async fn direct_open(
    sim: &Sim,
    operators: usize,
    period: Duration,
    span: Duration,
) -> anyhow::Result<Vec<Duration>> {
    let mut devices = Vec::new();
    for camera in 1..=operators {
        let device = rig::device(sim.endpoint(1, camera)?)?;
        device.stop("profile_1", true, true).await?; // connect outside the clock
        devices.push(device);
    }
    run_all(
        devices
            .into_iter()
            .enumerate()
            .map(move |(i, device)| async move {
                paced(i, operators, period, span, |n| {
                    let device = &device;
                    async move {
                        if n % 2 == 0 {
                            device
                                .continuous_move(
                                    "profile_1",
                                    velocity(),
                                    Some(Duration::from_millis(500)),
                                )
                                .await?;
                        } else {
                            device.stop("profile_1", true, true).await?;
                        }
                        anyhow::Ok(())
                    }
                })
                .await
            }),
    )
    .await
}

/// The same open-loop commands through the API, operator `i` on camera `i + 1`.
async fn api_open(
    operators: &[Api],
    period: Duration,
    span: Duration,
) -> anyhow::Result<Vec<Duration>> {
    let count = operators.len();
    run_all(
        operators
            .iter()
            .cloned()
            .enumerate()
            .map(move |(i, op)| async move {
                let camera = format!("/api/v1/cameras/cam-{}/ptz", i + 1);
                paced(i, count, period, span, |n| {
                    let (op, camera) = (&op, &camera);
                    async move {
                        let (status, answer) = if n % 2 == 0 {
                            let body = ContinuousDto {
                                pan: 0.2,
                                tilt: 0.0,
                                zoom: 0.0,
                                timeout_ms: Some(500),
                            };
                            op.post(&format!("{camera}/continuous"), &body).await?
                        } else {
                            op.command(&format!("{camera}/stop")).await?
                        };
                        anyhow::ensure!(status == 200, "command {n}: {status} {answer}");
                        anyhow::Ok(())
                    }
                })
                .await
            }),
    )
    .await
}

/// Calls `send(n)` every `period` for `span`, client `i` of `clients`
/// starting `i / clients` of a period late so that the clients spread out;
/// the time each call took. A call that overruns its period delays the next
/// (no burst to catch up).
async fn paced<F, Fut>(
    i: usize,
    clients: usize,
    period: Duration,
    span: Duration,
    send: F,
) -> anyhow::Result<Vec<Duration>>
where
    F: Fn(usize) -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<()>>,
{
    let offset = period.mul_f64(i as f64 / clients.max(1) as f64);
    let start = tokio::time::Instant::now() + offset;
    let mut ticks = tokio::time::interval_at(start, period);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let end = start + span;
    let mut samples = Vec::new();
    let mut n = 0;
    loop {
        ticks.tick().await;
        if tokio::time::Instant::now() >= end {
            break;
        }
        let t = Instant::now();
        send(n).await?;
        samples.push(t.elapsed());
        n += 1;
    }
    Ok(samples)
}

/// Runs every task at once and pools their sorted samples.
async fn run_all<F>(tasks: impl Iterator<Item = F>) -> anyhow::Result<Vec<Duration>>
where
    F: std::future::Future<Output = anyhow::Result<Vec<Duration>>> + Send + 'static,
{
    let mut set = tokio::task::JoinSet::new();
    for task in tasks {
        set.spawn(task);
    }
    let mut all = Vec::new();
    while let Some(joined) = set.join_next().await {
        all.extend(joined??);
    }
    all.sort();
    Ok(all)
}
