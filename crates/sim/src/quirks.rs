//! Vendor quirk profiles: the ways real devices and VMS bridges differ, so
//! that tandem is tested against them before it meets them.
//!
//! A profile is a `+`-separated list of traits, such as `vms+rounded` or
//! `camera+limited=16+skewed=7200`, applied per site or per camera with a
//! [`ProfileRule`] such as `2=vms` (site 2) or `1/3=fixed8` (site 1, camera 3).

use std::fmt;
use std::str::FromStr;

/// How a site names presets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenStyle {
    /// Tokens are the preset number ("1", "2"...); `SetPreset` with an unknown
    /// numeric token creates that slot. Most cameras.
    Numeric,
    /// Opaque GUIDs chosen by the device; `SetPreset` with an unknown token
    /// faults `ter:NoToken`. VMS bridges.
    Guid,
}

/// Which authentication a site accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthMode {
    /// WS-Security UsernameToken or HTTP Digest (most cameras).
    Any,
    /// WS-Security only; requests without it get a `ter:NotAuthorized` fault.
    WsSecurity,
    /// HTTP Digest only (SHA-256 and MD5 offered); WS-Security headers are ignored.
    Digest,
    /// HTTP Digest with MD5 only, as older firmware offers.
    DigestMd5,
    /// No authentication at all.
    None,
}

/// How a `hostile` camera mangles its SOAP answers: each kind is one way a
/// broken or malicious device (or a proxy in front of it) can attack the
/// client's parser, so that every one is known to end in a clear error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Hostility {
    /// Not well-formed XML (mismatched tags, stray markup) with HTTP 200.
    Malformed,
    /// The correct answer envelope, cut off in the middle.
    Truncated,
    /// A well-formed envelope of [`OVERSIZED_BYTES`], streamed without a
    /// `Content-Length`, so only the client's running count can stop it.
    Oversized,
    /// The correct answer with its body element in a made-up namespace.
    Namespace,
    /// A document whose DTD declares nested entities (billion laughs).
    Entity,
    /// The five kinds above in turn, request by request.
    Mixed,
}

/// Size of an oversized answer: above the client's default 4 MiB cap.
pub const OVERSIZED_BYTES: usize = 5 * 1024 * 1024;

impl Hostility {
    /// The concrete kinds that [`Hostility::Mixed`] rotates through, in order.
    pub const KINDS: [Hostility; 5] = [
        Hostility::Malformed,
        Hostility::Truncated,
        Hostility::Oversized,
        Hostility::Namespace,
        Hostility::Entity,
    ];

    /// The name used in profiles (`hostile=NAME`).
    pub fn name(self) -> &'static str {
        match self {
            Hostility::Malformed => "malformed",
            Hostility::Truncated => "truncated",
            Hostility::Oversized => "oversized",
            Hostility::Namespace => "namespace",
            Hostility::Entity => "entity",
            Hostility::Mixed => "mixed",
        }
    }
}

impl FromStr for Hostility {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        Hostility::KINDS
            .into_iter()
            .chain([Hostility::Mixed])
            .find(|k| k.name() == s)
            .ok_or_else(|| {
                format!(
                    "quirk hostile: unknown kind {s:?}; known: malformed, truncated, oversized, namespace, entity, mixed"
                )
            })
    }
}

/// The quirks of one camera as one site exposes it.
#[derive(Debug, Clone, PartialEq)]
pub struct Quirks {
    /// Token style.
    pub tokens: TokenStyle,
    /// A fixed set of slots ("Preset1".."PresetN"), always listed, never created or deleted.
    pub fixed_slots: Option<u32>,
    /// `GetPresets` also lists this many unused slots (the lowest free
    /// numbers): numeric token, no name, no position, as NVR-attached domes
    /// list theirs. `SetPreset` fills one; `RemovePreset` empties it again.
    pub empty_slots: u32,
    /// Numbers the device treats as commands, not presets: `GotoPreset`
    /// runs the command (the camera turns to pan 0, tilt 0: "pan zero"),
    /// `SetPreset` and `RemovePreset` are refused with `ter:InvalidArgVal`.
    pub commands: Vec<u32>,
    /// Positions reported rounded to this step.
    pub position_step: Option<f64>,
    /// Names are not kept: `GetPresets` reports presets without names.
    pub nameless: bool,
    /// `SetPreset` faults `ter:MovingPTZ` while the camera moves.
    pub refuse_while_moving: bool,
    /// The first N `SetPreset` calls fault `ter:MovingPTZ` whatever the
    /// camera does (firmware that reports a move long after it ended).
    pub busy_set_presets: u32,
    /// Most presets the device holds (`ter:TooManyPresets` beyond).
    pub max_presets: u32,
    /// Accepted authentication.
    pub auth: AuthMode,
    /// Device clock minus true UTC, in seconds, at start (the control API
    /// changes it while running: see [`crate::world::DeviceClock`]).
    pub clock_offset_s: i64,
    /// No media v1 service: profiles and snapshots only through media v2 (newer Profile T devices).
    pub media2_only: bool,
    /// No `GetServices`: service addresses only through `GetCapabilities` (older devices).
    pub legacy: bool,
    /// Longest preset name the device accepts, in characters (`ter:InvalidPresetName` beyond).
    pub max_name_chars: usize,
    /// Every SOAP answer but `GetSystemDateAndTime` is mangled this way.
    pub hostile: Option<Hostility>,
    /// Faults are SOAP 1.1 (`faultcode` `Client`), ONVIF's subcodes in `detail`.
    pub soap11_faults: bool,
    /// `GetServices` and `GetCapabilities` are answered without
    /// authentication, as ONVIF's PRE_AUTH access class allows and many
    /// devices do: a client meets the device's authentication only later.
    pub pre_auth: bool,
    /// The names of the traits applied, for display.
    pub names: Vec<String>,
}

impl Default for Quirks {
    fn default() -> Self {
        Quirks {
            tokens: TokenStyle::Numeric,
            fixed_slots: None,
            empty_slots: 0,
            commands: Vec::new(),
            position_step: None,
            nameless: false,
            refuse_while_moving: false,
            busy_set_presets: 0,
            max_presets: 256,
            auth: AuthMode::Any,
            clock_offset_s: 0,
            media2_only: false,
            legacy: false,
            max_name_chars: 64,
            hostile: None,
            soap11_faults: false,
            pre_auth: false,
            names: Vec::new(),
        }
    }
}

impl Quirks {
    /// The profile name as given (`camera` when nothing was applied).
    pub fn profile_name(&self) -> String {
        if self.names.is_empty() {
            "camera".into()
        } else {
            self.names.join("+")
        }
    }

    /// Applies a `+`-separated profile on top of these quirks.
    pub fn apply(&mut self, profile: &Profile) {
        for t in &profile.traits {
            t.apply(self);
            self.names.push(t.to_string());
        }
    }

    /// Most presets this camera can hold.
    pub fn capacity(&self) -> u32 {
        self.fixed_slots.unwrap_or(self.max_presets)
    }

    /// Whether the device treats `token` as a command number.
    pub fn is_command(&self, token: &str) -> bool {
        token
            .parse::<u32>()
            .is_ok_and(|n| n.to_string() == token && self.commands.contains(&n))
    }
}

/// One quirk.
#[derive(Debug, Clone, PartialEq)]
pub enum Trait {
    /// Numeric tokens equal to the preset number.
    Camera,
    /// Opaque GUID tokens.
    Vms,
    /// A fixed set of N slots.
    FixedSlots(u32),
    /// N unused slots listed besides the presets.
    EmptySlots(u32),
    /// Numbers the device treats as commands.
    Commands(Vec<u32>),
    /// Positions rounded to this step.
    Rounded(f64),
    /// No preset names.
    Nameless,
    /// `SetPreset` refused while moving.
    StrictMoving,
    /// The first N `SetPreset` calls refused with `ter:MovingPTZ`.
    BusyMoving(u32),
    /// At most N presets.
    Limited(u32),
    /// Authentication mode.
    Auth(AuthMode),
    /// Device clock offset in seconds.
    Skewed(i64),
    /// No media v1 service.
    Media2Only,
    /// No `GetServices`.
    Legacy,
    /// Names of at most N characters.
    MaxName(u32),
    /// SOAP answers mangled (see [`Hostility`]).
    Hostile(Hostility),
    /// SOAP 1.1 faults with the subcodes in `detail`.
    Soap11Faults,
    /// Service discovery without authentication.
    PreAuth,
}

impl Trait {
    fn apply(&self, q: &mut Quirks) {
        match *self {
            Trait::Camera => q.tokens = TokenStyle::Numeric,
            Trait::Vms => q.tokens = TokenStyle::Guid,
            Trait::FixedSlots(n) => {
                q.tokens = TokenStyle::Numeric;
                q.fixed_slots = Some(n);
            }
            Trait::EmptySlots(n) => q.empty_slots = n,
            Trait::Commands(ref numbers) => q.commands = numbers.clone(),
            Trait::Rounded(step) => q.position_step = Some(step),
            Trait::Nameless => q.nameless = true,
            Trait::StrictMoving => q.refuse_while_moving = true,
            Trait::BusyMoving(n) => q.busy_set_presets = n,
            Trait::Limited(n) => q.max_presets = n,
            Trait::Auth(mode) => q.auth = mode,
            Trait::Skewed(s) => q.clock_offset_s = s,
            Trait::Media2Only => q.media2_only = true,
            Trait::Legacy => q.legacy = true,
            Trait::MaxName(n) => q.max_name_chars = n as usize,
            Trait::Hostile(kind) => q.hostile = Some(kind),
            Trait::Soap11Faults => q.soap11_faults = true,
            Trait::PreAuth => q.pre_auth = true,
        }
    }
}

impl fmt::Display for Trait {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Trait::Camera => f.write_str("camera"),
            Trait::Vms => f.write_str("vms"),
            Trait::FixedSlots(n) => write!(f, "fixed={n}"),
            Trait::EmptySlots(n) => write!(f, "empty={n}"),
            Trait::Commands(numbers) => {
                let list: Vec<String> = numbers.iter().map(u32::to_string).collect();
                write!(f, "commands={}", list.join(","))
            }
            Trait::Rounded(s) => write!(f, "rounded={s}"),
            Trait::Nameless => f.write_str("nameless"),
            Trait::StrictMoving => f.write_str("strict-moving"),
            Trait::BusyMoving(n) => write!(f, "moving={n}"),
            Trait::Limited(n) => write!(f, "limited={n}"),
            Trait::Auth(AuthMode::Any) => f.write_str("auth-any"),
            Trait::Auth(AuthMode::WsSecurity) => f.write_str("wsse"),
            Trait::Auth(AuthMode::Digest) => f.write_str("digest"),
            Trait::Auth(AuthMode::DigestMd5) => f.write_str("digest-md5"),
            Trait::Auth(AuthMode::None) => f.write_str("noauth"),
            Trait::Skewed(s) => write!(f, "skewed={s}"),
            Trait::Media2Only => f.write_str("media2-only"),
            Trait::Legacy => f.write_str("legacy"),
            Trait::MaxName(n) => write!(f, "max-name={n}"),
            Trait::Hostile(kind) => write!(f, "hostile={}", kind.name()),
            Trait::Soap11Faults => f.write_str("soap11"),
            Trait::PreAuth => f.write_str("preauth"),
        }
    }
}

/// The command numbers of `commands` without a list: flip, pan zero, reboot
/// and OSD menu on many Pelco-D domes.
pub const DEFAULT_COMMANDS: [u32; 4] = [33, 34, 94, 95];

/// The list of trait names and what they do, for `--help` and errors.
pub const TRAITS_HELP: &str = "camera (numeric tokens), vms (GUID tokens), fixed8 or fixed=N (fixed slots), \
empty=N (N unused slots listed without name or position), \
commands=N,N... (numbers recalled as commands, default 33,34,94,95), \
rounded or rounded=STEP (positions rounded, default 0.01), nameless, strict-moving (SetPreset refused while moving), \
moving=N (the first N SetPreset calls refused with ter:MovingPTZ), \
limited or limited=N (preset limit, default 16), wsse, digest, digest-md5, noauth, auth-any, \
skewed or skewed=SECONDS (device clock offset, default 7200), \
media2-only (no media v1 service), legacy (no GetServices, only GetCapabilities), \
max-name or max-name=N (preset names of at most N characters, default 16), \
hostile or hostile=KIND (answers mangled: malformed, truncated, oversized, namespace, entity, or mixed, the default), \
soap11 (SOAP 1.1 faults, ONVIF subcodes in detail), \
preauth (GetServices and GetCapabilities answered without authentication)";

impl FromStr for Trait {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let (name, value) = match s.split_once('=') {
            Some((n, v)) => (n.trim(), Some(v.trim())),
            None => (s.trim(), None),
        };
        let number = |default: f64| -> Result<f64, String> {
            match value {
                None => Ok(default),
                Some(v) => v
                    .parse::<f64>()
                    .ok()
                    .filter(|x| x.is_finite())
                    .ok_or_else(|| format!("quirk {name}: {v:?} is not a number")),
            }
        };
        let count = |default: f64| -> Result<u32, String> {
            let n = number(default)?;
            if (1.0..=10_000.0).contains(&n) && n.fract() == 0.0 {
                Ok(n as u32)
            } else {
                Err(format!(
                    "quirk {name}: expected a whole number from 1 to 10000"
                ))
            }
        };
        Ok(match name {
            "camera" => Trait::Camera,
            "vms" => Trait::Vms,
            "fixed8" => Trait::FixedSlots(8),
            "fixed" => Trait::FixedSlots(count(8.0)?),
            "empty" => Trait::EmptySlots(count(250.0)?),
            "commands" => Trait::Commands(match value {
                None => DEFAULT_COMMANDS.to_vec(),
                Some(list) => list
                    .split(',')
                    .map(|n| {
                        n.trim()
                            .parse::<u32>()
                            .ok()
                            .filter(|n| (1..=10_000).contains(n))
                            .ok_or_else(|| {
                                format!("quirk commands: {n:?} is not a number from 1 to 10000")
                            })
                    })
                    .collect::<Result<_, _>>()?,
            }),
            "rounded" => {
                let step = number(0.01)?;
                if !(step > 0.0 && step <= 1.0) {
                    return Err(format!("quirk rounded: step {step} must be in (0, 1]"));
                }
                Trait::Rounded(step)
            }
            "nameless" => Trait::Nameless,
            "strict-moving" => Trait::StrictMoving,
            "moving" => Trait::BusyMoving(count(3.0)?),
            "limited" => Trait::Limited(count(16.0)?),
            "wsse" => Trait::Auth(AuthMode::WsSecurity),
            "digest" => Trait::Auth(AuthMode::Digest),
            "digest-md5" => Trait::Auth(AuthMode::DigestMd5),
            "noauth" => Trait::Auth(AuthMode::None),
            "auth-any" => Trait::Auth(AuthMode::Any),
            "skewed" => Trait::Skewed(number(7200.0)? as i64),
            "media2-only" => Trait::Media2Only,
            "legacy" => Trait::Legacy,
            "max-name" => Trait::MaxName(count(16.0)?.min(64)),
            "hostile" => Trait::Hostile(value.unwrap_or("mixed").parse()?),
            "soap11" => Trait::Soap11Faults,
            "preauth" => Trait::PreAuth,
            other => return Err(format!("unknown quirk {other:?}; known: {TRAITS_HELP}")),
        })
    }
}

/// A `+`-separated list of traits.
#[derive(Debug, Clone, PartialEq)]
pub struct Profile {
    /// The traits, applied in order.
    pub traits: Vec<Trait>,
}

impl FromStr for Profile {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let traits = s
            .split('+')
            .map(str::parse)
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Profile { traits })
    }
}

/// Where a profile applies: every site, one site, or one camera of one site.
#[derive(Debug, Clone, PartialEq)]
pub struct ProfileRule {
    /// 1-based site number; `None` for every site.
    pub site: Option<usize>,
    /// 1-based camera number; `None` for every camera.
    pub camera: Option<usize>,
    /// The profile.
    pub profile: Profile,
}

impl ProfileRule {
    /// Whether the rule covers this (1-based) site and camera.
    pub fn covers(&self, site: usize, camera: usize) -> bool {
        self.site.is_none_or(|s| s == site) && self.camera.is_none_or(|c| c == camera)
    }
}

impl FromStr for ProfileRule {
    type Err = String;

    /// `PROFILE`, `SITE=PROFILE` or `SITE/CAMERA=PROFILE`.
    fn from_str(s: &str) -> Result<Self, String> {
        // A leading "N=" or "N/M=" is a scope; "rounded=0.5" is not (not a number before '=').
        let scope = s.split_once('=').filter(|(head, _)| {
            !head.is_empty() && head.chars().all(|c| c.is_ascii_digit() || c == '/')
        });
        let (site, camera, profile) = match scope {
            Some((head, profile)) => {
                let number = |t: &str| {
                    t.parse::<usize>()
                        .ok()
                        .filter(|n| *n >= 1)
                        .ok_or_else(|| format!("profile scope {head:?}: numbers start at 1"))
                };
                match head.split_once('/') {
                    Some((site, camera)) => (Some(number(site)?), Some(number(camera)?), profile),
                    None => (Some(number(head)?), None, profile),
                }
            }
            None => (None, None, s),
        };
        Ok(ProfileRule {
            site,
            camera,
            profile: profile.parse()?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules_parse_with_scope_and_values() {
        let rule: ProfileRule = "2/3=vms+rounded=0.05+skewed".parse().expect("valid");
        assert_eq!(rule.site, Some(2));
        assert_eq!(rule.camera, Some(3));
        let mut q = Quirks::default();
        q.apply(&rule.profile);
        assert_eq!(q.tokens, TokenStyle::Guid);
        assert_eq!(q.position_step, Some(0.05));
        assert_eq!(q.clock_offset_s, 7200);
        assert!(rule.covers(2, 3) && !rule.covers(2, 4) && !rule.covers(1, 3));
        let unscoped: ProfileRule = "rounded=0.5".parse().expect("valid");
        assert_eq!(unscoped.site, None);
    }

    #[test]
    fn bad_profiles_say_what_is_known() {
        let err = "banana".parse::<ProfileRule>().err().unwrap_or_default();
        assert!(err.contains("known:"), "{err}");
        assert!("0=vms".parse::<ProfileRule>().is_err());
        assert!("limited=0".parse::<ProfileRule>().is_err());
        assert!("rounded=-1".parse::<ProfileRule>().is_err());
        let err = "hostile=rude"
            .parse::<ProfileRule>()
            .err()
            .unwrap_or_default();
        assert!(err.contains("malformed, truncated"), "{err}");
    }

    #[test]
    fn hostile_kinds_parse_and_default_to_mixed() {
        let rule: ProfileRule = "2/3=vms+hostile".parse().expect("valid");
        let mut q = Quirks::default();
        q.apply(&rule.profile);
        assert_eq!(q.hostile, Some(Hostility::Mixed));
        assert_eq!(q.profile_name(), "vms+hostile=mixed");
        for kind in Hostility::KINDS {
            let rule: ProfileRule = format!("hostile={}", kind.name()).parse().expect("valid");
            assert_eq!(rule.profile.traits, vec![Trait::Hostile(kind)]);
        }
        assert_eq!(Quirks::default().hostile, None);
    }

    #[test]
    fn empty_slots_and_commands_parse_and_print_back() {
        let rule: ProfileRule = "1=camera+empty=250+commands=33,95".parse().expect("valid");
        let mut q = Quirks::default();
        q.apply(&rule.profile);
        assert_eq!(q.empty_slots, 250);
        assert_eq!(q.commands, vec![33, 95]);
        assert!(q.is_command("95") && !q.is_command("095") && !q.is_command("34"));
        assert_eq!(q.profile_name(), "camera+empty=250+commands=33,95");
        let default: Profile = "commands".parse().expect("valid");
        assert_eq!(
            default.traits,
            vec![Trait::Commands(DEFAULT_COMMANDS.to_vec())]
        );
        assert!("commands=33,x".parse::<Profile>().is_err());
        assert!("empty=0".parse::<Profile>().is_err());
    }
}
