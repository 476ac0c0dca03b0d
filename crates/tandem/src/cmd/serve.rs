//! `tandem serve`: the engine behind the HTTP API, with live control,
//! background retries and scans.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use tandem_engine::live::{HealthPolicy, Live};
use tandem_engine::watch::WatchPolicy;
use tandem_server::AppState;

use super::context::{self, ConfigArg};

/// Arguments of `tandem serve`.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    config: ConfigArg,
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8080")]
    listen: SocketAddr,
    /// Time between health probes of each site (with the threshold, sets the reaction time).
    #[arg(long, default_value_t = 500)]
    probe_interval_ms: u64,
    /// Failed probes before a site is down.
    #[arg(long, default_value_t = 2)]
    failures_to_down: u32,
    /// Good probes before a down site is up again.
    #[arg(long, default_value_t = 3)]
    successes_to_up: u32,
    /// Seconds the primary must be healthy before control returns to it.
    #[arg(long, default_value_t = 30)]
    failback_hold_s: u64,
    /// Return control to the primary only when asked (POST /api/v1/sites/failback).
    #[arg(long)]
    manual_failback: bool,
    /// Time bound of one live command on one site before trying the next.
    #[arg(long, default_value_t = 1500)]
    command_timeout_ms: u64,
    /// Minutes between full scans (0: only on demand and when a site comes
    /// back); default: the configuration's `[service] scan_every_min`, else 10.
    #[arg(long)]
    scan_every_min: Option<u64>,
    /// The first admin's password when the store has no users (`tandem demo` sets it).
    #[arg(skip)]
    admin_password: Option<String>,
    /// Serve HTTPS with this certificate chain (PEM, leaf first); needs --tls-key.
    #[arg(long, requires = "tls_key", conflicts_with = "tls_self_signed")]
    tls_cert: Option<std::path::PathBuf>,
    /// The certificate's private key (PEM).
    #[arg(long, requires = "tls_cert")]
    tls_key: Option<std::path::PathBuf>,
    /// Serve HTTPS with a self-signed certificate, made on first start and kept
    /// beside the configuration file (tls-cert.pem, tls-key.pem); its SHA-256
    /// fingerprint is printed, for clients to pin.
    #[arg(long)]
    tls_self_signed: bool,
    /// For testing what a clock jump may not change: `AFTER_S:BY_S` makes this
    /// instance's wall clock jump by BY_S seconds (negative: back) AFTER_S
    /// seconds after it starts.
    #[arg(long, hide = true, value_parser = parse_jump)]
    clock_jump: Option<(u64, i64)>,
}

fn parse_jump(text: &str) -> Result<(u64, i64), String> {
    let (after, by) = text
        .split_once(':')
        .ok_or_else(|| "expected AFTER_S:BY_S".to_string())?;
    Ok((
        after.parse().map_err(|e| format!("AFTER_S: {e}"))?,
        by.parse().map_err(|e| format!("BY_S: {e}"))?,
    ))
}

impl Args {
    /// The service as `tandem demo` runs it: default policies, this configuration and address.
    pub fn for_demo(
        config: std::path::PathBuf,
        listen: SocketAddr,
        admin_password: String,
        tls_self_signed: bool,
    ) -> Self {
        Args {
            config: ConfigArg {
                config,
                wait_ms: 10_000,
                server: None,
                token: None,
                server_fingerprint: None,
                server_ca: None,
            },
            listen,
            probe_interval_ms: 500,
            failures_to_down: 2,
            successes_to_up: 3,
            failback_hold_s: 10,
            manual_failback: false,
            command_timeout_ms: 1500,
            scan_every_min: Some(5),
            admin_password: Some(admin_password),
            clock_jump: None,
            tls_cert: None,
            tls_key: None,
            tls_self_signed,
        }
    }
}

/// Runs the service until Ctrl-C.
pub async fn run(args: Args) -> anyhow::Result<()> {
    run_with(args, None).await
}

/// Runs the service until Ctrl-C, with simulated sites the console may take
/// down (`tandem demo`).
pub async fn run_with(
    args: Args,
    simulated: Option<Arc<dyn tandem_server::state::SimulatedSites>>,
) -> anyhow::Result<()> {
    map_large_allocations();
    let clock = args.clock_jump.map(|(after, by)| {
        Arc::new(tandem_core::clock::JumpingClock::new(
            Duration::from_secs(after),
            by,
        )) as Arc<dyn tandem_core::clock::Clock>
    });
    let ctx = context::open_with_clock(&args.config, clock)?;
    let policy = HealthPolicy {
        probe_interval: Duration::from_millis(args.probe_interval_ms.max(10)),
        failures_to_down: args.failures_to_down.max(1),
        successes_to_up: args.successes_to_up.max(1),
        failback_hold: Duration::from_secs(args.failback_hold_s),
        auto_failback: !args.manual_failback,
        command_timeout: Duration::from_millis(args.command_timeout_ms.max(10)),
        ..HealthPolicy::default()
    };
    if ctx.postgres.is_some() {
        // Several instances: they must agree on who steers which camera.
        ctx.engine.share_control();
    }
    let live = Live::new(ctx.engine.clone(), policy)?;
    let users = Arc::new(tandem_access::Users::new(ctx.store.clone()));
    let mut state = AppState::new(ctx.engine.clone(), live.clone(), users);
    state.simulated = simulated;
    let admin_password = args
        .admin_password
        .clone()
        .or_else(|| std::env::var("TANDEM_ADMIN_PASSWORD").ok());
    if let Some(password) = state.users.ensure_admin(admin_password)? {
        println!(
            "created user admin with password {password}  (shown once; change it, or set TANDEM_ADMIN_PASSWORD before the first start)"
        );
    }
    state.tls = tls(&args, &ctx.config.source)?;
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("cannot listen on {}", args.listen))?;
    let address = listener.local_addr()?;
    if state.simulated.is_some()
        && let Some(password) = &args.admin_password
    {
        let scheme = if state.tls.is_some() { "https" } else { "http" };
        println!("  console:    {scheme}://{address}/  (log in: admin / {password})");
    }
    let scheme = if state.tls.is_some() { "https" } else { "http" };
    if let Some(tls) = &state.tls {
        println!("  certificate SHA-256 fingerprint: {}", tls.fingerprint);
    }
    println!(
        "tandem serving on {scheme}://{address}  (console at /, API under /api/v1, OpenAPI at /api/openapi.json)"
    );
    // Several instances on one PostgreSQL: each one's events reach the
    // others' clients.
    let _listener = ctx.postgres.as_ref().map(|pg| {
        let publisher = pg.clone();
        let deliver = state.relay_events(move |text| {
            if let Err(e) = publisher.publish_event(text) {
                tracing::warn!(error = %e, "relaying an event to the other instances");
            }
        });
        pg.listen_events(deliver)
    });
    let _monitor = live.spawn_monitor();
    let _trim = spawn_memory_trim();
    let _forwarder = state.spawn_live_forwarder();
    let _progress = state.spawn_progress_forwarder();
    let _housekeeping = state.spawn_login_housekeeping();
    let engine = ctx.engine.clone();
    let watch = WatchPolicy {
        scan_every: context::scan_every(args.scan_every_min, &ctx.config),
        ..WatchPolicy::default()
    };
    let background = tokio::spawn(async move {
        engine
            .watch(
                watch,
                |event| tracing::info!(?event, "background"),
                std::future::pending(),
            )
            .await
    });
    // Ctrl-C, or SIGTERM from systemd: stop taking connections, finish
    // what runs, give up the lead so another instance takes it at once.
    let shutdown = async {
        let term = async {
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(mut term) => {
                    term.recv().await;
                }
                Err(_) => std::future::pending().await,
            }
        };
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term => {}
        }
    };
    // systemd (Type=notify): ready once the store is open, the listener
    // bound and the duties started; nothing outside systemd.
    let _ = sd_notify::notify(false, &[sd_notify::NotifyState::Ready]);
    let users = state.users.clone();
    let http = ctx.config.http;
    let limits = tandem_server::ConnectionLimits {
        header_timeout: http.header_timeout,
        body_timeout: http.body_timeout,
        idle_timeout: http.idle_timeout,
        max_connections: http.max_connections,
    };
    tandem_server::serve(listener, state, limits, shutdown).await?;
    let _ = sd_notify::notify(false, &[sd_notify::NotifyState::Stopping]);
    background.abort();
    let _ = background.await;
    // Another instance leads at once instead of after the lease.
    ctx.engine.leadership().resign();
    // The refused logins and denied requests of the last minute, not yet audited.
    if let Err(e) = users.flush_all_refusals() {
        tracing::warn!("writing the last refused logins to the audit log: {e}");
    }
    ctx.engine.flush_all_denials();
    Ok(())
}

/// How often freed heap memory is handed back to the system.
const TRIM_EVERY: Duration = Duration::from_secs(5);

/// Hands freed heap memory back to the system every [`TRIM_EVERY`]. A scan of
/// thousands of cameras parses and drops hundreds of megabytes of answers;
/// glibc's allocator keeps most of it resident otherwise (measured at 5,000
/// cameras: 234 MiB resident after a scan, 95 MiB after a trim).
fn spawn_memory_trim() -> tokio::task::JoinHandle<()> {
    tokio::spawn(async {
        let mut tick = tokio::time::interval(TRIM_EVERY);
        loop {
            tick.tick().await;
            trim_heap();
        }
    })
}

/// Allocations of at least this many bytes get pages of their own, given
/// back to the system when freed.
const MMAP_THRESHOLD_BYTES: i32 = 1 << 20;

/// Makes glibc map every large allocation on its own and unmap it when freed.
/// Its default threshold rises to the size of the largest block freed (up to
/// 32 MiB), after which a password hash's 19 MiB comes from the heap of
/// whichever thread ran it and stays there: hashes run a few at a time
/// (`HashGate`) but on many blocking threads, so each thread's heap kept one,
/// and 200 logins left the service 400 MB larger. Mapped, the memory of a
/// hash is returned when it ends, and the peak stays at the hashes running.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn map_large_allocations() {
    // SAFETY: mallopt takes no pointers and only sets an allocator parameter.
    let set = unsafe { libc::mallopt(libc::M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES) };
    if set != 1 {
        tracing::warn!("could not set the allocator's mmap threshold");
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn map_large_allocations() {}

#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn trim_heap() {
    // SAFETY: malloc_trim takes no pointers and is thread-safe; it only
    // returns free pages of the allocator's arenas to the kernel.
    unsafe {
        libc::malloc_trim(0);
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn trim_heap() {}

/// The certificate `args` ask for, if any: from files, or self-signed and
/// kept beside the configuration file `config`.
fn tls(args: &Args, config: &std::path::Path) -> anyhow::Result<Option<tandem_server::tls::Tls>> {
    use tandem_server::tls::Tls;
    if let (Some(cert), Some(key)) = (&args.tls_cert, &args.tls_key) {
        return Ok(Some(
            Tls::from_files(cert, key).map_err(anyhow::Error::msg)?,
        ));
    }
    if !args.tls_self_signed {
        return Ok(None);
    }
    let dir = config.parent().unwrap_or(std::path::Path::new("."));
    let mut names = vec!["localhost".to_string(), args.listen.ip().to_string()];
    if let Ok(host) = std::fs::read_to_string("/etc/hostname") {
        names.push(host.trim().to_string());
    }
    names.retain(|n| !n.is_empty() && n != "0.0.0.0" && n != "::");
    names.dedup();
    let (tls, made) = Tls::self_signed(dir, &names).map_err(anyhow::Error::msg)?;
    if made {
        println!(
            "made a self-signed certificate for {} in {}",
            names.join(", "),
            dir.join("tls-cert.pem").display()
        );
    }
    Ok(Some(tls))
}
