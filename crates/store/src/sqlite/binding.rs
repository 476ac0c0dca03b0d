//! What bindings learned about their devices: [`BindingStore`] on SQLite.

use rusqlite::params;
use tandem_core::{CameraId, SiteId};

use super::{SqliteStore, require_camera};
use crate::binding::{BindingLearned, BindingStore, LearnedChange, check_learned_changes};
use crate::error::{Context, StoreError};

impl BindingStore for SqliteStore {
    fn learned_bindings(&self) -> Result<Vec<BindingLearned>, StoreError> {
        let conn = self.conn();
        conn.prepare_cached(
            "select camera_id, site_id, clock_offset_ms, auth_mode, service_addresses, \
             profile_token from binding_state \
             where clock_offset_ms is not null or auth_mode is not null \
               or service_addresses is not null or profile_token is not null \
             order by camera_id, site_id",
        )
        .and_then(|mut s| {
            s.query_map([], |r| {
                Ok(BindingLearned {
                    camera: CameraId(r.get(0)?),
                    site: SiteId(r.get(1)?),
                    clock_offset_ms: r.get(2)?,
                    auth_mode: r.get(3)?,
                    services: r.get(4)?,
                    profile: r.get(5)?,
                })
            })?
            .collect()
        })
        .context("reading what bindings learned")
    }

    fn save_learned_batch(&self, changes: &[LearnedChange]) -> Result<(), StoreError> {
        check_learned_changes(changes)?;
        if changes.is_empty() {
            return Ok(());
        }
        // A cache of what the device tells again: a power loss may lose it.
        self.write_volatile("saving what bindings learned", |tx, _| {
            for change in changes {
                match change {
                    LearnedChange::Learned(learned) => {
                        require_camera(tx, &learned.camera)?;
                        tx.prepare_cached(
                            "insert into binding_state \
                               (camera_id, site_id, clock_offset_ms, auth_mode, service_addresses) \
                             values (?1, ?2, ?3, ?4, ?5) \
                             on conflict (camera_id, site_id) do update set \
                               clock_offset_ms = excluded.clock_offset_ms, \
                               auth_mode = excluded.auth_mode, \
                               service_addresses = excluded.service_addresses",
                        )
                        .and_then(|mut s| {
                            s.execute(params![
                                learned.camera.as_str(),
                                learned.site.as_str(),
                                learned.clock_offset_ms,
                                learned.auth_mode,
                                learned.services
                            ])
                        })
                        .context("saving what a binding learned")?;
                    }
                    LearnedChange::Profile {
                        camera,
                        site,
                        profile,
                    } => {
                        require_camera(tx, camera)?;
                        tx.prepare_cached(
                            "insert into binding_state (camera_id, site_id, profile_token) \
                             values (?1, ?2, ?3) \
                             on conflict (camera_id, site_id) do update set \
                               profile_token = excluded.profile_token",
                        )
                        .and_then(|mut s| {
                            s.execute(params![camera.as_str(), site.as_str(), profile])
                        })
                        .context("saving a binding's profile")?;
                    }
                }
            }
            Ok(())
        })
    }
}
