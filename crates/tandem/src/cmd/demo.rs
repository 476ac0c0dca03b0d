//! `tandem demo`: the main job in one command, with no configuration: two
//! simulated sites of eight cameras (an ONVIF primary and, unless asked
//! otherwise, a Milestone XProtect secondary) with mixed vendor quirks and
//! seeded presets (with one deliberate mismatch of each kind the sites can
//! show), and the service on an embedded store in a data folder.

use std::net::SocketAddr;
use std::path::PathBuf;

use std::sync::Arc;

use anyhow::Context as _;
use tandem_server::state::SimulatedSites;
use tandem_sim::{SimConfig, Simulator};

/// The demo's two simulated sites, by the ids `tandem sim --write-config` gives them.
struct DemoSites(Arc<Simulator>);

const SITE_IDS: [&str; 2] = ["primary", "secondary"];

impl SimulatedSites for DemoSites {
    fn outages(&self) -> Vec<(String, bool)> {
        SITE_IDS
            .iter()
            .enumerate()
            .filter_map(|(i, id)| Some((id.to_string(), self.0.site(i + 1)?.faults().down)))
            .collect()
    }

    fn set_down(&self, site: &str, down: bool) -> bool {
        let Some(number) = SITE_IDS.iter().position(|id| *id == site) else {
            return false;
        };
        let Some(site) = self.0.site(number + 1) else {
            return false;
        };
        site.set_faults(tandem_sim::world::Faults {
            down,
            ..site.faults()
        });
        // An XProtect site goes down as a whole: its server with its cameras.
        if let Some(xp) = self.0.xprotect(number + 1) {
            xp.set_knobs(tandem_sim::xprotect::XpKnobs { down, ..xp.knobs() });
        }
        true
    }
}

/// Arguments of `tandem demo`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The data folder (configuration and store); its store is started afresh each run.
    #[arg(long, default_value = "tandem-demo")]
    data: PathBuf,
    /// Address of the service.
    #[arg(long, default_value = "127.0.0.1:8080")]
    listen: SocketAddr,
    /// Cameras per site.
    #[arg(long, default_value_t = 8, value_parser = clap::value_parser!(u32).range(6..=1000))]
    cameras: u32,
    /// What the secondary site is: a simulated Milestone XProtect
    /// installation (presets in the VMS, reached through its REST API), or
    /// ONVIF devices like the primary.
    #[arg(long, value_enum, default_value_t = SecondaryKind::Xprotect)]
    secondary: SecondaryKind,
    /// Serve the console over HTTPS with a self-signed certificate (kept in
    /// the data folder; its fingerprint is printed).
    #[arg(long)]
    tls: bool,
}

/// The kinds of site the demo's secondary can be.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum SecondaryKind {
    /// Milestone XProtect through its REST API.
    Xprotect,
    /// ONVIF devices.
    Onvif,
}

/// The quirks of the demo's sites: a camera-like primary; a VMS-bridge-like
/// secondary with GUID tokens, some rounding, a nameless camera and a limit,
/// and one numeric camera, where a renumbered preset can show.
const PROFILES: [&str; 5] = [
    "2=vms",
    "2/5=camera",
    "2/2=vms+rounded=0.0005",
    "2/7=vms+nameless",
    "2/8=vms+limited=12",
];

/// Runs the demo until Ctrl-C.
pub async fn run(args: Args) -> anyhow::Result<()> {
    std::fs::create_dir_all(&args.data)
        .with_context(|| format!("cannot create {}", args.data.display()))?;
    for stale in ["tandem.db", "tandem.db-wal", "tandem.db-shm"] {
        let path = args.data.join(stale);
        if path.exists() {
            std::fs::remove_file(&path).with_context(|| {
                format!("cannot remove the previous demo store {}", path.display())
            })?;
        }
    }
    let config = SimConfig {
        sites: 2,
        cameras: args.cameras as usize,
        profiles: PROFILES
            .iter()
            .map(|p| p.parse())
            .collect::<Result<_, _>>()
            .map_err(anyhow::Error::msg)?,
        seed_presets: 6,
        drift: true,
        xprotect: match args.secondary {
            SecondaryKind::Xprotect => vec![2],
            SecondaryKind::Onvif => Vec::new(),
        },
        seed_vms: true,
        ..SimConfig::default()
    };
    let sim = Simulator::start(config).await?;
    let config_path = args.data.join("tandem.toml");
    std::fs::write(&config_path, super::sim::config_for(&sim)?)
        .with_context(|| format!("cannot write {}", config_path.display()))?;
    let password = std::env::var("TANDEM_ADMIN_PASSWORD").unwrap_or_else(|_| {
        rand::random::<[u8; 9]>()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    });
    match args.secondary {
        SecondaryKind::Onvif => println!(
            "tandem demo: 2 simulated ONVIF sites x {} cameras, presets seeded with one mismatch of each kind",
            args.cameras
        ),
        SecondaryKind::Xprotect => println!(
            "tandem demo: an ONVIF primary and an XProtect secondary x {} cameras, presets seeded with one \
             mismatch of each kind but \"number differs\" (XProtect presets have no numbers: tandem keeps them; \
             --secondary onvif shows that kind too)",
            args.cameras
        ),
    }
    println!(
        "  simulator:  {}  (take the primary down: curl -X PATCH {}/api/sites/1/faults -H 'content-type: application/json' -d '{{\"down\":true}}')",
        sim.control_url(),
        sim.control_url()
    );
    if let Some(xp) = sim.xprotect(2) {
        println!(
            "  secondary:  a simulated XProtect site at {} (presets in its VMS; the cameras' own ONVIF services take continuous moves and pictures)",
            xp.url()
        );
    }
    println!("  data:       {}", args.data.display());
    let result = super::serve::run_with(
        super::serve::Args::for_demo(config_path, args.listen, password, args.tls),
        Some(Arc::new(DemoSites(sim.clone()))),
    )
    .await;
    sim.shutdown();
    result
}
