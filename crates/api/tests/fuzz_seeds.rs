//! The `api_json` fuzz target's seeds (`fuzz/seeds/api_json`) are request
//! bodies, one file per request type, named after it. Every request type that
//! a handler reads as a JSON body has a seed, and every seed parses as the
//! type its name says: the fuzzer starts from bodies the API accepts, and a
//! change of a request's wire shape that breaks a seed is noticed here.

use std::path::Path;

use serde::de::DeserializeOwned;
use tandem_api::{access, demo, live, presets, sync};

fn accepts<T: DeserializeOwned>(body: &[u8]) -> Result<(), String> {
    serde_json::from_slice::<T>(body)
        .map(|_| ())
        .map_err(|e| e.to_string())
}

type Check = fn(&[u8]) -> Result<(), String>;

#[test]
fn every_request_type_has_a_fuzz_seed_and_accepts_it() {
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
    // Seed names start with the type's name; every type that a handler reads
    // as a JSON body is listed.
    let dtos: [(&str, Check); 16] = [
        ("new_preset", accepts::<presets::NewPresetDto>),
        ("preset_change", accepts::<presets::PresetChangeDto>),
        ("position", accepts::<presets::PositionDto>),
        ("continuous", accepts::<live::ContinuousDto>),
        ("relative", accepts::<live::RelativeDto>),
        ("repair", accepts::<sync::RepairRequest>),
        ("scan", accepts::<sync::ScanRequest>),
        ("login", accepts::<access::LoginDto>),
        ("new_user", accepts::<access::NewUserDto>),
        ("new_token", accepts::<access::NewTokenDto>),
        ("role", accepts::<access::RoleDto>),
        ("user_roles", accepts::<access::UserRolesDto>),
        ("password_change", accepts::<access::PasswordChangeDto>),
        ("password_reset", accepts::<access::PasswordDto>),
        ("disabled", accepts::<access::DisabledDto>),
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
