//! `tandem scan`, `mismatches`, `repair`, `sync` and `operations`.

use std::process::ExitCode;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};
use tandem_api::sync::{
    JournalDto, JournalQuery, MismatchDto, MismatchQuery, RepairDto, RepairRequest, ScanDto,
    ScanRequest,
};
use tandem_core::plan::{Change, Direction};
use tandem_core::{CameraId, Mismatch, SitePreset};

use crate::table;

use super::context::{self, ConfigArg};

/// `tandem scan`
#[derive(Debug, clap::Args)]
pub struct ScanArgs {
    #[command(flatten)]
    config: ConfigArg,
    /// Cameras to scan (repeatable); all when absent.
    #[arg(long)]
    camera: Vec<String>,
    /// Most cameras read at once (each reads one preset list per site).
    #[arg(long, default_value_t = 32)]
    concurrency: usize,
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

/// Scans and prints a summary; exit 0 when in sync, 5 when mismatches are
/// open, 10 when a site could not be read (each one listed), 1 when a camera's
/// scan failed.
pub async fn scan(args: ScanArgs) -> anyhow::Result<ExitCode> {
    if let Some(api) = super::client::from(&args.config)? {
        let body = ScanRequest {
            cameras: (!args.camera.is_empty()).then(|| args.camera.clone()),
        };
        let reports: Vec<ScanDto> = api
            .call(
                api.request(reqwest::Method::POST, "/api/v1/scans")
                    .json(&body),
            )
            .await?;
        let mut open = 0;
        let mut unread = 0;
        let mut failed = 0;
        for r in &reports {
            open += r.open;
            unread += r.unread.len();
            failed += usize::from(r.error.is_some());
            if !args.json {
                println!(
                    "{} {} open, {} new, {} gone {}",
                    table::cell(&r.camera, 24),
                    r.open,
                    r.new,
                    r.gone,
                    r.error.as_deref().unwrap_or("")
                );
                for u in &r.unread {
                    println!(
                        "  {} could not be read ({}): {}",
                        u.site, u.failure, u.message
                    );
                }
                if !r.pending.is_empty() {
                    println!("  {}", pending_note(&r.pending));
                }
            }
        }
        if args.json {
            super::client::print_json(&reports)?;
        }
        return Ok(scan_exit(open, unread, failed));
    }
    let ctx = context::open(&args.config)?;
    let cameras: Vec<CameraId> = if args.camera.is_empty() {
        ctx.config.cameras.iter().map(|c| c.id.clone()).collect()
    } else {
        args.camera
            .iter()
            .map(|c| ctx.camera(c))
            .collect::<anyhow::Result<_>>()?
    };
    let bar = ProgressBar::new(cameras.len() as u64);
    bar.set_style(
        ProgressStyle::with_template(
            "{spinner} scanning [{bar:40}] {pos}/{len} cameras ({per_sec}, {eta} left)",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> "),
    );
    if args.json {
        bar.set_draw_target(indicatif::ProgressDrawTarget::hidden());
    }
    let progress = bar.clone();
    let started = std::time::Instant::now();
    let reports = ctx
        .engine
        .scan(cameras, args.concurrency, move |done, _| {
            progress.set_position(done as u64)
        })
        .await;
    bar.finish_and_clear();
    let mut open = 0;
    let mut unread = 0;
    let mut failed = 0;
    let mut out = Vec::new();
    for report in reports {
        match report {
            Ok(r) => {
                open += r.mismatches.len();
                unread += r.unread.len();
                if !args.json {
                    let state = if !r.unread.is_empty() {
                        let sites: Vec<String> = r
                            .unread
                            .iter()
                            .map(|u| {
                                format!(
                                    "{} could not be read ({}): {}",
                                    u.site,
                                    u.failure.as_str(),
                                    u.message
                                )
                            })
                            .collect();
                        sites.join("; ")
                    } else if r.mismatches.is_empty() {
                        "in sync".to_string()
                    } else {
                        format!(
                            "{} mismatch(es), {} new, {} gone",
                            r.mismatches.len(),
                            r.new,
                            r.gone
                        )
                    };
                    println!("{:<24} {state}", r.camera);
                    if !r.pending.is_empty() {
                        let numbers: Vec<u32> = r.pending.iter().map(|n| n.get()).collect();
                        println!("  {}", pending_note(&numbers));
                    }
                    for g in &r.patrol_gaps {
                        println!(
                            "  patrol {:?} on {} names {:?}{}, which {} lacks",
                            g.patrol,
                            g.site,
                            g.preset,
                            g.number.map(|n| format!(" (#{n})")).unwrap_or_default(),
                            g.missing_on
                        );
                    }
                }
                out.push(serde_json::to_value(&r)?);
            }
            Err(e) => {
                failed += 1;
                eprintln!("error: {e}");
            }
        }
    }
    if args.json {
        println!("{}", serde_json::to_string_pretty(&out)?);
    } else {
        println!(
            "{} camera(s) scanned in {:.1} s: {open} open mismatch(es), {unread} site read(s) failed, \
             {failed} error(s)",
            out.len(),
            started.elapsed().as_secs_f64()
        );
    }
    Ok(scan_exit(open, unread, failed))
}

/// What a scan says of presets it did not compare because work on them is pending.
fn pending_note(numbers: &[u32]) -> String {
    let list: Vec<String> = numbers.iter().map(u32::to_string).collect();
    format!(
        "not compared, an operation on them is still pending (see `tandem operations`): preset(s) {}",
        list.join(", ")
    )
}

/// A scan's exit code: a failed camera or an unread site means the scan is
/// not done, whatever the mismatches of what was read.
fn scan_exit(open: usize, unread: usize, failed: usize) -> ExitCode {
    ExitCode::from(if failed > 0 {
        crate::exit::FAILURE
    } else if unread > 0 {
        crate::exit::UNREAD
    } else if open > 0 {
        crate::exit::MISMATCHES
    } else {
        0
    })
}

/// `tandem mismatches`
#[derive(Debug, clap::Args)]
pub struct MismatchArgs {
    #[command(flatten)]
    config: ConfigArg,
    /// Only this camera.
    #[arg(long)]
    camera: Option<String>,
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

fn side(p: &Option<SitePreset>) -> String {
    match p {
        None => "—".into(),
        Some(p) => {
            let number = p
                .number
                .map(|n| n.to_string())
                .unwrap_or_else(|| "?".into());
            let name = p.name.as_deref().unwrap_or("(no name)");
            let position = p
                .position
                .map(|q| format!("{:.3},{:.3},{:.3}", q.pan, q.tilt, q.zoom))
                .unwrap_or_else(|| "(no position)".into());
            format!("#{number} \"{name}\" {position}")
        }
    }
}

/// Prints the open mismatches as of the last scan, without those about a
/// preset whose operation is still pending (see `Engine::mismatches`).
pub async fn mismatches(args: MismatchArgs) -> anyhow::Result<ExitCode> {
    if let Some(api) = super::client::from(&args.config)? {
        let query = MismatchQuery {
            camera: args.camera.clone(),
        };
        let open: Vec<MismatchDto> = api
            .call(
                api.request(reqwest::Method::GET, "/api/v1/mismatches")
                    .query(&query),
            )
            .await?;
        super::client::print_json(&open)?;
        return Ok(ExitCode::SUCCESS);
    }
    let ctx = context::open(&args.config)?;
    let camera = args.camera.as_deref().map(|c| ctx.camera(c)).transpose()?;
    let open = ctx.engine.mismatches(&ctx.operator, camera.as_ref())?;
    if args.json {
        println!(
            "{}",
            serde_json::to_string_pretty(
                &open
                    .iter()
                    .map(|m| serde_json::json!({
                        "camera": m.camera, "key": m.mismatch.key(), "mismatch": m.mismatch,
                        "first_seen_utc": m.first_seen_utc, "last_seen_utc": m.last_seen_utc,
                    }))
                    .collect::<Vec<_>>()
            )?
        );
        return Ok(ExitCode::SUCCESS);
    }
    println!(
        "{} {} {} {}",
        table::cell("camera", 16),
        table::cell("kind", 18),
        table::cell("primary", 44),
        table::cell("secondary", 44)
    );
    for m in &open {
        println!(
            "{} {} {} {}{}",
            table::cell(m.camera.as_str(), 16),
            table::cell(m.mismatch.kind.as_str(), 18),
            table::cell(&side(&m.mismatch.primary), 44),
            table::cell(&side(&m.mismatch.secondary), 44),
            if m.mismatch.position_unknown {
                "  (positions not compared: a site reports none)"
            } else {
                ""
            }
        );
    }
    println!("{} open mismatch(es)", open.len());
    Ok(ExitCode::SUCCESS)
}

/// `tandem repair`
#[derive(Debug, clap::Args)]
pub struct RepairArgs {
    #[command(flatten)]
    config: ConfigArg,
    /// The camera to repair.
    #[arg(long)]
    camera: String,
    /// The side that is right.
    #[arg(long, value_enum)]
    from: From,
    /// Only these mismatches (keys from `tandem mismatches --json`); the whole camera when absent.
    #[arg(long = "mismatch", value_name = "KEY")]
    only: Vec<String>,
    /// Show the plan; change nothing.
    #[arg(long)]
    dry_run: bool,
}

/// The side a repair copies from.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum From {
    /// Apply the primary's presets to the secondary.
    Primary,
    /// Apply the secondary's presets to the primary.
    Secondary,
}

fn describe(change: &Change) -> String {
    let n = |n: &Option<tandem_core::PresetNumber>| {
        n.map(|n| n.to_string()).unwrap_or_else(|| "?".into())
    };
    match change {
        Change::Add { number, name, .. } => {
            format!("add #{} \"{}\"", n(number), name.as_deref().unwrap_or(""))
        }
        Change::Update {
            from_number,
            number,
            name,
            ..
        } if from_number != number => {
            format!(
                "renumber #{} to #{} \"{}\"",
                n(from_number),
                n(number),
                name.as_deref().unwrap_or("")
            )
        }
        Change::Update { number, name, .. } => format!(
            "update #{} to \"{}\" and its position",
            n(number),
            name.as_deref().unwrap_or("")
        ),
        Change::Delete { number, token } => format!("delete #{} (token {token})", n(number)),
    }
}

/// Plans (and unless dry-run, applies) a repair; exit 0 when nothing remains.
pub async fn repair(args: RepairArgs) -> anyhow::Result<ExitCode> {
    if let Some(api) = super::client::from(&args.config)? {
        let from = match args.from {
            From::Primary => "primary",
            From::Secondary => "secondary",
        };
        let body = RepairRequest {
            from: from.to_string(),
            mismatches: (!args.only.is_empty()).then(|| args.only.clone()),
            dry_run: args.dry_run,
        };
        let path = format!("/api/v1/cameras/{}/repair", args.camera);
        let report: RepairDto = api
            .call(api.request(reqwest::Method::POST, &path).json(&body))
            .await?;
        super::client::print_json(&report)?;
        return Ok(if report.remaining.unwrap_or(0) > 0 {
            ExitCode::from(crate::exit::MISMATCHES)
        } else {
            ExitCode::SUCCESS
        });
    }
    let ctx = context::open(&args.config)?;
    let camera = ctx.camera(&args.camera)?;
    let direction = match args.from {
        From::Primary => Direction::PrimaryToSecondary,
        From::Secondary => Direction::SecondaryToPrimary,
    };
    let only = (!args.only.is_empty()).then_some(args.only.as_slice());
    let target = match direction {
        Direction::PrimaryToSecondary => &ctx.config.secondary().id,
        Direction::SecondaryToPrimary => &ctx.config.primary().id,
    };
    if args.dry_run {
        let plan = ctx
            .engine
            .plan_repair(&ctx.operator, &camera, direction, only)
            .await?;
        println!(
            "plan for {camera}: {} change(s) on {target}",
            plan.changes.len()
        );
        for c in &plan.changes {
            println!("  {}", describe(c));
        }
        return Ok(ExitCode::SUCCESS);
    }
    let report = ctx
        .engine
        .repair(&camera, direction, only, &ctx.operator)
        .await?;
    println!(
        "repaired {camera}: {} change(s) on {target}",
        report.plan.changes.len()
    );
    for (change, outcome) in report.plan.changes.iter().zip(&report.outcomes) {
        let states: Vec<String> = outcome
            .sites
            .iter()
            .map(|s| format!("{:?}", s.state).to_lowercase())
            .collect();
        println!(
            "  {}: operation {} {}",
            describe(change),
            outcome.operation,
            states.join(", ")
        );
    }
    for (change, why) in &report.skipped {
        println!("  skipped {}: {why}", describe(change));
    }
    print_remaining(&report.remaining);
    Ok(if report.remaining.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(crate::exit::MISMATCHES)
    })
}

fn print_remaining(remaining: &[Mismatch]) {
    if remaining.is_empty() {
        println!("camera in sync");
    } else {
        println!("{} mismatch(es) remain:", remaining.len());
        for m in remaining {
            println!(
                "  {} {} | {}",
                m.kind.as_str(),
                side(&m.primary),
                side(&m.secondary)
            );
        }
    }
}

/// `tandem sync`
#[derive(Debug, clap::Args)]
pub struct SyncArgs {
    #[command(flatten)]
    config: ConfigArg,
    /// Give up after this many seconds.
    #[arg(long, default_value_t = 120)]
    timeout_s: u64,
    /// Keep running until Ctrl-C: retry pending parts, scan every camera on a
    /// schedule and whenever an unreachable site answers again.
    #[arg(long)]
    watch: bool,
    /// With --watch: minutes between full scans (0: only when a site comes
    /// back); default: the configuration's `[service] scan_every_min`, else 10.
    #[arg(long)]
    scan_every_min: Option<u64>,
}

/// Finishes every pending part of the journal, listing what a site refused
/// (exit 4) and what is still pending (exit 3); exit 0 when all is applied.
pub async fn sync(args: SyncArgs) -> anyhow::Result<ExitCode> {
    let ctx = context::open(&args.config)?;
    if args.watch {
        let policy = tandem_engine::watch::WatchPolicy {
            scan_every: context::scan_every(args.scan_every_min, &ctx.config),
            ..Default::default()
        };
        let stop = async {
            let _ = tokio::signal::ctrl_c().await;
        };
        ctx.engine
            .watch(policy, |event| println!("{} {event:?}", chrono_now()), stop)
            .await;
        return Ok(ExitCode::SUCCESS);
    }
    let (before, _) = ctx.engine.backlog()?;
    if before > 0 {
        println!(
            "applying {before} pending site operation(s); giving up after {} s",
            args.timeout_s
        );
    }
    let mut progress = ctx.engine.subscribe_progress();
    let left = ctx
        .engine
        .settle(Duration::from_secs(args.timeout_s))
        .await?;
    println!("pending site operations: {before} before, {left} left");
    // What a site refused for good during this run: done, but not applied.
    let mut refused = 0;
    while let Ok(p) = progress.try_recv() {
        if p.state == tandem_store::SiteState::Failed {
            refused += 1;
            println!(
                "  operation {} on camera {}: {} refused it: {}",
                p.operation,
                p.camera,
                p.site,
                p.error.as_deref().unwrap_or("no reason given")
            );
        }
    }
    if left > 0 {
        let ops = ctx.engine.operations(&ctx.operator, None, 10_000)?;
        for op in &ops {
            for part in op
                .sites
                .iter()
                .filter(|s| s.state == tandem_store::SiteState::Pending)
            {
                println!(
                    "  operation {} on camera {}: still pending on {}{}",
                    op.id.0,
                    op.camera,
                    part.site,
                    part.error
                        .as_deref()
                        .map(|e| format!(" ({e})"))
                        .unwrap_or_default()
                );
            }
        }
        println!(
            "they are retried by `tandem serve` if it runs on this store, by `tandem sync --watch`, \
             or by the next `tandem sync`"
        );
    }
    Ok(if refused > 0 {
        ExitCode::from(crate::exit::REFUSED)
    } else if left > 0 {
        ExitCode::from(crate::exit::PENDING)
    } else {
        ExitCode::SUCCESS
    })
}

/// `tandem operations`
#[derive(Debug, clap::Args)]
pub struct OperationsArgs {
    #[command(flatten)]
    config: ConfigArg,
    /// Only this camera.
    #[arg(long)]
    camera: Option<String>,
    /// Most recent N.
    #[arg(long, default_value_t = 50)]
    limit: usize,
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

/// Lists the journal, newest first.
pub async fn operations(args: OperationsArgs) -> anyhow::Result<ExitCode> {
    if let Some(api) = super::client::from(&args.config)? {
        let query = JournalQuery {
            camera: args.camera.clone(),
            limit: Some(args.limit),
        };
        let ops: Vec<JournalDto> = api
            .call(
                api.request(reqwest::Method::GET, "/api/v1/operations")
                    .query(&query),
            )
            .await?;
        super::client::print_json(&ops)?;
        return Ok(ExitCode::SUCCESS);
    }
    let ctx = context::open(&args.config)?;
    let camera = args.camera.as_deref().map(|c| ctx.camera(c)).transpose()?;
    let ops = ctx
        .engine
        .operations(&ctx.operator, camera.as_ref(), args.limit)?;
    if args.json {
        let values: Vec<_> = ops
            .iter()
            .map(|o| serde_json::json!({
                "id": o.id.0, "camera": o.camera, "action": o.action, "origin": o.origin, "actor": o.actor,
                "created_utc": o.created_utc, "sites": o.sites.iter().map(|s| serde_json::json!({
                    "site": s.site, "state": s.state, "attempts": s.attempts, "error": s.error,
                })).collect::<Vec<_>>(),
            }))
            .collect();
        println!("{}", serde_json::to_string_pretty(&values)?);
        return Ok(ExitCode::SUCCESS);
    }
    for o in ops {
        let sites: Vec<String> = o
            .sites
            .iter()
            .map(|s| {
                format!(
                    "{} {}{}",
                    s.site,
                    format!("{:?}", s.state).to_lowercase(),
                    s.error
                        .as_ref()
                        .map(|e| format!(" ({e})"))
                        .unwrap_or_default()
                )
            })
            .collect();
        println!(
            "{:>6} {} {:<12} {:<10} {} | {}",
            o.id.0,
            o.created_utc.format("%Y-%m-%d %H:%M:%S"),
            o.camera,
            o.actor,
            o.action,
            sites.join("; ")
        );
    }
    Ok(ExitCode::SUCCESS)
}

fn chrono_now() -> String {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| format!("[{}.{:03}]", d.as_secs(), d.subsec_millis()))
        .unwrap_or_default()
}
