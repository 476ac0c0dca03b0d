//! Live control survives failover: the primary site is killed in the middle of
//! 1,000 move commands sent at 50 per second; no command fails for the caller.

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};
use tandem_access::local_operator;

use common::*;
use tandem_core::clock::ManualClock;
use tandem_engine::live::{Command, Health, HealthPolicy, Live};
use tandem_sim::world::Faults;

fn policy() -> HealthPolicy {
    HealthPolicy {
        probe_interval: Duration::from_millis(100),
        failures_to_down: 2,
        successes_to_up: 3,
        failback_hold: Duration::from_secs(1),
        auto_failback: true,
        command_timeout: Duration::from_millis(300),
        ..HealthPolicy::default()
    }
}

#[tokio::test]
async fn killing_the_primary_during_1000_moves_fails_no_command() {
    let sim = sim(1, &["2=vms"], 0, false).await;
    let engine = engine(&sim, 0.001);
    let live = Live::new(engine, policy()).expect("live");
    let monitor = live.spawn_monitor();
    let cam = camera(1);
    let mut ticker = tokio::time::interval(Duration::from_millis(20));
    let (mut failed, mut served_by_secondary) = (0, 0);
    let mut killed_at = None;
    let mut reaction = None;
    for i in 0..1000 {
        ticker.tick().await;
        if i == 250 {
            sim.set_faults(
                1,
                Faults {
                    down: true,
                    ..Faults::default()
                },
            );
            killed_at = Some(Instant::now());
        }
        let command = if i % 2 == 0 {
            Command::ContinuousMove {
                velocity: [0.2, 0.0, 0.0],
                timeout: Duration::from_millis(500),
            }
        } else {
            Command::Stop
        };
        match live.command(&cam, &command).await {
            Ok(served) => {
                if served.site.as_str() == "secondary" {
                    served_by_secondary += 1;
                    if let (Some(t), None) = (killed_at, reaction) {
                        reaction = Some(t.elapsed());
                    }
                }
            }
            Err(e) => {
                failed += 1;
                eprintln!("command {i} failed: {e}");
            }
        }
    }
    monitor.abort();
    let reaction = reaction.expect("the secondary served commands");
    println!(
        "failover: 1000 commands at 50/s, primary killed at command 250: {failed} failed, {served_by_secondary} served by the secondary, reaction time {} ms",
        reaction.as_millis()
    );
    assert_eq!(failed, 0);
    assert!(served_by_secondary >= 700);
    assert_eq!(live.active().as_str(), "secondary");
    assert_eq!(live.history().len(), 1, "one switch: {:?}", live.history());
}

#[tokio::test]
async fn control_fails_back_after_the_hold_time_and_flapping_is_damped() {
    let sim = sim(1, &[], 0, false).await;
    let engine = engine(&sim, 0.001);
    let live = Live::new(engine, policy()).expect("live");
    let monitor = live.spawn_monitor();
    sim.set_faults(
        1,
        Faults {
            down: true,
            ..Faults::default()
        },
    );
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        live.active().as_str(),
        "secondary",
        "the monitor moved control off the down primary"
    );
    assert_eq!(live.health()[0].1, Health::Down);
    // Flapping: up and down faster than the hold time never returns control.
    for _ in 0..4 {
        sim.set_faults(1, Faults::default());
        tokio::time::sleep(Duration::from_millis(300)).await;
        sim.set_faults(
            1,
            Faults {
                down: true,
                ..Faults::default()
            },
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    assert_eq!(live.active().as_str(), "secondary");
    let switches_while_flapping = live.history().len();
    assert_eq!(switches_while_flapping, 1, "{:?}", live.history());
    // Healthy for longer than the hold: failback.
    sim.set_faults(1, Faults::default());
    let deadline = Instant::now() + Duration::from_secs(5);
    while live.active().as_str() != "primary" {
        assert!(
            Instant::now() < deadline,
            "no failback: {:?}",
            live.history()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    monitor.abort();
    let last = live.history().last().cloned().expect("a switch");
    assert_eq!(last.reason, "failback after hold");
}

#[tokio::test]
async fn recall_by_number_uses_each_sites_own_token() {
    use tandem_engine::engine::{AddPreset, PositionSource};
    let sim = sim(1, &["2=vms"], 0, false).await;
    let engine = engine(&sim, 0.001);
    let position = tandem_core::Position::new(0.6, -0.2, 0.5).expect("valid");
    engine
        .add(
            &camera(1),
            AddPreset {
                number: Some(number(5)),
                name: name("Gate"),
                position: PositionSource::Explicit(position),
            },
            &local_operator("x"),
        )
        .await
        .expect("add");
    let live = Live::new(engine.clone(), policy()).expect("live");
    live.command(
        &camera(1),
        &Command::AbsoluteMove {
            position: tandem_core::Position::new(0.0, 0.0, 0.0).expect("valid"),
        },
    )
    .await
    .expect("move");
    sim.set_faults(
        1,
        Faults {
            down: true,
            ..Faults::default()
        },
    );
    let served = live
        .command(&camera(1), &Command::RecallPreset(number(5)))
        .await
        .expect("recall");
    assert_eq!(
        served.site.as_str(),
        "secondary",
        "recalled through the GUID site's token"
    );
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let status = live
            .command(&camera(1), &Command::Status)
            .await
            .expect("status")
            .status
            .expect("status");
        if !status.moving {
            let p = status.position.expect("position");
            assert!((p.pan - 0.6).abs() < 1e-6, "{p:?}");
            break;
        }
        assert!(Instant::now() < deadline);
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn a_hanging_primary_costs_one_command_timeout_then_none() {
    let sim = sim(1, &[], 0, false).await;
    let engine = engine(&sim, 0.001);
    let live = Live::new(engine, policy()).expect("live");
    live.command(&camera(1), &Command::Stop)
        .await
        .expect("primary serves");
    sim.set_faults(
        1,
        Faults {
            hang: true,
            ..Faults::default()
        },
    );
    let started = Instant::now();
    let served = live
        .command(&camera(1), &Command::Stop)
        .await
        .expect("served by the secondary");
    let first = started.elapsed();
    assert_eq!(served.site.as_str(), "secondary");
    assert_eq!(served.failed_over_from.len(), 1);
    assert!(
        first >= Duration::from_millis(300),
        "waited the command timeout: {first:?}"
    );
    let started = Instant::now();
    let served = live
        .command(&camera(1), &Command::Stop)
        .await
        .expect("served");
    assert_eq!(served.site.as_str(), "secondary");
    assert!(
        served.failed_over_from.is_empty(),
        "the hung primary is no longer tried first"
    );
    println!(
        "hang: first command {} ms, next {} ms",
        first.as_millis(),
        started.elapsed().as_millis()
    );
    sim.set_faults(1, Faults::default());
}

/// The probers used to ask only a site's first camera: a first camera that
/// answers garbage made the whole site down and moved live control away.
#[tokio::test]
async fn one_dead_camera_does_not_make_its_site_down() {
    let sim = sim(3, &["1/1=hostile"], 0, false).await;
    let engine = engine(&sim, 0.001);
    let live = Live::new(engine.clone(), policy()).expect("live");
    for _ in 0..5 {
        live.probe_once().await;
    }
    assert_eq!(live.health()[0].1, Health::Up, "{:?}", live.health());
    assert_eq!(live.active().as_str(), "primary");
    // The same probes, with the whole primary gone, do make it down.
    sim.set_faults(
        1,
        Faults {
            down: true,
            ..Faults::default()
        },
    );
    for _ in 0..3 {
        live.probe_once().await;
    }
    assert_eq!(live.health()[0].1, Health::Down);
    assert_eq!(live.active().as_str(), "secondary");
    // Live control and the watcher read one record of health.
    assert_eq!(engine.health().all(), live.health());
}

/// Time is injected: manual control lapses when the engine's clock says so,
/// not after 15 s of the test's life.
#[tokio::test]
async fn manual_control_lapses_by_the_engine_clock() {
    let sim = sim(1, &[], 0, false).await;
    let clock = ManualClock::at(std::time::SystemTime::now());
    let engine = engine(&sim, 0.001).with_clock(Arc::new(clock.clone()));
    let live = Live::new(engine, policy()).expect("live");
    let (ann, bob) = (local_operator("ann"), local_operator("bob"));
    live.operate(&ann, &camera(1), &Command::Stop)
        .await
        .expect("a free camera");
    let refused = live
        .operate(&bob, &camera(1), &Command::Stop)
        .await
        .expect_err("equal priority while ann steers");
    assert_eq!(
        refused.kind(),
        tandem_core::ErrorKind::Conflict,
        "{refused}"
    );
    assert!(refused.to_string().contains("ann"), "{refused}");
    clock.advance(policy().control_idle + Duration::from_secs(1));
    live.operate(&bob, &camera(1), &Command::Stop)
        .await
        .expect("ann's hold lapsed by the clock");
    assert_eq!(
        live.holder(&bob, &camera(1))
            .expect("camera")
            .map(|h| h.user),
        Some("bob".to_string())
    );
}
