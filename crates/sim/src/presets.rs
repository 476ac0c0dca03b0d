//! One site's preset table for one camera, with the site's quirks: how tokens
//! are chosen, which names are accepted, when the table is full.

use tandem_onvif::types::{Preset, PtzVector};

use crate::device::DeviceFault;
use crate::motion::Axes;
use crate::quirks::{Quirks, TokenStyle};

/// Longest preset name ONVIF devices accept, in characters.
pub const MAX_NAME_CHARS: usize = 64;

/// One stored preset.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Entry {
    /// The site's token.
    pub token: String,
    /// The name as stored (`None` on nameless devices or unnamed presets).
    pub name: Option<String>,
    /// The exact stored position; `None` for an unused fixed slot.
    pub position: Option<Axes>,
}

/// The presets of one camera on one site, in token order of creation.
#[derive(Debug, Clone, Default)]
pub struct PresetTable {
    entries: Vec<Entry>,
}

impl PresetTable {
    /// An empty table, or the fixed slots a fixed-slot device always has.
    pub fn new(quirks: &Quirks) -> Self {
        let entries = match quirks.fixed_slots {
            Some(n) => (1..=n).map(fixed_slot).collect(),
            None => Vec::new(),
        };
        PresetTable { entries }
    }

    /// All entries, exact.
    pub fn entries(&self) -> &[Entry] {
        &self.entries
    }

    /// The entry with this token.
    pub fn get(&self, token: &str) -> Option<&Entry> {
        self.entries.iter().find(|e| e.token == token)
    }

    /// What `GetPresets` reports: rounded positions, no names on nameless
    /// devices, then the unused slots an `empty=N` device lists.
    pub fn report(&self, quirks: &Quirks) -> Vec<Preset> {
        let presets = self.entries.iter().map(|e| Preset {
            token: e.token.clone(),
            name: if quirks.nameless {
                None
            } else {
                e.name.clone()
            },
            position: e.position.map(|p| {
                let p = round(p, quirks.position_step);
                PtzVector::new(p[0], p[1], p[2])
            }),
        });
        let empty = self.empty_slots(quirks).into_iter().map(|n| Preset {
            token: n.to_string(),
            name: None,
            position: None,
        });
        presets.chain(empty).collect()
    }

    /// The unused slots an `empty=N` device lists: the lowest N numbers that
    /// hold no preset (fixed-slot devices list their own slots instead).
    pub fn empty_slots(&self, quirks: &Quirks) -> Vec<u32> {
        if quirks.fixed_slots.is_some() {
            return Vec::new();
        }
        (1..=quirks.max_presets)
            .filter(|n| self.get(&n.to_string()).is_none())
            .take(quirks.empty_slots as usize)
            .collect()
    }

    /// `SetPreset`: stores `position` under `token` (or a new one) and returns the token.
    pub fn set(
        &mut self,
        quirks: &Quirks,
        name: Option<&str>,
        token: Option<&str>,
        position: Axes,
    ) -> Result<String, DeviceFault> {
        if let Some(name) = name {
            check_name(name, quirks.max_name_chars)?;
        }
        // A device that keeps no names ignores them; so does a fixed slot device with no name given.
        let name = if quirks.nameless {
            None
        } else {
            name.map(str::to_string)
        };
        let index = match token {
            Some(token) => match self.entries.iter().position(|e| e.token == token) {
                Some(i) => i,
                None => self.create_with_token(quirks, token)?,
            },
            None => self.create(quirks)?,
        };
        if let Some(name) = &name
            && self
                .entries
                .iter()
                .enumerate()
                .any(|(i, e)| i != index && e.name.as_deref() == Some(name))
        {
            self.forget_unused(index, quirks);
            return Err(DeviceFault::preset_exist(name));
        }
        let entry = &mut self.entries[index];
        entry.position = Some(position);
        if name.is_some() || quirks.nameless {
            entry.name = name;
        }
        Ok(entry.token.clone())
    }

    /// Undoes a just-created entry when the rest of `SetPreset` failed.
    fn forget_unused(&mut self, index: usize, quirks: &Quirks) {
        if quirks.fixed_slots.is_none() && self.entries[index].position.is_none() {
            self.entries.remove(index);
        }
    }

    fn create(&mut self, quirks: &Quirks) -> Result<usize, DeviceFault> {
        if let Some(slot) = quirks
            .fixed_slots
            .and(self.entries.iter().position(|e| e.position.is_none()))
        {
            return Ok(slot);
        }
        if quirks.fixed_slots.is_some() || self.entries.len() >= quirks.max_presets as usize {
            return Err(DeviceFault::too_many_presets(quirks.capacity()));
        }
        let token = match quirks.tokens {
            TokenStyle::Numeric => (1..=quirks.max_presets)
                .map(|n| n.to_string())
                .find(|t| self.get(t).is_none())
                .ok_or_else(|| DeviceFault::too_many_presets(quirks.capacity()))?,
            TokenStyle::Guid => uuid::Uuid::new_v4().to_string(),
        };
        self.entries.push(Entry {
            token,
            name: None,
            position: None,
        });
        Ok(self.entries.len() - 1)
    }

    fn create_with_token(&mut self, quirks: &Quirks, token: &str) -> Result<usize, DeviceFault> {
        if quirks.tokens != TokenStyle::Numeric || quirks.fixed_slots.is_some() {
            return Err(DeviceFault::no_token(token));
        }
        // A full table says so first: more useful than "no such slot".
        if self.entries.len() >= quirks.max_presets as usize {
            return Err(DeviceFault::too_many_presets(quirks.capacity()));
        }
        if !token
            .parse::<u32>()
            .is_ok_and(|n| (1..=quirks.max_presets).contains(&n))
        {
            return Err(DeviceFault::no_token(token));
        }
        self.entries.push(Entry {
            token: token.to_string(),
            name: None,
            position: None,
        });
        Ok(self.entries.len() - 1)
    }

    /// `RemovePreset`; a fixed slot goes back to its factory state.
    pub fn remove(&mut self, quirks: &Quirks, token: &str) -> Result<(), DeviceFault> {
        let index = self
            .entries
            .iter()
            .position(|e| e.token == token)
            .ok_or_else(|| DeviceFault::no_token(token))?;
        if quirks.fixed_slots.is_some() {
            let number = token.parse().unwrap_or(0);
            self.entries[index] = fixed_slot(number);
        } else {
            self.entries.remove(index);
        }
        Ok(())
    }
}

fn fixed_slot(n: u32) -> Entry {
    Entry {
        token: n.to_string(),
        name: Some(format!("Preset{n}")),
        position: None,
    }
}

/// Validates a preset name as devices do.
fn check_name(name: &str, max_chars: usize) -> Result<(), DeviceFault> {
    let max_chars = max_chars.min(MAX_NAME_CHARS);
    if name.chars().count() > max_chars {
        return Err(DeviceFault::invalid_name(&format!(
            "name longer than {max_chars} characters"
        )));
    }
    if name.chars().any(char::is_control) {
        return Err(DeviceFault::invalid_name(
            "name contains control characters",
        ));
    }
    Ok(())
}

/// Rounds each axis to `step`, as devices that store coarse positions report them.
pub fn round(p: Axes, step: Option<f64>) -> Axes {
    match step {
        Some(step) => p.map(|v| {
            let r = (v / step).round() * step;
            // Print-stable: drop floating noise such as 0.30000000000000004.
            (r * 1e9).round() / 1e9
        }),
        None => p,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::quirks::Profile;

    fn quirks(profile: &str) -> Quirks {
        let mut q = Quirks::default();
        q.apply(&profile.parse::<Profile>().expect("valid profile"));
        q
    }

    #[test]
    fn numeric_devices_create_the_named_slot_or_the_lowest_free() {
        let q = quirks("camera");
        let mut t = PresetTable::new(&q);
        assert_eq!(t.set(&q, Some("Gate"), Some("5"), [0.1; 3]), Ok("5".into()));
        assert_eq!(t.set(&q, Some("Dock"), None, [0.2; 3]), Ok("1".into()));
        assert_eq!(t.set(&q, None, Some("5"), [0.3; 3]), Ok("5".into()));
        assert_eq!(
            t.get("5").and_then(|e| e.name.clone()),
            Some("Gate".into()),
            "name kept when not given"
        );
        assert!(
            t.set(&q, None, Some("abc"), [0.0; 3])
                .is_err_and(|f| f.is("NoToken"))
        );
    }

    #[test]
    fn guid_devices_refuse_unknown_tokens() {
        let q = quirks("vms");
        let mut t = PresetTable::new(&q);
        let token = t.set(&q, Some("Gate"), None, [0.1; 3]).expect("created");
        assert_eq!(token.len(), 36);
        assert!(
            t.set(&q, Some("x"), Some("1"), [0.0; 3])
                .is_err_and(|f| f.is("NoToken"))
        );
        assert_eq!(t.entries().len(), 1);
    }

    #[test]
    fn fixed_slots_are_always_listed_and_reset_on_remove() {
        let q = quirks("fixed8");
        let mut t = PresetTable::new(&q);
        assert_eq!(t.report(&q).len(), 8);
        assert_eq!(t.set(&q, Some("Gate"), None, [0.1; 3]), Ok("1".into()));
        t.remove(&q, "1").expect("removed");
        assert_eq!(
            t.get("1").and_then(|e| e.name.clone()),
            Some("Preset1".into())
        );
        assert_eq!(t.report(&q).len(), 8);
        assert!(
            t.set(&q, None, Some("9"), [0.0; 3])
                .is_err_and(|f| f.is("NoToken"))
        );
    }

    #[test]
    fn limits_names_and_duplicates_fault_without_changing_the_table() {
        let q = quirks("limited=2");
        let mut t = PresetTable::new(&q);
        t.set(&q, Some("A"), None, [0.0; 3]).expect("first");
        assert!(
            t.set(&q, Some("A"), None, [0.0; 3])
                .is_err_and(|f| f.is("PresetExist"))
        );
        assert_eq!(t.entries().len(), 1);
        assert!(
            t.set(&q, Some(&"x".repeat(65)), None, [0.0; 3])
                .is_err_and(|f| f.is("InvalidPresetName"))
        );
        assert!(
            t.set(&q, Some("tab\there"), None, [0.0; 3])
                .is_err_and(|f| f.is("InvalidPresetName"))
        );
        t.set(&q, Some("B"), None, [0.0; 3]).expect("second");
        assert!(
            t.set(&q, Some("C"), None, [0.0; 3])
                .is_err_and(|f| f.is("TooManyPresets"))
        );
        assert_eq!(t.entries().len(), 2);
    }

    #[test]
    fn reports_are_rounded_and_nameless_as_configured() {
        let q = quirks("rounded=0.01+nameless");
        let mut t = PresetTable::new(&q);
        t.set(&q, Some("Gate"), None, [0.123_456, -0.5, 0.999])
            .expect("set");
        let report = t.report(&q);
        assert_eq!(report[0].name, None);
        assert_eq!(report[0].position, Some(PtzVector::new(0.12, -0.5, 1.0)));
    }

    #[test]
    fn empty_slots_are_listed_around_presets_and_filled_by_set_preset() {
        let q = quirks("camera+empty=250");
        let mut t = PresetTable::new(&q);
        t.set(&q, Some("Gate"), Some("2"), [0.1; 3]).expect("set");
        let report = t.report(&q);
        assert_eq!(report.len(), 251);
        let empty: Vec<&Preset> = report.iter().filter(|p| p.token != "2").collect();
        assert!(
            empty
                .iter()
                .all(|p| p.name.is_none() && p.position.is_none())
        );
        assert_eq!(empty[0].token, "1");
        assert_eq!(empty[249].token, "251");
        // Writing into a listed slot fills it; the list moves on.
        t.set(&q, Some("Dock"), Some("1"), [0.2; 3])
            .expect("filled");
        assert_eq!(t.report(&q).len(), 252);
        assert_eq!(t.empty_slots(&q).first(), Some(&3));
    }
}
