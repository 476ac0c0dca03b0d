//! The site adapter boundary: everything the engine asks of one camera on one
//! site, whatever the site's kind. Scans, the journal's drain, repairs, live
//! control and site health ask an [`Adapter`]; only this module tells the
//! kinds apart, and each kind is one module beside it:
//!
//! - [`onvif`]: a camera or VMS bridge speaking ONVIF PTZ. Storing a preset
//!   turns the physical camera (a device stores where it points), under the
//!   camera's hold and lease.
//! - [`xprotect`]: Milestone XProtect's REST API. The VMS stores the
//!   coordinates, so nothing moves; what that API cannot do (continuous
//!   moves, stops, pictures) goes to the camera's own ONVIF service when the
//!   binding names one (`onvif_url`).
//!
//! Both list a camera's presets in the same shape (the site's token, name and
//! position), keep numbers in the same per-site token map, and follow the same
//! read-before-write rules (`crate::slot`).

pub(crate) mod onvif;
pub(crate) mod xprotect;

use tandem_core::Position;
use tandem_onvif::types::Preset as Listed;
use tandem_store::Store;

use crate::action::Action;
use crate::error::EngineError;
use crate::live::{CameraStatus, Command};
use crate::scan::Patrol;
use crate::sites::Binding;

pub(crate) use onvif::Hold;

/// One camera on one site, reached the way its site's kind needs.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Adapter<'a> {
    /// ONVIF to the camera (or to a VMS bridge).
    Onvif(&'a Binding),
    /// XProtect's REST API.
    Xprotect(&'a Binding),
}

impl Binding {
    /// How the engine reaches this camera on this site.
    pub(crate) fn adapter(&self) -> Adapter<'_> {
        if self.xprotect().is_some() {
            Adapter::Xprotect(self)
        } else {
            Adapter::Onvif(self)
        }
    }
}

impl Adapter<'_> {
    /// Whether storing a preset turns the physical camera. An ONVIF device
    /// stores where it points; XProtect stores the coordinates it is given.
    pub(crate) fn moves_camera(self) -> bool {
        matches!(self, Adapter::Onvif(_))
    }

    /// Whether an import gives the site's presets their numbers: XProtect
    /// presets have none of their own.
    pub(crate) fn numbered_on_import(self) -> bool {
        matches!(self, Adapter::Xprotect(_))
    }

    /// Whether one probe answers for the whole site: an XProtect site is one
    /// server, an ONVIF site as many devices as cameras.
    pub(crate) fn probes_the_site(self) -> bool {
        matches!(self, Adapter::Xprotect(_))
    }

    /// The camera's presets as the site lists them, read once (a scan does
    /// not keep the connection).
    pub(crate) async fn read_presets(self) -> Result<Vec<Listed>, EngineError> {
        match self {
            Adapter::Onvif(b) => onvif::read_once(b).await,
            Adapter::Xprotect(b) => xprotect::read(b).await,
        }
    }

    /// The camera's patrols, each with the presets it names. ONVIF has none
    /// that tandem reads (a device's tours are outside the PTZ service's
    /// presets).
    pub(crate) async fn patrols(self) -> Result<Vec<Patrol>, EngineError> {
        match self {
            Adapter::Onvif(_) => Ok(Vec::new()),
            Adapter::Xprotect(b) => xprotect::patrols(b).await,
        }
    }

    /// Where the camera points now.
    pub(crate) async fn position(self) -> Result<Position, EngineError> {
        match self {
            Adapter::Onvif(b) => onvif::position(b).await,
            Adapter::Xprotect(b) => xprotect::position(b).await,
        }
    }

    /// Applies one journaled action on this site; `Ok` means applied and
    /// read back. `hold` is used only where storing moves the camera.
    pub(crate) async fn apply(
        self,
        store: &dyn Store,
        action: &Action,
        tolerance: f64,
        hold: &Hold<'_>,
    ) -> Result<(), EngineError> {
        match self {
            Adapter::Onvif(b) => onvif::apply(store, b, action, tolerance, hold).await,
            Adapter::Xprotect(b) => xprotect::apply(store, b, action, tolerance).await,
        }
    }

    /// A live command; `token` is the site's token of the preset a recall
    /// names.
    pub(crate) async fn command(
        self,
        command: &Command,
        token: Option<&str>,
    ) -> Result<Option<CameraStatus>, EngineError> {
        match self {
            Adapter::Onvif(b) => onvif::command(b, command, token).await,
            // What XProtect's REST API cannot do goes to the camera's own
            // ONVIF service when the binding names it.
            Adapter::Xprotect(b)
                if b.xprotect().is_some_and(|x| x.onvif)
                    && matches!(command, Command::ContinuousMove { .. } | Command::Stop) =>
            {
                onvif::command(b, command, token).await
            }
            Adapter::Xprotect(b) => xprotect::command(b, command, token).await,
        }
    }

    /// The camera's current picture as JPEG. XProtect's REST API gives none:
    /// the camera's own ONVIF service does, when the binding names it.
    pub(crate) async fn snapshot(self) -> Result<Vec<u8>, EngineError> {
        match self {
            Adapter::Xprotect(b) if !b.xprotect().is_some_and(|x| x.onvif) => Err(b.refused(
                "XProtect's REST API gives no picture: set onvif_url in this binding \
                 (the camera's ONVIF address) for one",
            )),
            Adapter::Onvif(b) | Adapter::Xprotect(b) => b.onvif_snapshot().await,
        }
    }

    /// A health probe: does the site answer for this camera (for the whole
    /// site when [`Adapter::probes_the_site`])?
    pub(crate) async fn probe(self) -> Result<(), EngineError> {
        match self {
            Adapter::Onvif(b) => onvif::probe(b).await,
            Adapter::Xprotect(b) => xprotect::probe(b).await,
        }
    }
}
