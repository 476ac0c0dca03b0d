//! `tandem config check|pair`: validate a configuration and probe every
//! binding; pair cameras across sites by serial number.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use tandem_core::SiteId;
use tandem_engine::config::Config;
use tandem_engine::pairing::{self, GeneratedSite, SiteDevices};
use tandem_engine::probe;
use tandem_onvif::{ClientConfig, Credentials};

/// `tandem config ...`
#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Validate a configuration file and probe every binding (reachability,
    /// authentication, clock offset, PTZ node, preset limit, token style).
    Check {
        /// The configuration file.
        file: PathBuf,
        /// Only validate the file; contact no device.
        #[arg(long)]
        offline: bool,
    },
    /// Read GetDeviceInformation from every endpoint of both sites, pair
    /// cameras by serial number (or hardware id) and write the configuration.
    Pair {
        /// File of the primary's device service URLs, one per line (`#` comments).
        #[arg(long)]
        primary_urls: PathBuf,
        /// File of the secondary's device service URLs.
        #[arg(long)]
        secondary_urls: PathBuf,
        /// Device username on both sites.
        #[arg(long, default_value = "admin")]
        username: String,
        /// Environment variable holding the device password (never a flag: flags show in `ps`).
        #[arg(long, default_value = "TANDEM_DEVICE_PASSWORD")]
        password_env: String,
        /// Time bound of one ONVIF call.
        #[arg(long, default_value_t = 5000)]
        timeout_ms: u64,
        /// Where to write the configuration; standard output when absent.
        #[arg(long, short = 'o')]
        output: Option<PathBuf>,
    },
}

/// Runs a config command.
pub async fn run(command: Command) -> anyhow::Result<ExitCode> {
    match command {
        Command::Check { file, offline } => {
            let config = Config::load(&file).map_err(crate::UsageError::from_display)?;
            println!(
                "{}: {} sites ({}), {} cameras, store {}",
                file.display(),
                config.sites.len(),
                config
                    .sites
                    .iter()
                    .map(|s| s.id.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
                config.cameras.len(),
                config.store.describe()
            );
            // Reserved numbers are easy to get wrong and silent when wrong: show them.
            for camera in config.cameras.iter().filter(|c| !c.reserved.is_empty()) {
                let numbers: Vec<String> = camera.reserved.iter().map(|n| n.to_string()).collect();
                let profile = camera
                    .vendor
                    .as_deref()
                    .map(|v| format!(" (with vendor profile {v})"))
                    .unwrap_or_default();
                println!(
                    "  camera {}: reserved {}{profile}",
                    camera.id,
                    numbers.join(", ")
                );
            }
            if offline {
                return Ok(ExitCode::SUCCESS);
            }
            let reports = probe::probe(&config).await;
            print!("{}", probe::render_table(&reports));
            let failed = reports.iter().filter(|r| r.error.is_some()).count();
            println!(
                "{} binding(s) probed, {failed} with problems",
                reports.len()
            );
            Ok(if failed == 0 {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(crate::exit::FAILURE)
            })
        }
        Command::Pair {
            primary_urls,
            secondary_urls,
            username,
            password_env,
            timeout_ms,
            output,
        } => {
            let password = std::env::var(&password_env).ok();
            let credentials = password.map(|p| Credentials::new(username.clone(), p));
            let read = |path: &PathBuf| -> anyhow::Result<Vec<String>> {
                let text = std::fs::read_to_string(path)
                    .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", path.display()))?;
                Ok(text
                    .lines()
                    .map(str::trim)
                    .filter(|l| !l.is_empty() && !l.starts_with('#'))
                    .map(str::to_string)
                    .collect())
            };
            let primary = SiteDevices {
                urls: read(&primary_urls)?,
                credentials: credentials.clone(),
            };
            let secondary = SiteDevices {
                urls: read(&secondary_urls)?,
                credentials,
            };
            let client = ClientConfig {
                timeout: Duration::from_millis(timeout_ms),
                ..ClientConfig::default()
            };
            let discovery = pairing::discover(&primary, &secondary, client).await;
            for f in &discovery.failures {
                eprintln!("warning: {:?} {}: {}", f.side, f.url, f.error);
            }
            let p = &discovery.pairing;
            for d in p.unpaired_primary.iter().chain(&p.unpaired_secondary) {
                eprintln!("unpaired: {} (serial {:?})", d.url, d.info.serial_number);
            }
            for d in &p.duplicates {
                eprintln!(
                    "duplicate identity {:?} on {:?}: {}",
                    d.key,
                    d.side,
                    d.urls.join(", ")
                );
            }
            let site = |id: &str, name: &str| GeneratedSite {
                id: SiteId::from(id),
                name: Some(name.into()),
                username: Some(username.clone()),
                password_env: Some(password_env.clone()),
            };
            let toml = pairing::to_config_toml(
                p,
                &site("primary", "Primary"),
                &site("secondary", "Secondary"),
            );
            match output {
                Some(path) => std::fs::write(&path, toml)?,
                None => print!("{toml}"),
            }
            eprintln!(
                "{} camera(s) paired, {} unpaired, {} unreadable",
                p.pairs.len(),
                p.unpaired_primary.len() + p.unpaired_secondary.len(),
                discovery.failures.len()
            );
            let complete = p.unpaired_primary.is_empty()
                && p.unpaired_secondary.is_empty()
                && discovery.failures.is_empty();
            Ok(if complete {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(crate::exit::PENDING)
            })
        }
    }
}
