//! The wire format alone, in one process: one 64-preset `GetPresets` answer
//! read into presets (what a scan does twice per camera) and written (what
//! the simulator does for each). No HTTP, no store: the cost of the XML.

use std::hint::black_box;
use std::time::Instant;

use tandem_onvif::message::{self, Response, ServiceKind};
use tandem_onvif::soap;
use tandem_onvif::types::{Preset, PtzVector};

use super::PartFuture;
use crate::Scale;
use crate::report::{Row, Verdict};

/// Target: one 64-preset answer read in at most this many microseconds.
const TARGET_READ_US: f64 = 25.0;
/// Presets in the answer.
const PRESETS: usize = 64;

/// Runs the benchmark.
pub fn run(scale: Scale) -> PartFuture {
    Box::pin(async move { measure(scale) })
}

/// A 64-preset answer as the simulator writes it: names, and positions with
/// the digits a real device reports.
pub fn answer() -> String {
    let presets: Vec<Preset> = (1..=PRESETS)
        .map(|i| {
            let f = i as f64;
            Preset {
                token: i.to_string(),
                name: Some(format!("Gate {i} — north approach")),
                position: Some(PtzVector::new(
                    (f * 0.0311).sin(),
                    (f * 0.017).cos() * 0.8,
                    (f / PRESETS as f64).min(1.0),
                )),
            }
        })
        .collect();
    soap::envelope(None, &Response::Presets(presets).to_xml(ServiceKind::Ptz))
}

fn measure(scale: Scale) -> anyhow::Result<Vec<Row>> {
    let text = answer();
    let presets: Vec<Preset> = message::read_presets_answer(&text)?;
    anyhow::ensure!(presets.len() == PRESETS, "read {} presets", presets.len());
    let iterations: u32 = match scale.name {
        "ci" => 200,
        _ => 20_000,
    };
    let per_op = |f: &mut dyn FnMut()| {
        let started = Instant::now();
        for _ in 0..iterations {
            f();
        }
        started.elapsed().as_secs_f64() * 1e6 / f64::from(iterations)
    };
    let read_us = per_op(&mut || {
        let _ = black_box(message::read_presets_answer(black_box(&text)));
    });
    let write_us = per_op(&mut || {
        let response = Response::Presets(presets.clone());
        black_box(soap::envelope(None, &response.to_xml(ServiceKind::Ptz)));
    });
    Ok(vec![
        Row::new(
            "one 64-preset GetPresets answer read",
            format!("{read_us:.1} µs"),
            format!("≤ {TARGET_READ_US} µs"),
            Verdict::target(read_us <= TARGET_READ_US),
            format!(
                "{} bytes of XML into {PRESETS} presets (envelope checked, names and positions), \
                 {iterations} times in one process, no HTTP",
                text.len()
            ),
        ),
        Row::new(
            "one 64-preset GetPresets answer written",
            format!("{write_us:.1} µs"),
            "-",
            Verdict::Info,
            format!("the simulator's writer, envelope included, {iterations} times"),
        ),
    ])
}
