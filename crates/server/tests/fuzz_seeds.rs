//! The `api_json` fuzz target declares the API's request shapes itself, to
//! keep the fuzz build free of the service's dependencies; its seeds in
//! `fuzz/seeds/api_json` are request bodies, one file per DTO named after it.
//! Parsing every seed with the server's own DTOs here keeps the seeds, and
//! the shapes written for them, true to the API.

use std::path::Path;

use serde::de::DeserializeOwned;
use tandem_server::routes::{admin, demo, dto, live, session, sync};

fn accepts<T: DeserializeOwned>(body: &[u8]) -> Result<(), String> {
    serde_json::from_slice::<T>(body)
        .map(|_| ())
        .map_err(|e| e.to_string())
}

type Check = fn(&[u8]) -> Result<(), String>;

#[test]
fn every_request_dto_has_a_fuzz_seed_and_accepts_it() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/seeds/api_json");
    let mut seeds = Vec::new();
    for entry in std::fs::read_dir(&dir).expect("the api_json seeds") {
        let path = entry.expect("entry").path();
        let name = path
            .file_stem()
            .and_then(|s| s.to_str())
            .expect("a seed name")
            .to_string();
        seeds.push((name, std::fs::read(&path).expect("seed")));
    }
    // Seed names start with the DTO's name; every DTO that a handler reads as
    // a JSON body is listed.
    let dtos: [(&str, Check); 13] = [
        ("new_preset", accepts::<dto::NewPresetDto>),
        ("preset_change", accepts::<dto::PresetChangeDto>),
        ("position", accepts::<dto::PositionDto>),
        ("continuous", accepts::<live::ContinuousDto>),
        ("relative", accepts::<live::RelativeDto>),
        ("repair", accepts::<sync::RepairRequest>),
        ("scan", accepts::<sync::ScanRequest>),
        ("login", accepts::<session::LoginDto>),
        ("new_user", accepts::<session::NewUserDto>),
        ("new_token", accepts::<session::NewTokenDto>),
        ("role", accepts::<admin::RoleDto>),
        ("user_roles", accepts::<admin::UserRolesDto>),
        ("outage", accepts::<demo::OutageChangeDto>),
    ];
    for (prefix, check) in dtos {
        let mine: Vec<_> = seeds
            .iter()
            .filter(|(n, _)| n.starts_with(prefix))
            .collect();
        assert!(
            !mine.is_empty(),
            "no seed for {prefix} in {}",
            dir.display()
        );
        for (name, body) in mine {
            if let Err(e) = check(body) {
                panic!("seed {name} does not parse as the {prefix} DTO: {e}");
            }
        }
    }
    let unclaimed: Vec<_> = seeds
        .iter()
        .filter(|(n, _)| !dtos.iter().any(|(p, _)| n.starts_with(p)))
        .map(|(n, _)| n)
        .collect();
    assert!(unclaimed.is_empty(), "seeds for no DTO: {unclaimed:?}");
}
