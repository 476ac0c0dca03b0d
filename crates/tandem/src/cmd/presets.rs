//! `tandem presets list|add|update|delete`: one action, both sites.

use std::process::ExitCode;

use tandem_core::{Position, PresetName, PresetNumber};
use tandem_engine::engine::{AddPreset, Outcome, PositionSource, UpdatePreset};
use tandem_store::SiteState;

use crate::table;

use super::context::{self, ConfigArg};

/// `tandem presets ...`
#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// List a camera's presets and each site's token for them.
    List {
        #[command(flatten)]
        config: ConfigArg,
        /// The camera id.
        #[arg(long)]
        camera: String,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Add a preset on both sites.
    Add {
        #[command(flatten)]
        config: ConfigArg,
        /// The camera id.
        #[arg(long)]
        camera: String,
        /// The preset number (default: the lowest free one).
        #[arg(long)]
        number: Option<u32>,
        /// The preset name.
        #[arg(long)]
        name: String,
        #[command(flatten)]
        position: PositionArgs,
    },
    /// Rename, renumber or re-aim a preset on both sites.
    Update {
        #[command(flatten)]
        config: ConfigArg,
        /// The camera id.
        #[arg(long)]
        camera: String,
        /// The preset to change.
        #[arg(long)]
        number: u32,
        /// A new name.
        #[arg(long)]
        name: Option<String>,
        /// A new number.
        #[arg(long)]
        new_number: Option<u32>,
        #[command(flatten)]
        position: PositionArgs,
    },
    /// Delete a preset on both sites.
    Delete {
        #[command(flatten)]
        config: ConfigArg,
        /// The camera id.
        #[arg(long)]
        camera: String,
        /// The preset number.
        #[arg(long)]
        number: u32,
    },
}

/// Where a preset points: explicit coordinates, or the camera's current view.
#[derive(Debug, clap::Args)]
pub struct PositionArgs {
    /// Pan in [-1, 1].
    #[arg(long, allow_hyphen_values = true, requires_all = ["tilt", "zoom"], conflicts_with = "current")]
    pan: Option<f64>,
    /// Tilt in [-1, 1].
    #[arg(long, allow_hyphen_values = true, requires_all = ["pan", "zoom"])]
    tilt: Option<f64>,
    /// Zoom in [0, 1].
    #[arg(long, requires_all = ["pan", "tilt"])]
    zoom: Option<f64>,
    /// Use the camera's current position, read from the active site.
    #[arg(long)]
    current: bool,
}

impl PositionArgs {
    fn source(&self) -> anyhow::Result<Option<PositionSource>> {
        Ok(match (self.pan, self.tilt, self.zoom, self.current) {
            (Some(pan), Some(tilt), Some(zoom), false) => Some(PositionSource::Explicit(
                Position::new(pan, tilt, zoom).map_err(usage)?,
            )),
            (None, None, None, true) => Some(PositionSource::Current),
            _ => None,
        })
    }
}

fn usage(e: impl std::fmt::Display) -> anyhow::Error {
    crate::UsageError(e.to_string()).into()
}

fn number(n: u32) -> anyhow::Result<PresetNumber> {
    PresetNumber::new(n).map_err(usage)
}

/// Runs a presets command against the service (`--server`) or the store.
pub async fn run(command: Command) -> anyhow::Result<ExitCode> {
    let config = match &command {
        Command::List { config, .. }
        | Command::Add { config, .. }
        | Command::Update { config, .. }
        | Command::Delete { config, .. } => config,
    };
    if let Some(api) = super::client::from(config)? {
        return remote(&api, command).await;
    }
    match command {
        Command::List {
            config,
            camera,
            json,
        } => {
            let ctx = context::open(&config)?;
            let camera = ctx.camera(&camera)?;
            let presets = ctx.engine.presets(&ctx.operator, &camera)?;
            if json {
                println!("{}", serde_json::to_string_pretty(&presets)?);
                return Ok(ExitCode::SUCCESS);
            }
            let (sites, tokens): (Vec<_>, Vec<_>) = ctx
                .engine
                .site_tokens(&ctx.operator, &camera)?
                .into_iter()
                .unzip();
            print!(
                "{:>6}  {} {:>8} {:>8} {:>8}",
                "number",
                table::cell("name", 32),
                "pan",
                "tilt",
                "zoom"
            );
            for s in &sites {
                print!("  {}", table::cell(&format!("token on {s}"), 38));
            }
            println!();
            for p in presets {
                let axis = |f: fn(&tandem_core::Position) -> f64| {
                    table::number(p.position.as_ref().map(f), 8, 4)
                };
                print!(
                    "{:>6}  {} {} {} {}",
                    p.number,
                    table::cell(p.name.as_str(), 32),
                    axis(|q| q.pan),
                    axis(|q| q.tilt),
                    axis(|q| q.zoom)
                );
                for t in &tokens {
                    let token = t
                        .iter()
                        .find(|(n, _)| *n == p.number)
                        .map(|(_, t)| t.as_str())
                        .unwrap_or("—");
                    print!("  {}", table::cell(token, 38));
                }
                println!();
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Add {
            config,
            camera,
            number: n,
            name,
            position,
        } => {
            let ctx = context::open(&config)?;
            let camera = ctx.camera(&camera)?;
            let position = position.source()?.ok_or_else(|| {
                usage("give the position as --pan, --tilt and --zoom, or --current")
            })?;
            let request = AddPreset {
                number: n.map(number).transpose()?,
                name: PresetName::new(name).map_err(usage)?,
                position,
            };
            let outcome = ctx.engine.add(&camera, request, &ctx.operator).await?;
            Ok(report(&outcome))
        }
        Command::Update {
            config,
            camera,
            number: n,
            name,
            new_number,
            position,
        } => {
            let ctx = context::open(&config)?;
            let camera = ctx.camera(&camera)?;
            let request = UpdatePreset {
                name: name.map(PresetName::new).transpose().map_err(usage)?,
                number: new_number.map(number).transpose()?,
                position: position.source()?,
            };
            if request.name.is_none() && request.number.is_none() && request.position.is_none() {
                return Err(usage(
                    "nothing to change: give --name, --new-number, or a position",
                ));
            }
            let outcome = ctx
                .engine
                .update(&camera, number(n)?, request, &ctx.operator)
                .await?;
            Ok(report(&outcome))
        }
        Command::Delete {
            config,
            camera,
            number: n,
        } => {
            let ctx = context::open(&config)?;
            let camera = ctx.camera(&camera)?;
            let outcome = ctx
                .engine
                .delete(&camera, number(n)?, &ctx.operator)
                .await?;
            Ok(report(&outcome))
        }
    }
}

/// Prints the per-site result; exit 0 when every site applied it, 3 when some
/// part is pending, 4 when a site refused it.
pub fn report(outcome: &Outcome) -> ExitCode {
    println!("operation {}", outcome.operation);
    if let Some(p) = &outcome.preset {
        println!("preset {} \"{}\"", p.number, p.name);
    }
    for s in &outcome.sites {
        let state = match s.state {
            SiteState::Applied => "applied",
            // This process ends now: only a running service, `tandem sync
            // --watch` or a later `tandem sync` will retry it.
            SiteState::Pending => {
                "pending (`tandem sync` finishes it, as does a running `tandem serve` or `tandem sync --watch`)"
            }
            SiteState::Failed => "FAILED",
        };
        match &s.error {
            Some(e) if s.state != SiteState::Applied => println!("  {}: {state}: {e}", s.site),
            _ => println!("  {}: {state}", s.site),
        }
    }
    if outcome.sites.iter().any(|s| s.state == SiteState::Failed) {
        ExitCode::from(crate::exit::REFUSED)
    } else if !outcome.is_complete() {
        ExitCode::from(crate::exit::PENDING)
    } else {
        ExitCode::SUCCESS
    }
}

/// The same commands through the service's API.
async fn remote(api: &super::client::Api, command: Command) -> anyhow::Result<ExitCode> {
    use reqwest::Method;
    use tandem_api::presets::{
        NewPresetDto, OperationDto, PositionDto, PresetChangeDto, PresetDto,
    };
    let path = |camera: &str| format!("/api/v1/cameras/{camera}/presets");
    let position = |p: &PositionArgs| match (p.pan, p.tilt, p.zoom) {
        (Some(pan), Some(tilt), Some(zoom)) => Some(PositionDto { pan, tilt, zoom }),
        _ => None,
    };
    match command {
        Command::List {
            camera,
            json: as_json,
            ..
        } => {
            let presets: Vec<PresetDto> =
                api.call(api.request(Method::GET, &path(&camera))).await?;
            if as_json {
                super::client::print_json(&presets)?;
            } else {
                println!(
                    "{:>6}  {:<32} {:>8} {:>8} {:>8}",
                    "number", "name", "pan", "tilt", "zoom"
                );
                for p in &presets {
                    let axis = |a: fn(&PositionDto) -> f64| {
                        p.position
                            .as_ref()
                            .map(|q| format!("{:.4}", a(q)))
                            .unwrap_or_else(|| "-".into())
                    };
                    println!(
                        "{:>6}  {:<32} {:>8} {:>8} {:>8}",
                        p.number.to_string(),
                        p.name,
                        axis(|q| q.pan),
                        axis(|q| q.tilt),
                        axis(|q| q.zoom)
                    );
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Add {
            camera,
            number,
            name,
            position: p,
            ..
        } => {
            if position(&p).is_none() && !p.current {
                return Err(usage(
                    "give the position as --pan, --tilt and --zoom, or --current",
                ));
            }
            let body = NewPresetDto {
                number,
                name,
                position: position(&p),
            };
            let outcome: OperationDto = api
                .call(api.request(Method::POST, &path(&camera)).json(&body))
                .await?;
            Ok(super::client::report(&outcome))
        }
        Command::Update {
            camera,
            number,
            name,
            new_number,
            position: p,
            ..
        } => {
            let body = PresetChangeDto {
                name,
                number: new_number,
                position: position(&p),
                current_view: p.current,
            };
            let request = api
                .request(Method::PATCH, &format!("{}/{number}", path(&camera)))
                .json(&body);
            let outcome: OperationDto = api.call(request).await?;
            Ok(super::client::report(&outcome))
        }
        Command::Delete { camera, number, .. } => {
            let request = api.request(Method::DELETE, &format!("{}/{number}", path(&camera)));
            let outcome: OperationDto = api.call(request).await?;
            Ok(super::client::report(&outcome))
        }
    }
}
