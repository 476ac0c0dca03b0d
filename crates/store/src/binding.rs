//! What tandem learned about how it reaches each binding's device:
//! [`BindingStore`].

use tandem_core::{CameraId, SiteId};

use crate::error::StoreError;

/// What tandem learned about one binding's device (one camera on one site),
/// kept so that the next process starts from it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BindingLearned {
    /// The camera.
    pub camera: CameraId,
    /// The site.
    pub site: SiteId,
    /// The device's clock minus ours, in milliseconds; `None` until measured.
    pub clock_offset_ms: Option<i64>,
    /// The authentication the device accepted, spelled as the ONVIF layer
    /// spells it (`ws-security`, `http-digest`, `none`); the store checks the
    /// spelling and interprets nothing.
    pub auth_mode: Option<String>,
    /// Where the device's services are, as the engine spells them; the
    /// store interprets nothing. `None` until found.
    pub services: Option<String>,
    /// The media profile token found on the device (not the configured
    /// one); written by [`BindingStore::save_profile`], never by
    /// [`BindingStore::save_learned`].
    pub profile: Option<String>,
}

/// The device's clock offset and authentication mode per binding: the part of
/// the [`Store`](crate::Store) that lets a process skip what another already
/// learned. It is a cache of what the device will tell again: written
/// without an fsync of its own.
pub trait BindingStore {
    // --- What bindings learned ---------------------------------------------

    /// Every binding with something learned, sorted by camera and site.
    fn learned_bindings(&self) -> Result<Vec<BindingLearned>, StoreError>;

    /// Records what was learned of one binding, replacing its clock offset
    /// and authentication mode (its token style stays). Fails with
    /// [`StoreError::NotFound`] for an unknown camera and
    /// [`StoreError::Invalid`] for an unknown authentication mode.
    fn save_learned(&self, learned: &BindingLearned) -> Result<(), StoreError> {
        self.save_learned_batch(&[LearnedChange::Learned(learned.clone())])
    }

    /// Records the media profile token found on one binding's device, or
    /// forgets it (`None`). Fails with [`StoreError::NotFound`] for an
    /// unknown camera.
    fn save_profile(
        &self,
        camera: &CameraId,
        site: &SiteId,
        profile: Option<&str>,
    ) -> Result<(), StoreError> {
        self.save_learned_batch(&[LearnedChange::Profile {
            camera: camera.clone(),
            site: site.clone(),
            profile: profile.map(str::to_string),
        }])
    }

    /// Applies `changes` in order, in one transaction: all or none. A first
    /// scan learns several things of each of thousands of bindings; one
    /// transaction for each would cost more than the scan's reading.
    fn save_learned_batch(&self, changes: &[LearnedChange]) -> Result<(), StoreError>;
}

/// One change to what a binding learned, as [`BindingStore::save_learned_batch`] takes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LearnedChange {
    /// Its clock offset, authentication mode and service addresses, as
    /// [`BindingStore::save_learned`] records them.
    Learned(BindingLearned),
    /// Its found media profile, or `None` to forget it, as
    /// [`BindingStore::save_profile`] records it.
    Profile {
        /// The camera.
        camera: CameraId,
        /// The site.
        site: SiteId,
        /// The profile token, or `None`.
        profile: Option<String>,
    },
}

/// The spellings the schema's `auth_mode` check allows (see schema/v4.sql).
const AUTH_MODES: [&str; 3] = ["ws-security", "http-digest", "none"];

/// Fails with [`StoreError::Invalid`] when a change names an authentication
/// mode the schema does not allow: checked before writing anything, so that
/// the message says what is wrong rather than which check failed.
pub(crate) fn check_learned_changes(changes: &[LearnedChange]) -> Result<(), StoreError> {
    for change in changes {
        if let LearnedChange::Learned(BindingLearned {
            auth_mode: Some(mode),
            ..
        }) = change
            && !AUTH_MODES.contains(&mode.as_str())
        {
            return Err(StoreError::Invalid(format!(
                "authentication mode {mode:?} is not one of {}",
                AUTH_MODES.join(", ")
            )));
        }
    }
    Ok(())
}
