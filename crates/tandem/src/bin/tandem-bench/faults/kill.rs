//! kill -9: the service is killed at random points while operators add
//! presets, and restarted on the same port; after the last restart every
//! acknowledged operation is on both sites exactly once and a scan is clean.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use rand::Rng as _;
use tandem_api::presets::{NewPresetDto, OperationDto, PositionDto};
use tokio::sync::Mutex;

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

/// Whether an operation's answer says some site refused it (or is not an
/// operation's answer at all).
pub fn refused_somewhere(answer: &serde_json::Value) -> bool {
    rig::typed::<OperationDto>(answer).map_or(true, |outcome| {
        outcome.sites.iter().any(|s| s.state == "failed")
    })
}

/// The preset `name` numbered `number`, at `position`.
pub fn new_preset(number: usize, name: &str, (pan, tilt, zoom): (f64, f64, f64)) -> NewPresetDto {
    NewPresetDto {
        number: u32::try_from(number).ok(),
        name: name.to_string(),
        position: Some(PositionDto { pan, tilt, zoom }),
    }
}

async fn measure(scale: Scale) -> anyhow::Result<Vec<Row>> {
    let dir = rig::scratch("kill")?;
    let sim = Sim::start(&dir, CAMERAS, 0, &[])?;
    let listen = rig::free_address()?;
    let service = Arc::new(Mutex::new(Service::start_on(&sim.config, &listen, &[])?));
    let base = service.lock().await.url.clone();
    let api = Api::login(&base, "admin", ADMIN_PASSWORD).await?;

    // The killer: SIGKILL at random moments, then an immediate restart.
    let done = Arc::new(AtomicBool::new(false));
    let kills = Arc::new(AtomicUsize::new(0));
    let killer = {
        let (service, done, kills, config) = (
            service.clone(),
            done.clone(),
            kills.clone(),
            sim.config.clone(),
        );
        let (listen, wanted) = (listen.clone(), scale.kills);
        tokio::spawn(async move {
            while kills.load(Ordering::SeqCst) < wanted && !done.load(Ordering::SeqCst) {
                let pause = rand::rng().random_range(30..250);
                tokio::time::sleep(Duration::from_millis(pause)).await;
                let mut guard = service.lock().await;
                guard.proc.kill();
                kills.fetch_add(1, Ordering::SeqCst);
                // The port was just released; restart on it.
                loop {
                    match Service::start_on(&config, &listen, &[]) {
                        Ok(s) => {
                            *guard = s;
                            break;
                        }
                        Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
                    }
                }
            }
        })
    };

    // One operator per camera, adding presets; an answer 200 or 202 is an acknowledgement.
    let per_camera = scale.kill_ops.div_ceil(CAMERAS);
    let mut operators = tokio::task::JoinSet::new();
    for camera in 1..=CAMERAS {
        let api = api.clone();
        operators.spawn(async move {
            let mut acknowledged = Vec::new();
            let mut lost = 0usize;
            for i in 0..per_camera {
                let name = format!("K{camera}-{i}");
                let body = new_preset(1 + i, &name, (-0.5 + 0.01 * i as f64, 0.1, 0.2));
                match api
                    .post(&format!("/api/v1/cameras/cam-{camera}/presets"), &body)
                    .await
                {
                    // Accepted, and refused by no site: the operator was told it happens.
                    Ok((200 | 202, body)) if !refused_somewhere(&body) => {
                        acknowledged.push((camera, name))
                    }
                    _ => {
                        lost += 1;
                        tokio::time::sleep(Duration::from_millis(30)).await;
                    }
                }
            }
            (acknowledged, lost)
        });
    }
    let mut acknowledged = Vec::new();
    let mut unanswered = 0;
    while let Some(joined) = operators.join_next().await {
        let (acks, lost) = joined?;
        acknowledged.extend(acks);
        unanswered += lost;
    }
    // Operators may finish first: let the killer reach its count.
    while kills.load(Ordering::SeqCst) < scale.kills && !killer.is_finished() {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    done.store(true, Ordering::SeqCst);
    killer.await?;
    let killed = kills.load(Ordering::SeqCst);
    Api::wait_healthy(&base, Duration::from_secs(10)).await?;

    let mut rows = vec![Row::new(
        "kill -9: service killed",
        format!("{killed} times"),
        format!("≥ {}", scale.kills),
        Verdict::check(killed >= scale.kills),
        format!(
            "{} operations sent, {} acknowledged, {unanswered} cut off by a kill (those may or may not have happened)",
            per_camera * CAMERAS,
            acknowledged.len()
        ),
    )];
    rows.extend(check::converged("kill -9", &api, &sim, CAMERAS, &acknowledged).await?);
    drop(service);
    Ok(rows)
}
