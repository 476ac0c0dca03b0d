//! The `tandem` binary: wires the crates into subcommands.
//!
//! Exit codes: see [`exit`], the one table.

mod cmd;
mod exit;
mod table;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// tandem keeps PTZ presets and live PTZ control identical across a primary
/// and a secondary video-management site.
#[derive(Debug, Parser)]
#[command(name = "tandem", version, about, propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run simulated ONVIF PTZ sites on loopback until stopped.
    Sim(cmd::sim::Args),
    /// The main job in one command: simulated sites and the service, no configuration.
    Demo(cmd::demo::Args),
    /// Run the service: REST API, live control with failover, background sync.
    Serve(cmd::serve::Args),
    /// Validate a configuration and probe its bindings; pair cameras across sites.
    #[command(subcommand)]
    Config(cmd::config::Command),
    /// List, add, update and delete presets on both sites.
    #[command(subcommand)]
    Presets(cmd::presets::Command),
    /// Compare both sites' presets and record the mismatches.
    Scan(cmd::sync::ScanArgs),
    /// List the open mismatches (not those about presets with pending work).
    Mismatches(cmd::sync::MismatchArgs),
    /// Make one side equal to the other for a camera.
    Repair(cmd::sync::RepairArgs),
    /// Finish every pending part of the journal.
    Sync(cmd::sync::SyncArgs),
    /// List the journal of operations.
    Operations(cmd::sync::OperationsArgs),
    /// Verify or export the audit log.
    #[command(subcommand)]
    Audit(cmd::audit::Command),
    /// Users: add, delete, roles, passwords, disable, unlock, sessions.
    #[command(subcommand)]
    Users(cmd::users::Command),
}

/// A mistake in how tandem was called or configured: exit code 2.
#[derive(Debug)]
pub struct UsageError(pub String);

impl UsageError {
    /// Wraps any displayable error as a usage error.
    pub fn from_display(e: impl std::fmt::Display) -> anyhow::Error {
        UsageError(e.to_string()).into()
    }
}

impl std::fmt::Display for UsageError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for UsageError {}

fn main() -> ExitCode {
    let cli = Cli::parse();
    if !matches!(
        cli.command,
        Command::Sim(_) | Command::Demo(_) | Command::Serve(_)
    ) {
        // A command whose output is piped into `head` ends quietly when the
        // reader goes away, as Unix tools do, instead of panicking on the
        // broken pipe. The long-running commands keep ignoring SIGPIPE, so a
        // client that hangs up cannot stop them.
        // SAFETY: called before any thread starts; SIG_DFL is a valid handler.
        unsafe {
            libc::signal(libc::SIGPIPE, libc::SIG_DFL);
        }
    }
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::from(exit::FAILURE);
        }
    };
    let result = runtime.block_on(async {
        match cli.command {
            Command::Sim(args) => cmd::sim::run(args).await.map(|()| ExitCode::SUCCESS),
            Command::Demo(args) => cmd::demo::run(args).await.map(|()| ExitCode::SUCCESS),
            Command::Serve(args) => cmd::serve::run(args).await.map(|()| ExitCode::SUCCESS),
            Command::Config(c) => cmd::config::run(c).await,
            Command::Presets(c) => cmd::presets::run(c).await,
            Command::Scan(args) => cmd::sync::scan(args).await,
            Command::Mismatches(args) => cmd::sync::mismatches(args).await,
            Command::Repair(args) => cmd::sync::repair(args).await,
            Command::Sync(args) => cmd::sync::sync(args).await,
            Command::Operations(args) => cmd::sync::operations(args).await,
            Command::Audit(c) => cmd::audit::run(c).await,
            Command::Users(c) => cmd::users::run(c).await,
        }
    });
    match result {
        Ok(code) => code,
        Err(e) if e.downcast_ref::<cmd::client::ApiFailure>().is_some() => {
            eprintln!("error: {e}");
            ExitCode::from(
                e.downcast_ref::<cmd::client::ApiFailure>()
                    .map_or(1, |f| f.code),
            )
        }
        Err(e) if e.downcast_ref::<UsageError>().is_some() => {
            eprintln!("error: {e}");
            ExitCode::from(exit::USAGE)
        }
        Err(e)
            if e.downcast_ref::<tandem_engine::error::EngineError>()
                .is_some() =>
        {
            eprintln!("error: {e:#}");
            let engine = e.downcast_ref::<tandem_engine::error::EngineError>();
            // The API shows operators no device address; the host's own user
            // sees the full account (the URL called, the OS's words).
            if let Some(engine) = engine
                && engine.detail() != engine.to_string()
            {
                eprintln!("detail: {}", engine.detail());
            }
            ExitCode::from(engine.map_or(exit::FAILURE, |e| exit::for_kind(e.kind())))
        }
        Err(e) if e.downcast_ref::<tandem_access::UsersError>().is_some() => {
            eprintln!("error: {e:#}");
            ExitCode::from(
                e.downcast_ref::<tandem_access::UsersError>()
                    .map_or(exit::FAILURE, |e| exit::for_kind(e.kind())),
            )
        }
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(exit::FAILURE)
        }
    }
}
