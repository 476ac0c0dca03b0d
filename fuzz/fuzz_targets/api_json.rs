//! Arbitrary bytes as the JSON body of every API request, then, where it
//! parses, the domain checks the handler runs on it. Refusals are expected;
//! a panic is a bug.
//!
//! The request shapes are `tandem-api`'s own types, the ones the server's
//! handlers read (with default features: no utoipa, so the instrumented build
//! stays small; it does not depend on `tandem-server`, whose tokio, axum,
//! reqwest and SQLite would dwarf it). The checks are the real ones, from
//! `tandem-core`. `crates/api/tests/fuzz_seeds.rs` checks that every seed in
//! `fuzz/seeds/api_json` parses as the request type its name says.

#![no_main]

use std::str::FromStr;

use libfuzzer_sys::fuzz_target;
use serde::de::DeserializeOwned;
use tandem_api::access::{
    DisabledDto, LoginDto, NewTokenDto, NewUserDto, PasswordChangeDto, PasswordDto, RoleDto,
    UserRolesDto,
};
use tandem_api::demo::OutageChangeDto;
use tandem_api::live::{ContinuousDto, RelativeDto};
use tandem_api::presets::{NewPresetDto, PositionDto, PresetChangeDto};
use tandem_api::sync::{RepairRequest, ScanRequest};
use tandem_core::access::{self, Grant, Permission, Role, Scope};
use tandem_core::plan::Direction;
use tandem_core::{CameraId, Position, PresetName, PresetNumber};

fn parse<T: DeserializeOwned>(data: &[u8]) -> Option<T> {
    serde_json::from_slice(data).ok()
}

fn position(p: PositionDto) {
    let _ = Position::new(p.pan, p.tilt, p.zoom);
}

/// `live::in_range`: the velocity and translation checks of live commands.
fn in_range(v: f64, lo: f64, hi: f64) -> bool {
    v.is_finite() && (lo..=hi).contains(&v)
}

/// `admin::put_role`: every grant parsed, then the role checked as a whole.
fn role(name: String, dto: RoleDto) {
    let mut grants = Vec::new();
    for g in dto.grants {
        let Ok(permission) = Permission::from_str(&g.permission) else {
            return;
        };
        let scope = match g.group {
            None => Scope::AllCameras,
            Some(group) => match Scope::group(group) {
                Ok(scope) => scope,
                Err(_) => return,
            },
        };
        grants.push(Grant { permission, scope });
    }
    if let Ok(role) = Role::new(name, grants, dto.ptz_priority) {
        // What the handler answers and stores must read back as the same role.
        let json = serde_json::to_string(&role).expect("a role serializes");
        let back: Role = serde_json::from_str(&json).expect("a valid role reads back");
        assert_eq!(back, role);
    }
}

fuzz_target!(|data: &[u8]| {
    if let Some(p) = parse::<PositionDto>(data) {
        position(p);
    }
    if let Some(b) = parse::<NewPresetDto>(data) {
        let _ = b.number.map(PresetNumber::new);
        if let Ok(name) = PresetName::new(b.name) {
            // Accepted names are stored and sent as they are: they must round-trip.
            let json = serde_json::to_string(&name).expect("a name serializes");
            let back: PresetName = serde_json::from_str(&json).expect("a valid name reads back");
            assert_eq!(back, name);
        }
        if let Some(p) = b.position {
            position(p);
        }
    }
    if let Some(b) = parse::<PresetChangeDto>(data) {
        let _ = b.name.map(PresetName::new);
        let _ = b.number.map(PresetNumber::new);
        if let (Some(p), false) = (b.position, b.current_view) {
            position(p);
        }
    }
    if let Some(b) = parse::<ContinuousDto>(data) {
        let _ = [b.pan, b.tilt, b.zoom].map(|v| in_range(v, -1.0, 1.0));
        let timeout = b.timeout_ms.unwrap_or(1000).clamp(1, 60_000);
        let _ = std::time::Duration::from_millis(timeout);
    }
    if let Some(b) = parse::<RelativeDto>(data) {
        let _ = in_range(b.pan, -2.0, 2.0) && in_range(b.tilt, -2.0, 2.0);
        let _ = in_range(b.zoom, -1.0, 1.0);
    }
    if let Some(b) = parse::<ScanRequest>(data) {
        let _: Vec<CameraId> = b
            .cameras
            .unwrap_or_default()
            .iter()
            .map(|c| CameraId::from(c.as_str()))
            .collect();
    }
    if let Some(b) = parse::<RepairRequest>(data) {
        let _direction = match b.from.as_str() {
            "primary" => Some(Direction::PrimaryToSecondary),
            "secondary" => Some(Direction::SecondaryToPrimary),
            _ => None,
        };
        let _ = (b.mismatches, b.dry_run);
    }
    if let Some(b) = parse::<LoginDto>(data) {
        let _ = access::check_user_name(&b.username);
        // What the audit log records of a refused login's name.
        let _ = tandem_core::text::for_record(&b.username, 64);
        let _ = b.password.chars().count();
    }
    if let Some(b) = parse::<NewUserDto>(data) {
        let _ = access::check_user_name(&b.name);
        let _ = b.password.chars().count();
        for r in &b.roles {
            let _ = access::check_role_name(r);
        }
    }
    if let Some(b) = parse::<NewTokenDto>(data) {
        let _ = b.label.chars().any(char::is_control);
    }
    if let Some(b) = parse::<RoleDto>(data) {
        // The handler takes the name from the path; the body's is what a client sent.
        role(b.name.clone(), b);
    }
    if let Some(b) = parse::<UserRolesDto>(data) {
        for r in &b.roles {
            let _ = access::check_role_name(r);
        }
    }
    if let Some(b) = parse::<PasswordChangeDto>(data) {
        let _ = (b.current_password.len(), b.new_password.chars().count());
    }
    if let Some(b) = parse::<PasswordDto>(data) {
        let _ = b.password.chars().count();
    }
    let _ = parse::<DisabledDto>(data);
    let _ = parse::<OutageChangeDto>(data);
    // The core types' own deserializers, which stored JSON goes through.
    let _ = parse::<Role>(data);
    let _ = parse::<Vec<Grant>>(data);
    let _ = parse::<PresetName>(data);
    let _ = parse::<PresetNumber>(data);
    let _ = parse::<Position>(data).map(|p| p.validate());
});
