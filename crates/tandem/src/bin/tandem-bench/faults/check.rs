//! What every fault run ends with: nothing pending, every acknowledged preset
//! on both sites exactly once, and a clean scan.

use std::collections::HashMap;
use std::time::Duration;

use tandem_api::sites::CameraDto;

use crate::report::{Row, Verdict};
use crate::rig::{self, Api, Sim};

/// Waits until no operation part is pending; answers how many still are.
pub async fn settle(api: &Api, within: Duration) -> anyhow::Result<u64> {
    let deadline = tokio::time::Instant::now() + within;
    loop {
        let (status, cameras) = api.get("/api/v1/cameras").await?;
        anyhow::ensure!(status == 200, "cameras: {status}");
        let cameras: Vec<CameraDto> = rig::typed(&cameras)?;
        let pending: u64 = cameras.iter().map(|c| c.pending).sum();
        if pending == 0 || tokio::time::Instant::now() >= deadline {
            return Ok(pending);
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Checks that every name in `acknowledged` (camera number, preset name) is on
/// both sites exactly once and that no name is on a site twice, then scans.
pub async fn converged(
    name: &str,
    api: &Api,
    sim: &Sim,
    cameras: usize,
    acknowledged: &[(usize, String)],
) -> anyhow::Result<Vec<Row>> {
    let pending = settle(api, Duration::from_secs(60)).await?;
    let mut missing = Vec::new();
    let mut doubled = Vec::new();
    // Acknowledged presets missing from at least one site.
    let mut absent = std::collections::HashSet::new();
    for camera in 1..=cameras {
        for site in [1, 2] {
            let mut count: HashMap<String, usize> = HashMap::new();
            for (_, preset) in sim.presets(site, camera).await? {
                *count.entry(preset).or_default() += 1;
            }
            doubled.extend(
                count
                    .iter()
                    .filter(|(_, n)| **n > 1)
                    .map(|(p, n)| format!("{p} ×{n} on site {site}")),
            );
            for (c, p) in acknowledged {
                if *c == camera && !count.contains_key(p) {
                    missing.push(format!("{p} missing on site {site}"));
                    absent.insert((*c, p.clone()));
                }
            }
        }
    }
    let open: usize = api.scan().await?.iter().map(|r| r.open).sum();
    let first = |v: &[String]| v.first().cloned().unwrap_or_default();
    Ok(vec![
        Row::new(
            format!("{name}: acknowledged presets on both sites exactly once"),
            format!(
                "{}/{}",
                acknowledged.len() - absent.len(),
                acknowledged.len()
            ),
            "all",
            Verdict::check(missing.is_empty() && doubled.is_empty()),
            if missing.is_empty() && doubled.is_empty() {
                "every site read through the simulator".to_string()
            } else {
                format!(
                    "{} missing, {} doubled: {}{}",
                    missing.len(),
                    doubled.len(),
                    first(&missing),
                    first(&doubled)
                )
            },
        ),
        Row::new(
            format!("{name}: pending after recovery"),
            pending.to_string(),
            "0",
            Verdict::check(pending == 0),
            "",
        ),
        Row::new(
            format!("{name}: open mismatches in the final scan"),
            open.to_string(),
            "0",
            Verdict::check(open == 0),
            "",
        ),
    ])
}
