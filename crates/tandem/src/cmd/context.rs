//! What every preset, scan and audit command starts with: either a client of
//! a running `tandem serve` (`--server` and `--token`, or `TANDEM_SERVER` and
//! `TANDEM_TOKEN`), or the configuration, the store and an engine of its own.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use tandem_core::CameraId;
use tandem_core::access::Principal;
use tandem_engine::config::{Config, StoreConfig};
use tandem_engine::engine::Engine;
use tandem_engine::sites::Topology;
use tandem_store::{PgStore, SqliteStore, Store};

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
    /// Trust exactly the service certificate with this SHA-256 fingerprint
    /// (as `tandem serve --tls-self-signed` prints it), for an https --server.
    #[arg(long, env = "TANDEM_SERVER_FINGERPRINT", value_name = "SHA256")]
    pub server_fingerprint: Option<String>,
    /// Trust service certificates signed by the CAs in this PEM file (an
    /// internal CA), for an https --server.
    #[arg(
        long,
        env = "TANDEM_SERVER_CA",
        value_name = "FILE",
        conflicts_with = "server_fingerprint"
    )]
    pub server_ca: Option<PathBuf>,
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
    /// The same store when it is PostgreSQL: for what only several
    /// instances need (events relayed between them).
    pub postgres: Option<Arc<PgStore>>,
    /// Who the command acts as: the OS user, with every right (see
    /// `tandem_access::local_operator`).
    pub operator: Principal,
}

/// Loads the configuration, opens the store, builds the engine.
pub fn open(arg: &ConfigArg) -> anyhow::Result<Context> {
    open_with_clock(arg, None)
}

/// [`open`], with the engine and the store reading the time from `clock`
/// when given (`tandem serve --clock-jump`), else from the system.
pub fn open_with_clock(
    arg: &ConfigArg,
    clock: Option<Arc<dyn tandem_core::clock::Clock>>,
) -> anyhow::Result<Context> {
    let config = Config::load(&arg.config).map_err(crate::UsageError::from_display)?;
    let (store, postgres) = open_store(&config.store, clock.clone())?;
    let topology = Topology::from_config(&config, 32);
    let mut engine = Engine::new(store.clone(), &topology, Duration::from_millis(arg.wait_ms))?;
    if let Some(clock) = clock {
        engine = engine.with_clock(clock);
    }
    Ok(Context {
        config,
        engine,
        store,
        postgres,
        operator: tandem_access::local_operator(actor()),
    })
}

/// A store as opened: for every use, and again as PostgreSQL when it is.
pub type OpenedStore = (Arc<dyn Store>, Option<Arc<PgStore>>);

/// Opens the configured store: the SQLite file, or the PostgreSQL database
/// with its password read now from its file or the environment.
pub fn open_store(
    store: &StoreConfig,
    clock: Option<Arc<dyn tandem_core::clock::Clock>>,
) -> anyhow::Result<OpenedStore> {
    let clock = clock.unwrap_or_else(tandem_core::clock::system);
    Ok(match store {
        StoreConfig::Sqlite(path) => (
            Arc::new(
                SqliteStore::open(path)
                    .with_context(|| format!("cannot open the store {}", path.display()))?
                    .with_clock(clock),
            ),
            None,
        ),
        StoreConfig::Postgres { url, .. } => {
            let password = store.password().map_err(anyhow::Error::msg)?;
            let pg = Arc::new(
                PgStore::open(url, password.as_deref())
                    .with_context(|| format!("cannot open the store {url}"))?
                    .with_clock(clock),
            );
            (pg.clone(), Some(pg))
        }
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
