//! What every store-backed command starts with: the configuration, the store
//! and the engine. (These commands use the store directly for now; they become
//! clients of `tandem serve` when the service exists.)

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use tandem_core::CameraId;
use tandem_engine::config::Config;
use tandem_engine::engine::Engine;
use tandem_engine::sites::Topology;
use tandem_store::SqliteStore;

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
}

/// A loaded configuration with its engine.
pub struct Context {
    /// The configuration.
    pub config: Config,
    /// The engine over the configured store.
    pub engine: Arc<Engine>,
}

/// Loads the configuration, opens the store, builds the engine.
pub fn open(arg: &ConfigArg) -> anyhow::Result<Context> {
    let config = Config::load(&arg.config).map_err(crate::UsageError::from_display)?;
    let store = SqliteStore::open(&config.store_path)
        .with_context(|| format!("cannot open the store {}", config.store_path.display()))?;
    let topology = Topology::from_config(&config, 32);
    let engine = Engine::new(
        Arc::new(store),
        &topology,
        Duration::from_millis(arg.wait_ms),
    )?;
    Ok(Context { config, engine })
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
