//! Everything the server and the CLI read, as engine methods: the store stays
//! behind the engine, and a read that needs a right checks it here, the same
//! for every adapter.

use tandem_core::access::{self, Permission, Principal};
use tandem_core::{AuditAction, CameraId, Preset, PresetNumber, SiteId};
use tandem_store::{AuditRecord, AuditVerification, Operation, StoredMismatch};

use crate::engine::Engine;
use crate::error::EngineError;

/// One camera as the camera list shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct CameraSummary {
    /// Its id.
    pub id: CameraId,
    /// Display name.
    pub name: String,
    /// Camera groups (role grants may be limited to groups).
    pub groups: Vec<String>,
    /// Canonical presets.
    pub presets: usize,
    /// Open mismatches as of the last scan.
    pub mismatches: usize,
    /// Operation parts still pending on some site.
    pub pending: u64,
    /// Its lens and ranges in degrees.
    pub optics: tandem_core::Optics,
}

/// Which audit entries to read.
#[derive(Debug, Clone, Default)]
pub struct AuditFilter {
    /// Only entries after this sequence number (page with the last one seen).
    pub after_seq: u64,
    /// Newest first, and only entries before this sequence number when
    /// given (page backwards with the last one seen); `after_seq` still
    /// bounds them from below.
    pub newest_first: Option<Option<u64>>,
    /// Only actions that start with this (`preset.` for every preset change).
    pub action_prefix: Option<String>,
    /// Only this actor's entries.
    pub actor: Option<String>,
    /// At most this many.
    pub limit: usize,
}

/// One site's number-to-token map for a camera, by number.
pub type SiteTokens = (SiteId, Vec<(PresetNumber, String)>);

/// How many entries a page of the audit log reads from the store at a time.
const AUDIT_PAGE: usize = 500;

impl Engine {
    /// Whether `who` may see `camera` at all (some permission on it): in
    /// lists, events, pictures, the journal and mismatches. False for an
    /// unknown camera.
    pub fn may_see(&self, who: &Principal, camera: &CameraId) -> bool {
        self.bindings()
            .camera(camera)
            .is_ok_and(|spec| who.may_see(&spec.groups))
    }

    /// Refuses unless `camera` exists (`UnknownCamera`) and `who` may see it
    /// (`Forbidden`).
    pub fn require_sight(&self, who: &Principal, camera: &CameraId) -> Result<(), EngineError> {
        let groups = &self.bindings().camera(camera)?.groups;
        if who.may_see(groups) {
            return Ok(());
        }
        Err(EngineError::Forbidden(format!(
            "{} may not see camera {camera}: no role grants any permission on it",
            who.user
        )))
    }

    /// The configured cameras `who` may see, in configuration order.
    pub fn visible_cameras(&self, who: &Principal) -> Vec<CameraId> {
        self.bindings()
            .camera_ids()
            .into_iter()
            .filter(|c| self.may_see(who, c))
            .collect()
    }

    /// Refuses unless `who` may read the camera's presets: `preset.recall`
    /// or `preset.manage` on it.
    fn require_preset_reader(&self, who: &Principal, camera: &CameraId) -> Result<(), EngineError> {
        let groups = &self.bindings().camera(camera)?.groups;
        if who.may(access::Action::RecallPreset, groups)
            || who.may(access::Action::EditPreset, groups)
        {
            return Ok(());
        }
        Err(EngineError::Forbidden(format!(
            "{} may not see the presets of camera {camera}: it needs preset.recall or \
             preset.manage",
            who.user
        )))
    }

    /// The camera's canonical presets, by number; `who` needs `preset.recall`
    /// or `preset.manage` on it.
    pub fn presets(&self, who: &Principal, camera: &CameraId) -> Result<Vec<Preset>, EngineError> {
        self.require_preset_reader(who, camera)?;
        Ok(self.store().presets(camera)?)
    }

    /// The picture of preset `number` on `site` (or on the first site, in
    /// priority order, that has one), taken where the preset points when an
    /// operation stored it there, and the site it is from.
    /// `who` needs what reading the camera's presets needs.
    pub fn preset_picture(
        &self,
        who: &Principal,
        camera: &CameraId,
        number: PresetNumber,
        site: Option<&SiteId>,
    ) -> Result<Option<(SiteId, tandem_store::PresetPicture)>, EngineError> {
        self.require_preset_reader(who, camera)?;
        let sites: Vec<SiteId> = match site {
            Some(s) => {
                self.bindings().get(camera, s)?;
                vec![s.clone()]
            }
            None => self
                .bindings()
                .sites()
                .iter()
                .map(|s| s.id.clone())
                .collect(),
        };
        for site in sites {
            if let Some(picture) = self.store().preset_picture(camera, &site, number)? {
                return Ok(Some((site, picture)));
            }
        }
        Ok(None)
    }

    /// Each site's number-to-token map for the camera, in site order; `who`
    /// needs what reading its presets needs.
    pub fn site_tokens(
        &self,
        who: &Principal,
        camera: &CameraId,
    ) -> Result<Vec<SiteTokens>, EngineError> {
        self.require_preset_reader(who, camera)?;
        self.bindings()
            .sites()
            .iter()
            .map(|s| Ok((s.id.clone(), self.store().site_tokens(camera, &s.id)?)))
            .collect()
    }

    /// The newest `limit` operations, of one camera or of every camera `who`
    /// may see, newest first. Asking for one camera `who` may not see is
    /// refused.
    pub fn operations(
        &self,
        who: &Principal,
        camera: Option<&CameraId>,
        limit: usize,
    ) -> Result<Vec<Operation>, EngineError> {
        if let Some(camera) = camera {
            self.require_sight(who, camera)?;
            return Ok(self.store().operations(Some(camera), limit)?);
        }
        if who.sees_all_cameras() {
            return Ok(self.store().operations(None, limit)?);
        }
        // Each visible camera's newest, merged: filtering the newest of all
        // cameras would answer fewer than `limit` while more exist.
        let mut ops = Vec::new();
        for camera in self.visible_cameras(who) {
            ops.extend(self.store().operations(Some(&camera), limit)?);
        }
        ops.sort_by_key(|o| std::cmp::Reverse(o.id.0));
        ops.truncate(limit);
        Ok(ops)
    }

    /// Open mismatches of one camera or of every camera `who` may see, as of
    /// the last scan, without those about a preset whose operation is
    /// pending now: the sites differ there until it is applied, and
    /// repairing it would undo it. Asking for one camera `who` may not see is
    /// refused.
    pub fn mismatches(
        &self,
        who: &Principal,
        camera: Option<&CameraId>,
    ) -> Result<Vec<StoredMismatch>, EngineError> {
        if let Some(camera) = camera {
            self.require_sight(who, camera)?;
        }
        let mut open = self.open_mismatches(camera)?;
        if !who.sees_all_cameras() {
            open.retain(|m| self.may_see(who, &m.camera));
        }
        Ok(open)
    }

    /// [`Engine::mismatches`] without a rights check.
    fn open_mismatches(
        &self,
        camera: Option<&CameraId>,
    ) -> Result<Vec<StoredMismatch>, EngineError> {
        let mut open = self.store().mismatches(camera)?;
        for (busy, _) in self.store().pending_by_camera()? {
            if camera.is_some_and(|c| *c != busy) {
                continue;
            }
            let work = self.pending_work(&busy)?;
            open.retain(|m| m.camera != busy || !work.covers(&m.mismatch));
        }
        Ok(open)
    }

    /// The configured cameras `who` may see, with their presets, open
    /// mismatches and pending parts.
    pub fn cameras(&self, who: &Principal) -> Result<Vec<CameraSummary>, EngineError> {
        let open = self.open_mismatches(None)?;
        let pending = self.store().pending_by_camera()?;
        self.visible_cameras(who)
            .into_iter()
            .map(|id| {
                let spec = self.bindings().camera(&id)?;
                Ok(CameraSummary {
                    optics: spec.optics,
                    name: spec.name.clone(),
                    groups: self.store().camera_groups(&id)?,
                    presets: self.store().presets(&id)?.len(),
                    mismatches: open.iter().filter(|m| m.camera == id).count(),
                    pending: pending
                        .iter()
                        .find(|(c, _)| *c == id)
                        .map_or(0, |(_, n)| *n),
                    id,
                })
            })
            .collect()
    }

    /// Parts pending over all cameras, and open mismatches, for `who`: these
    /// sum over every camera, so they need some permission on all cameras.
    pub fn gauges(&self, who: &Principal) -> Result<(u64, u64), EngineError> {
        if !who.sees_all_cameras() {
            return Err(EngineError::Forbidden(format!(
                "{} may not read the service's figures: they cover every camera, and no role \
                 grants a permission on all cameras",
                who.user
            )));
        }
        self.backlog()
    }

    /// Parts pending over all cameras, and open mismatches (readiness, the
    /// local CLI); [`Engine::gauges`] is the same for a user.
    pub fn backlog(&self) -> Result<(u64, u64), EngineError> {
        Ok((
            self.store().pending_count()?,
            self.store().mismatch_count()?,
        ))
    }

    /// Audit entries, oldest first or newest first (administrators).
    pub fn audit_log(
        &self,
        who: &Principal,
        filter: &AuditFilter,
    ) -> Result<Vec<AuditRecord>, EngineError> {
        require_admin(who, "read the audit log")?;
        self.audits_written();
        let mut entries = Vec::new();
        let mut after = filter.after_seq;
        let mut before = filter.newest_first.map(|b| b.unwrap_or(u64::MAX));
        while entries.len() < filter.limit {
            let page = match before {
                Some(b) => {
                    let mut page = self.store().audit_entries_before(b, AUDIT_PAGE)?;
                    page.retain(|e| e.seq > filter.after_seq);
                    page
                }
                None => self.store().audit_entries(after, AUDIT_PAGE)?,
            };
            let Some(last) = page.last() else { break };
            match &mut before {
                Some(b) => *b = last.seq,
                None => after = last.seq,
            }
            entries.extend(
                page.into_iter()
                    .filter(|e| {
                        filter
                            .action_prefix
                            .as_deref()
                            .is_none_or(|a| e.action.starts_with(a))
                    })
                    .filter(|e| filter.actor.as_deref().is_none_or(|a| e.actor == a)),
            );
        }
        entries.truncate(filter.limit);
        Ok(entries)
    }

    /// Checks the audit log's hash chain (administrators).
    pub fn verify_audit(&self, who: &Principal) -> Result<AuditVerification, EngineError> {
        require_admin(who, "verify the audit log")?;
        self.audits_written();
        Ok(self.store().verify_audit()?)
    }

    /// Records that `who` took a simulated site down or brought it up (`tandem demo`).
    pub fn record_outage(
        &self,
        who: &Principal,
        site: &str,
        down: bool,
    ) -> Result<(), EngineError> {
        require_admin(who, "take sites down")?;
        self.audit(
            &who.user,
            AuditAction::DemoOutage,
            None,
            None,
            Some(serde_json::json!({ "site": site, "down": down })),
        );
        Ok(())
    }
}

/// Refuses unless `who` holds the admin permission on all cameras.
pub(crate) fn require_admin(who: &Principal, to: &str) -> Result<(), EngineError> {
    if who.allows(Permission::Admin, &[]) {
        return Ok(());
    }
    Err(EngineError::Forbidden(format!(
        "{} may not {to}: it needs the admin permission on all cameras",
        who.user
    )))
}
