//! What bindings learned about their devices: [`BindingStore`] on PostgreSQL.

use tandem_core::{CameraId, SiteId};

use super::{PgStore, get, require_camera};
use crate::binding::{BindingLearned, BindingStore, LearnedChange, check_learned_changes};
use crate::error::{Context, StoreError};

impl BindingStore for PgStore {
    fn learned_bindings(&self) -> Result<Vec<BindingLearned>, StoreError> {
        const WHAT: &str = "reading what bindings learned";
        self.read(WHAT, |client| {
            // Sorted as SQLite sorts text, byte by byte, whatever the locale.
            client
                .query(
                    "select camera_id, site_id, clock_offset_ms, auth_mode, service_addresses, \
                     profile_token from binding_state \
                     where clock_offset_ms is not null or auth_mode is not null \
                       or service_addresses is not null or profile_token is not null \
                     order by camera_id collate \"C\", site_id collate \"C\"",
                    &[],
                )
                .context(WHAT)?
                .iter()
                .map(|r| {
                    Ok(BindingLearned {
                        camera: CameraId(get(r, 0, WHAT)?),
                        site: SiteId(get(r, 1, WHAT)?),
                        clock_offset_ms: get(r, 2, WHAT)?,
                        auth_mode: get(r, 3, WHAT)?,
                        services: get(r, 4, WHAT)?,
                        profile: get(r, 5, WHAT)?,
                    })
                })
                .collect()
        })
    }

    fn save_learned_batch(&self, changes: &[LearnedChange]) -> Result<(), StoreError> {
        check_learned_changes(changes)?;
        if changes.is_empty() {
            return Ok(());
        }
        // A cache of what the device tells again: a crash of the database may lose it.
        self.write_volatile("saving what bindings learned", |tx, _| {
            for change in changes {
                match change {
                    LearnedChange::Learned(learned) => {
                        require_camera(tx, &learned.camera)?;
                        tx.execute(
                            "insert into binding_state \
                               (camera_id, site_id, clock_offset_ms, auth_mode, service_addresses) \
                             values ($1, $2, $3, $4, $5) \
                             on conflict (camera_id, site_id) do update set \
                               clock_offset_ms = excluded.clock_offset_ms, \
                               auth_mode = excluded.auth_mode, \
                               service_addresses = excluded.service_addresses",
                            &[
                                &learned.camera.as_str(),
                                &learned.site.as_str(),
                                &learned.clock_offset_ms,
                                &learned.auth_mode,
                                &learned.services,
                            ],
                        )
                        .context("saving what a binding learned")?;
                    }
                    LearnedChange::Profile {
                        camera,
                        site,
                        profile,
                    } => {
                        require_camera(tx, camera)?;
                        tx.execute(
                            "insert into binding_state (camera_id, site_id, profile_token) \
                             values ($1, $2, $3) \
                             on conflict (camera_id, site_id) do update set \
                               profile_token = excluded.profile_token",
                            &[&camera.as_str(), &site.as_str(), profile],
                        )
                        .context("saving a binding's profile")?;
                    }
                }
            }
            Ok(())
        })
    }
}
