//! The site simulator: a world of simulated PTZ cameras exposed through
//! several ONVIF sites, as `tandem sim` runs it and as every test, benchmark
//! and demo uses it.
//!
//! - [`motion`]: the physical camera (finite speed, continuous moves, stop).
//! - [`world`]: cameras, sites, and per-site state (presets, home, faults).
//! - [`quirks`]: vendor quirk profiles per site or camera.
//! - [`presets`]: one site's preset table with its quirks.
//! - [`device`]: the ONVIF behaviour: request in, answer or fault out.
//! - [`endpoint`]: loopback HTTP (or HTTPS) per camera and site, with fault injection.
//! - [`hostile`]: the mangled answers of `hostile` cameras.
//! - [`control`]: the HTTP JSON control API.
//! - [`seed`]: seeding presets, including deliberate differences.
//! - [`snapshot`]: JPEG views of a synthetic panorama.
//! - [`xprotect`]: a simulated XProtect installation (REST API, presets in
//!   the VMS) over the same physical cameras.
//!
//! **Architecture invariant:** the simulator uses `tandem-onvif`'s message
//! types and envelopes, never its client, so that the client is tested against
//! an independent server loop and the two cannot share a transport bug.

pub mod control;
pub mod device;
mod endpoint;
pub mod hostile;
pub mod motion;
pub mod presets;
pub mod quirks;
pub mod seed;
pub mod snapshot;
pub mod world;
pub mod xprotect;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context as _;
use serde::Serialize;
use tandem_onvif::Credentials;
use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::quirks::{ProfileRule, Quirks};
use crate::world::{Faults, Site, World};

/// What to simulate.
#[derive(Debug, Clone)]
pub struct SimConfig {
    /// Number of sites (the first is the primary).
    pub sites: usize,
    /// Number of physical cameras, each exposed by every site.
    pub cameras: usize,
    /// Quirk profiles, applied in order.
    pub profiles: Vec<ProfileRule>,
    /// Device username on every site.
    pub username: String,
    /// Device password on every site.
    pub password: String,
    /// Standard presets seeded per camera on every site.
    pub seed_presets: u32,
    /// Whether the last site gets one deliberate difference of each kind.
    pub drift: bool,
    /// Presets from a TOML file, applied after the standard ones.
    pub seed_file: Option<PathBuf>,
    /// First port of the endpoints (site-major, camera-minor); `None` picks free ports.
    pub port_base: Option<u16>,
    /// Port of the control API; 0 picks a free one.
    pub control_port: u16,
    /// Sites (1-based) that are also served as an XProtect installation.
    pub xprotect: Vec<usize>,
    /// Whether an XProtect site's VMS starts with the presets seeded on its
    /// cameras (presets defined in the system), rather than with none.
    pub seed_vms: bool,
}

impl Default for SimConfig {
    fn default() -> Self {
        SimConfig {
            sites: 2,
            cameras: 8,
            profiles: Vec::new(),
            username: "admin".into(),
            password: "tandem".into(),
            seed_presets: 0,
            drift: false,
            seed_file: None,
            port_base: None,
            control_port: 0,
            xprotect: Vec::new(),
            seed_vms: false,
        }
    }
}

/// One camera endpoint of one site, as `tandem sim` prints it.
#[derive(Debug, Clone, Serialize)]
pub struct Endpoint {
    /// 1-based site number.
    pub site: usize,
    /// Site name.
    pub site_name: String,
    /// 1-based camera number.
    pub camera: usize,
    /// The device service URL.
    pub device_url: String,
    /// Device username.
    pub username: String,
    /// Device password.
    pub password: String,
    /// The quirk profile.
    pub profile: String,
}

/// A running simulator. Dropping it (or [`Simulator::shutdown`]) stops every endpoint.
#[derive(Debug)]
pub struct Simulator {
    world: Arc<World>,
    sites: Vec<Arc<Site>>,
    control_url: String,
    shutdown: watch::Sender<bool>,
    xprotect: Vec<(usize, Arc<xprotect::XpSite>)>,
}

impl Simulator {
    /// Binds every endpoint and the control API on loopback, seeds presets and
    /// starts serving.
    pub async fn start(config: SimConfig) -> anyhow::Result<Arc<Simulator>> {
        Self::start_with(config, None).await
    }

    /// [`Simulator::start`] with every ONVIF endpoint over HTTPS, presenting
    /// the PEM certificate chain `cert_pem` with its PEM private key
    /// `key_pem` (the addresses given out say `https://`). The control API
    /// and XProtect sites stay on HTTP.
    pub async fn start_https(
        config: SimConfig,
        cert_pem: &[u8],
        key_pem: &[u8],
    ) -> anyhow::Result<Arc<Simulator>> {
        let acceptor = tls_acceptor(cert_pem, key_pem)?;
        Self::start_with(config, Some(acceptor)).await
    }

    async fn start_with(
        config: SimConfig,
        tls: Option<tokio_rustls::TlsAcceptor>,
    ) -> anyhow::Result<Arc<Simulator>> {
        anyhow::ensure!(config.sites >= 1, "at least one site is needed");
        anyhow::ensure!(config.cameras >= 1, "at least one camera is needed");
        // Thousands of listeners need thousands of descriptors.
        let _ = rlimit::increase_nofile_limit(u64::MAX);
        let world = Arc::new(World::new(config.cameras));
        let mut seeds = seed::standard(config.seed_presets);
        if let Some(path) = &config.seed_file {
            seeds.extend(seed::load(path)?);
        }
        let (shutdown, shutdown_rx) = watch::channel(false);
        let mut sites = Vec::with_capacity(config.sites);
        let mut listeners = Vec::new();
        let mut ports = PortPicker::new();
        // What each site was seeded with, for the VMS of an XProtect site.
        let mut seeded = Vec::new();
        for number in 1..=config.sites {
            let name = match number {
                1 => "primary".to_string(),
                2 => "secondary".to_string(),
                n => format!("site-{n}"),
            };
            let quirks = (1..=config.cameras)
                .map(|camera| {
                    let mut q = Quirks::default();
                    for rule in config.profiles.iter().filter(|r| r.covers(number, camera)) {
                        q.apply(&rule.profile);
                    }
                    q
                })
                .collect();
            let credentials = Credentials::new(config.username.clone(), config.password.clone());
            let site = Arc::new(Site::new(number, name, credentials, world.clone(), quirks));
            if tls.is_some() {
                site.use_https();
            }
            let mut site_seeds = seeds.clone();
            let mut removed = Vec::new();
            if config.drift && number == config.sites && config.sites > 1 {
                let (extra, gone) = seed::drift(number, config.seed_presets);
                site_seeds.extend(extra);
                removed = gone;
            }
            seed::apply(&site, &site_seeds, &removed)?;
            seeded.push((site_seeds, removed));
            for camera in site.cameras() {
                let listener = match config.port_base {
                    Some(base) => {
                        let offset = (number - 1) * config.cameras + camera.index;
                        let port = u16::try_from(usize::from(base) + offset)
                            .context("port base too high for this many endpoints")?;
                        TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], port)))
                            .await
                            .with_context(|| format!("cannot listen on 127.0.0.1:{port}"))?
                    }
                    None => ports.bind().await?,
                };
                camera.set_port(listener.local_addr()?.port());
                listeners.push((site.clone(), camera.index, listener));
            }
            sites.push(site);
        }
        let control = TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], config.control_port)))
            .await
            .with_context(|| {
                format!(
                    "cannot listen on 127.0.0.1:{} for the control API",
                    config.control_port
                )
            })?;
        let control_url = format!("http://{}", control.local_addr()?);
        let mut xp_sites = Vec::new();
        for &number in &config.xprotect {
            anyhow::ensure!(
                (1..=config.sites).contains(&number),
                "XProtect site {number} is not one of the {} sites",
                config.sites
            );
            let xp = xprotect::XpSite::start(
                world.clone(),
                number,
                &config.username,
                &config.password,
                xprotect::XpKnobs::default(),
            )
            .await?;
            if let (true, Some((seeds, removed))) = (config.seed_vms, seeded.get(number - 1)) {
                for camera in xp.cameras() {
                    for p in seed::for_camera(seeds, removed, number, camera.index + 1) {
                        camera.insert(xprotect::XpPreset {
                            id: xp.new_id(),
                            name: p.name.unwrap_or_else(|| format!("Preset {}", p.number)),
                            description: String::new(),
                            position: [p.pan, p.tilt, p.zoom],
                            locked: false,
                            device: false,
                        });
                    }
                }
            }
            xp_sites.push((number, xp));
        }
        let sim = Arc::new(Simulator {
            world,
            sites,
            control_url,
            shutdown,
            xprotect: xp_sites,
        });
        for (site, camera, listener) in listeners {
            tokio::spawn(endpoint::serve(
                site,
                camera,
                listener,
                tls.clone(),
                shutdown_rx.clone(),
            ));
        }
        let app = control::router(sim.clone());
        let mut stop = shutdown_rx.clone();
        tokio::spawn(async move {
            let _ = axum::serve(control, app)
                .with_graceful_shutdown(async move {
                    let _ = stop.wait_for(|s| *s).await;
                })
                .await;
        });
        Ok(sim)
    }

    /// The physical world.
    pub fn world(&self) -> &World {
        &self.world
    }

    /// The sites, primary first.
    pub fn sites(&self) -> &[Arc<Site>] {
        &self.sites
    }

    /// Site by 1-based number.
    pub fn site(&self, number: usize) -> Option<&Arc<Site>> {
        self.sites.get(number.wrapping_sub(1))
    }

    /// Site `number` (1-based) as an XProtect installation, when it is served as one.
    pub fn xprotect(&self, number: usize) -> Option<&Arc<xprotect::XpSite>> {
        self.xprotect
            .iter()
            .find(|(n, _)| *n == number)
            .map(|(_, xp)| xp)
    }

    /// The control API's base URL.
    pub fn control_url(&self) -> &str {
        &self.control_url
    }

    /// Replaces the faults of a site (1-based); `false` when there is no such site.
    pub fn set_faults(&self, site: usize, faults: Faults) -> bool {
        self.site(site).map(|s| s.set_faults(faults)).is_some()
    }

    /// Every endpoint, site by site.
    pub fn endpoints(&self) -> Vec<Endpoint> {
        self.sites
            .iter()
            .flat_map(|site| {
                site.cameras().iter().map(move |camera| Endpoint {
                    site: site.number,
                    site_name: site.name.clone(),
                    camera: camera.index + 1,
                    device_url: site.url(camera, "device_service"),
                    username: site.credentials.username.clone(),
                    password: site.credentials.password.clone(),
                    profile: camera.quirks.profile_name(),
                })
            })
            .collect()
    }

    /// Stops every endpoint and the control API.
    pub fn shutdown(&self) {
        self.shutdown.send_replace(true);
    }
}

/// A TLS acceptor presenting the PEM certificate chain `cert_pem` with its
/// PEM private key `key_pem`, on reqwest's provider (ring).
pub(crate) fn tls_acceptor(
    cert_pem: &[u8],
    key_pem: &[u8],
) -> anyhow::Result<tokio_rustls::TlsAcceptor> {
    use rustls::pki_types::pem::PemObject as _;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let chain = CertificateDer::pem_slice_iter(cert_pem).collect::<Result<Vec<_>, _>>()?;
    let key = PrivateKeyDer::from_pem_slice(key_pem)?;
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()?
    .with_no_client_auth()
    .with_single_cert(chain, key)?;
    Ok(tokio_rustls::TlsAcceptor::from(Arc::new(config)))
}

/// Picks free loopback ports below the kernel's ephemeral range.
///
/// Binding port 0 thousands of times makes the kernel search its ephemeral
/// range ever longer (seconds of system time at 10,000 endpoints), and
/// endpoints parked there starve outgoing connections of ports. So ports come
/// from 10000..32000, starting at a random point so parallel simulators rarely
/// collide, and a port in use is simply skipped.
struct PortPicker {
    next: u16,
    tried: u32,
}

impl PortPicker {
    const LOW: u16 = 10_000;
    const HIGH: u16 = 32_000;

    fn new() -> Self {
        PortPicker {
            next: rand::random_range(Self::LOW..Self::HIGH),
            tried: 0,
        }
    }

    async fn bind(&mut self) -> anyhow::Result<TcpListener> {
        while self.tried < u32::from(Self::HIGH - Self::LOW) {
            let port = self.next;
            self.next = if port + 1 >= Self::HIGH {
                Self::LOW
            } else {
                port + 1
            };
            self.tried += 1;
            if let Ok(listener) = TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], port))).await
            {
                return Ok(listener);
            }
        }
        anyhow::bail!(
            "no free loopback port left between {} and {}",
            Self::LOW,
            Self::HIGH
        )
    }
}

impl Drop for Simulator {
    fn drop(&mut self) {
        self.shutdown.send_replace(true);
    }
}
