//! Issue 12: what discovery found (service addresses, the PTZ profile) is kept
//! in the store, so a second `tandem scan` process sends each device its
//! `GetPresets` and nothing else.

mod support;

use std::path::Path;
use std::process::Output;

use support::{get_json, tandem, temp_dir};
use tandem_core::{CameraId, SiteId};
use tandem_store::SqliteStore;
use tandem_store::prelude::*;

fn scan(config: &Path) -> Output {
    tandem()
        .args(["scan", "-c"])
        .arg(config)
        .output()
        .expect("tandem runs")
}

/// SOAP requests each site has answered so far.
fn soap_requests(control: &str) -> Vec<u64> {
    let sites = get_json(&format!("{control}/api/sites"));
    sites
        .as_array()
        .expect("sites")
        .iter()
        .map(|s| s["requests"]["soap"].as_u64().expect("soap count"))
        .collect()
}

#[test]
fn a_second_scan_process_sends_each_device_only_its_get_presets() {
    let dir = temp_dir("discovery");
    let (_sim, control, config) = support::simulator_with(
        &dir,
        &["--cameras", "2", "--presets", "3", "--profile", "2=wsse"],
    );
    let first = scan(&config);
    assert_eq!(first.status.code(), Some(0), "{first:?}");
    let store = SqliteStore::open(dir.join("tandem.db")).expect("store opens");
    let kept = store.learned_bindings().expect("learned");
    assert_eq!(kept.len(), 4, "every binding: {kept:?}");
    assert!(
        kept.iter()
            .all(|k| k.services.is_some() && k.profile.is_some()),
        "{kept:?}"
    );
    let secondary = kept
        .iter()
        .find(|k| k.camera == CameraId::from("cam-1") && k.site == SiteId::from("secondary"))
        .expect("cam-1 on the secondary");
    assert!(
        secondary
            .services
            .as_deref()
            .is_some_and(|s| s.contains("ptz")),
        "{secondary:?}"
    );

    let before = soap_requests(&control);
    let second = scan(&config);
    assert_eq!(second.status.code(), Some(0), "{second:?}");
    let after = soap_requests(&control);
    let sent: Vec<u64> = after.iter().zip(&before).map(|(a, b)| a - b).collect();
    // Two cameras per site, one GetPresets each: no clock read, no
    // GetServices, no GetProfiles.
    assert_eq!(sent, [2, 2], "before {before:?}, after {after:?}");
}
