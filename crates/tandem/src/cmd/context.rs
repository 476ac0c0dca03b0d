//! What every preset, scan and audit command starts with: either a client of
//! a running `tandem serve` (`--server` and `--token`, or `TANDEM_SERVER` and
//! `TANDEM_TOKEN`), or the configuration, the store and an engine of its own.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use tandem_core::CameraId;
use tandem_core::access::Principal;
use tandem_engine::config::Config;
use tandem_engine::engine::Engine;
use tandem_engine::sites::Topology;
use tandem_store::{SqliteStore, Store};

/// The `--config` flag shared by store-backed commands.
#[derive(Debug, clap::Args)]
pub struct ConfigArg {
    /// The configuration file.
    #[arg(
        long,
        short = 'c',
        env = "TANDEM_CONFIG",
        default_value = "tandem.toml"
    )]
    pub config: PathBuf,
    /// How long a command waits for every site before answering with what is still pending.
    #[arg(long, default_value_t = 10_000, value_name = "MS")]
    pub wait_ms: u64,
    /// Talk to this running service instead of opening the store
    /// (the service should own the store while it runs).
    #[arg(long, env = "TANDEM_SERVER", value_name = "URL")]
    pub server: Option<String>,
    /// API token for --server (create one with POST /api/v1/tokens).
    #[arg(long, env = "TANDEM_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
}

/// A loaded configuration with its engine.
pub struct Context {
    /// The configuration.
    pub config: Config,
    /// The engine over the configured store.
    pub engine: Arc<Engine>,
    /// The store, for wiring what else needs it (the service's users); the
    /// commands themselves go through the engine.
    pub store: Arc<dyn Store>,
    /// Who the command acts as: the OS user, with every right (see
    /// `tandem_access::local_operator`).
    pub operator: Principal,
}

/// Loads the configuration, opens the store, builds the engine.
pub fn open(arg: &ConfigArg) -> anyhow::Result<Context> {
    let config = Config::load(&arg.config).map_err(crate::UsageError::from_display)?;
    let store = SqliteStore::open(&config.store_path)
        .with_context(|| format!("cannot open the store {}", config.store_path.display()))?;
    let store: Arc<dyn Store> = Arc::new(store);
    let topology = Topology::from_config(&config, 32);
    let engine = Engine::new(store.clone(), &topology, Duration::from_millis(arg.wait_ms))?;
    Ok(Context {
        config,
        engine,
        store,
        operator: tandem_access::local_operator(actor()),
    })
}

/// Time between full scans: `--scan-every-min` when given (0: none), else
/// the configuration's `[service] scan_every_min`.
pub fn scan_every(flag_min: Option<u64>, config: &Config) -> Option<Duration> {
    match flag_min {
        Some(0) => None,
        Some(minutes) => Some(Duration::from_secs(minutes.saturating_mul(60))),
        None => config.scan_every,
    }
}

/// Who a local command runs as, for the journal and the audit log.
pub fn actor() -> String {
    std::env::var("USER")
        .map(|u| format!("cli:{u}"))
        .unwrap_or_else(|_| "cli".into())
}

impl Context {
    /// Checks a camera id against the configuration.
    pub fn camera(&self, id: &str) -> anyhow::Result<CameraId> {
        let id = CameraId::from(id);
        if self.config.camera(&id).is_none() {
            let known: Vec<&str> = self.config.cameras.iter().map(|c| c.id.as_str()).collect();
            return Err(crate::UsageError(format!(
                "unknown camera \"{id}\"; configured: {}",
                known.join(", ")
            ))
            .into());
        }
        Ok(id)
    }
}
