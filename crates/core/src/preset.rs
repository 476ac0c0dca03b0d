//! Presets as tandem knows them: a number (what keyboards recall), a name and
//! a position in ONVIF's generic spaces.

use std::fmt;

/// Longest preset name, in characters (ONVIF's limit on names).
pub const MAX_NAME_CHARS: usize = 64;
/// Highest preset number tandem accepts.
pub const MAX_NUMBER: u32 = 9_999;

/// Input that breaks a domain rule; the message says which and how to fix it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct InvalidInput(pub String);

/// How a site names one camera's presets (DESIGN.md, "Number ↔ token").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TokenStyle {
    /// The token is the preset number ("1", "2"...): the number is the token.
    Numeric,
    /// Tokens are opaque (GUIDs): tandem keeps the number-to-token map.
    Opaque,
}

impl TokenStyle {
    /// The style these tokens show: numeric when every one of them is a
    /// number ([`PresetNumber::from_token`]); `None` when there are none.
    pub fn of<'a>(tokens: impl IntoIterator<Item = &'a str>) -> Option<TokenStyle> {
        let mut style = None;
        for token in tokens {
            if PresetNumber::from_token(token).is_none() {
                return Some(TokenStyle::Opaque);
            }
            style = Some(TokenStyle::Numeric);
        }
        style
    }

    /// The spelling stored and shown (`numeric`, `opaque`).
    pub fn as_str(self) -> &'static str {
        match self {
            TokenStyle::Numeric => "numeric",
            TokenStyle::Opaque => "opaque",
        }
    }

    /// Parses [`TokenStyle::as_str`]'s spelling.
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "numeric" => Some(TokenStyle::Numeric),
            "opaque" => Some(TokenStyle::Opaque),
            _ => None,
        }
    }
}

impl std::fmt::Display for TokenStyle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A preset number: 1 to [`MAX_NUMBER`].
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
#[serde(try_from = "u32", into = "u32")]
pub struct PresetNumber(u32);

impl PresetNumber {
    /// Checks the range.
    pub fn new(n: u32) -> Result<Self, InvalidInput> {
        if (1..=MAX_NUMBER).contains(&n) {
            Ok(PresetNumber(n))
        } else {
            Err(InvalidInput(format!(
                "preset number {n} is outside 1 to {MAX_NUMBER}"
            )))
        }
    }

    /// The number.
    pub fn get(self) -> u32 {
        self.0
    }

    /// The number as a numeric-token site spells its token.
    pub fn token(self) -> String {
        self.0.to_string()
    }

    /// The number a numeric token stands for, if it is one: the one rule for
    /// "numeric" everywhere in tandem. Only the canonical spelling counts
    /// ("7", not "07", "+7" or " 7"): a device that writes another spelling
    /// names a different slot than [`PresetNumber::token`] would.
    pub fn from_token(token: &str) -> Option<Self> {
        if token.is_empty() || !token.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let n: u32 = token.parse().ok()?;
        let number = PresetNumber::new(n).ok()?;
        (number.token() == token).then_some(number)
    }

    /// The lowest number not in `taken`.
    pub fn lowest_free(taken: impl IntoIterator<Item = PresetNumber>) -> Option<Self> {
        let mut taken: Vec<u32> = taken.into_iter().map(|n| n.0).collect();
        taken.sort_unstable();
        taken.dedup();
        let mut candidate = 1;
        for n in taken {
            if n == candidate {
                candidate += 1;
            } else if n > candidate {
                break;
            }
        }
        PresetNumber::new(candidate).ok()
    }
}

impl TryFrom<u32> for PresetNumber {
    type Error = InvalidInput;
    fn try_from(n: u32) -> Result<Self, InvalidInput> {
        PresetNumber::new(n)
    }
}

impl From<PresetNumber> for u32 {
    fn from(n: PresetNumber) -> u32 {
        n.0
    }
}

impl fmt::Display for PresetNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Padding, so tables can align numbers.
        f.pad(&self.0.to_string())
    }
}

/// A valid preset name: not empty, at most [`MAX_NAME_CHARS`] characters, no control characters.
#[derive(
    Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
#[serde(try_from = "String", into = "String")]
pub struct PresetName(String);

impl PresetName {
    /// Checks the rules; surrounding whitespace is kept, as the operator typed it.
    pub fn new(name: impl Into<String>) -> Result<Self, InvalidInput> {
        let name = name.into();
        if name.trim().is_empty() {
            return Err(InvalidInput("preset name is empty".into()));
        }
        let chars = name.chars().count();
        if chars > MAX_NAME_CHARS {
            return Err(InvalidInput(format!(
                "preset name has {chars} characters; the most is {MAX_NAME_CHARS}"
            )));
        }
        if name.chars().any(char::is_control) {
            return Err(InvalidInput(
                "preset name contains control characters".into(),
            ));
        }
        Ok(PresetName(name))
    }

    /// The name.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The stricter rule for a name a person gives (adding or renaming a
    /// preset): no invisible or direction-changing characters (zero-width,
    /// bidi overrides; [`crate::text::is_invisible`]), which would make two
    /// names that look alike differ, or one display as another. Not applied
    /// to names read from a site or the store, which tandem keeps as found.
    pub fn check_given(&self) -> Result<(), InvalidInput> {
        if self.0.chars().any(crate::text::is_invisible) {
            return Err(InvalidInput(
                "preset name contains invisible or direction-changing characters \
                 (zero-width, bidi override); retype it"
                    .into(),
            ));
        }
        Ok(())
    }
}

impl TryFrom<String> for PresetName {
    type Error = InvalidInput;
    fn try_from(s: String) -> Result<Self, InvalidInput> {
        PresetName::new(s)
    }
}

impl From<PresetName> for String {
    fn from(n: PresetName) -> String {
        n.0
    }
}

impl fmt::Display for PresetName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(&self.0)
    }
}

/// Pan and tilt in [-1, 1], zoom in [0, 1]: ONVIF's generic spaces.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Position {
    /// Pan.
    pub pan: f64,
    /// Tilt.
    pub tilt: f64,
    /// Zoom.
    pub zoom: f64,
}

impl Position {
    /// Checks every axis is finite and in range.
    pub fn new(pan: f64, tilt: f64, zoom: f64) -> Result<Self, InvalidInput> {
        let p = Position { pan, tilt, zoom };
        p.validate()?;
        Ok(p)
    }

    /// Checks every axis is finite and in range.
    pub fn validate(&self) -> Result<(), InvalidInput> {
        let ok = |v: f64, lo: f64| v.is_finite() && (lo..=1.0).contains(&v);
        if ok(self.pan, -1.0) && ok(self.tilt, -1.0) && ok(self.zoom, 0.0) {
            Ok(())
        } else {
            Err(InvalidInput(format!(
                "position pan {}, tilt {}, zoom {} is outside pan/tilt [-1, 1], zoom [0, 1]",
                self.pan, self.tilt, self.zoom
            )))
        }
    }

    /// True when every axis is within `tolerance` of `other`'s.
    pub fn within(&self, other: &Position, tolerance: f64) -> bool {
        (self.pan - other.pan).abs() <= tolerance
            && (self.tilt - other.tilt).abs() <= tolerance
            && (self.zoom - other.zoom).abs() <= tolerance
    }
}

/// A preset as tandem keeps it for a camera: what both sites should hold.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Preset {
    /// The number.
    pub number: PresetNumber,
    /// The name.
    pub name: PresetName,
    /// The position; `None` when it was never known (taken over from a device that does not report it).
    pub position: Option<Position>,
    /// Only roles allowed to manage locked presets may change or delete it.
    #[serde(default)]
    pub locked: bool,
    /// The camera's default (home) preset; at most one per camera.
    #[serde(default)]
    pub is_default: bool,
}

/// A preset as one site reports it, with its number resolved (from a numeric
/// token or tandem's token map) when it can be.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct SitePreset {
    /// The site's token.
    pub token: String,
    /// The number, when known.
    pub number: Option<PresetNumber>,
    /// The name as reported (devices may report none).
    pub name: Option<String>,
    /// The position as reported (devices may report none).
    pub position: Option<Position>,
}

impl SitePreset {
    /// True when this is an empty slot rather than a preset ([`is_empty_slot`]).
    pub fn is_empty_slot(&self) -> bool {
        is_empty_slot(&self.token, self.name.as_deref(), self.position.is_some())
    }
}

/// The one rule for "a slot the device lists that holds no preset" (DESIGN.md,
/// "Empty slots and command presets are not presets"): no position, and no
/// name (absent, empty or whitespace) or the device's own placeholder for
/// that slot (`Preset7`, `Preset 7`, `preset_7` for token `7`, as fixed-slot
/// devices list unused slots). Such slots are never imported, numbered
/// around, compared or removed; writing a preset into one is fine.
///
/// A preset the device reports without a position but with a real name stays
/// a preset (some bridges never report positions), and so does a nameless
/// preset with a position (devices that keep no names).
pub fn is_empty_slot(token: &str, name: Option<&str>, has_position: bool) -> bool {
    if has_position {
        return false;
    }
    let Some(name) = name.map(str::trim).filter(|n| !n.is_empty()) else {
        return true;
    };
    is_placeholder(name, token)
}

/// `Preset` + an optional space or underscore + the slot's own numeric token,
/// ASCII case ignored: the name fixed-slot devices give an unused slot. A
/// name with another number (`Preset 3` in slot 4) is a name someone chose.
fn is_placeholder(name: &str, token: &str) -> bool {
    const WORD: &str = "preset";
    if PresetNumber::from_token(token).is_none() {
        return false;
    }
    // `get`, not `split_at`: a name may have a multi-byte character there.
    let (Some(word), Some(rest)) = (name.get(..WORD.len()), name.get(WORD.len()..)) else {
        return false;
    };
    if !word.eq_ignore_ascii_case(WORD) {
        return false;
    }
    let rest = rest
        .strip_prefix(' ')
        .or_else(|| rest.strip_prefix('_'))
        .unwrap_or(rest);
    rest == token
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_checked() {
        assert!(PresetName::new("Gate 3 é").is_ok());
        assert!(PresetName::new("  ").is_err());
        assert!(PresetName::new("a".repeat(65)).is_err());
        assert!(
            PresetName::new("é".repeat(64)).is_ok(),
            "characters, not bytes"
        );
        assert!(PresetName::new("tab\there").is_err());
    }

    #[test]
    fn a_given_preset_name_has_no_invisible_or_direction_changing_characters() {
        for ok in ["Gate 3 é", "Dock 🚚", "Tür\u{FE0F}"] {
            let name = PresetName::new(ok).expect("valid");
            assert!(name.check_given().is_ok(), "{ok}");
        }
        for bad in [
            "Gate\u{200B}",
            "\u{202E}etaG",
            "Do\u{2066}ck",
            "\u{FEFF}Gate",
        ] {
            let name = PresetName::new(bad).expect("kept as found on a site");
            let err = name.check_given().expect_err(bad);
            assert!(err.to_string().contains("invisible"), "{err}");
        }
    }

    #[test]
    fn numbers_and_positions_are_checked() {
        assert!(PresetNumber::new(0).is_err());
        assert!(PresetNumber::new(MAX_NUMBER + 1).is_err());
        assert_eq!(PresetNumber::from_token("7"), PresetNumber::new(7).ok());
        // One rule for "numeric": only the spelling `token()` writes.
        for other in [" 7 ", "07", "+7", "7.0", "0", "10000", ""] {
            assert_eq!(PresetNumber::from_token(other), None, "{other:?}");
        }
        assert_eq!(PresetNumber::from_token("3f2a-guid"), None);
        assert!(Position::new(1.0, -1.0, 0.0).is_ok());
        assert!(Position::new(f64::NAN, 0.0, 0.0).is_err());
        assert!(Position::new(0.0, 0.0, -0.1).is_err());
    }

    #[test]
    fn empty_slots_have_no_position_and_no_name_of_their_own() {
        assert!(is_empty_slot("4", None, false));
        assert!(is_empty_slot("4", Some(""), false));
        assert!(is_empty_slot("4", Some("  "), false));
        assert!(is_empty_slot("guid-a", None, false), "any token style");
        for placeholder in ["Preset4", "Preset 4", "preset_4", "PRESET4"] {
            assert!(
                is_empty_slot("4", Some(placeholder), false),
                "{placeholder}"
            );
        }
        // A position, or a name someone chose, makes it a preset.
        assert!(
            !is_empty_slot("4", None, true),
            "a nameless device's preset"
        );
        assert!(!is_empty_slot("4", Some("Preset4"), true));
        assert!(
            !is_empty_slot("4", Some("Gate"), false),
            "a bridge without positions"
        );
        assert!(
            !is_empty_slot("4", Some("Preset 3"), false),
            "another slot's number"
        );
        assert!(!is_empty_slot("4", Some("Preset 4b"), false));
        assert!(!is_empty_slot("guid-a", Some("Preset guid-a"), false));
        assert!(
            !is_empty_slot("4", Some("Preseé4"), false),
            "no panic inside a character"
        );
        // Exactly the rule, through a site's report.
        let slot = SitePreset {
            token: "9".into(),
            number: PresetNumber::new(9).ok(),
            name: Some(" ".into()),
            position: None,
        };
        assert!(slot.is_empty_slot());
    }

    #[test]
    fn lowest_free_fills_gaps() {
        let n = |v: u32| PresetNumber::new(v).expect("valid");
        assert_eq!(PresetNumber::lowest_free([]), Some(n(1)));
        assert_eq!(PresetNumber::lowest_free([n(1), n(2), n(4)]), Some(n(3)));
        assert_eq!(PresetNumber::lowest_free([n(2), n(3)]), Some(n(1)));
        assert_eq!(
            PresetNumber::lowest_free([n(3), n(1), n(2), n(2)]),
            Some(n(4))
        );
    }
}
