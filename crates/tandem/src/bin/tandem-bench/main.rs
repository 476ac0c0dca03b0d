//! `tandem-bench`: how tandem behaves at scale and under failure, measured
//! against real `tandem sim` and `tandem serve` processes on loopback.
//!
//! `tandem-bench bench` runs the benchmarks (two-site write, full scan against
//! the bound and a Python peer, live-control latency, failover reaction,
//! memory); `tandem-bench faults` runs the fault suite (kill -9, outage,
//! flapping, hostile device, load). `--scale ci` (the default) runs each at a
//! size that keeps CI short; `--scale full` at the sizes BENCHMARKS.md reports.
//! Prints a table of figure, measured, target and verdict; exits 1 when a
//! correctness check fails or a part cannot run (a missed performance target
//! is reported, not fatal, since shared machines are noisy).

mod bench;
mod faults;
mod report;
mod rig;

use clap::{Parser, ValueEnum};
use report::{Row, Verdict};

#[derive(Debug, Parser)]
#[command(name = "tandem-bench", about = "tandem's benchmarks and fault suite")]
struct Cli {
    /// What to run.
    #[arg(value_enum, default_value = "all")]
    what: What,
    /// The size of every run.
    #[arg(long, value_enum, default_value = "ci")]
    scale: ScaleArg,
    /// Only these parts (comma separated: wire, store, write, scan, live, reaction, memory,
    /// kill, outage, flapping, hostile, load).
    #[arg(long, value_delimiter = ',')]
    only: Vec<String>,
    /// Print the table as Markdown (for BENCHMARKS.md).
    #[arg(long)]
    markdown: bool,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum What {
    /// Benchmarks and the fault suite.
    All,
    /// The benchmarks.
    Bench,
    /// The fault suite.
    Faults,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum ScaleArg {
    /// Small: each part in seconds.
    Ci,
    /// The sizes of the targets.
    Full,
}

/// The size of every part of a run.
#[derive(Debug, Clone, Copy)]
pub struct Scale {
    /// `ci` or `full`, for the table.
    pub name: &'static str,
    /// Preset operations of the two-site write benchmark.
    pub write_ops: usize,
    /// Cameras and presets per camera of the scan benchmark.
    pub scan_cameras: usize,
    /// Presets per camera of the scan benchmark.
    pub scan_presets: usize,
    /// Concurrent operators of the live benchmark, and move/stop pairs each.
    pub live_operators: usize,
    /// Move/stop pairs per operator.
    pub live_pairs: usize,
    /// Operators sending commands while the primary is killed.
    pub reaction_operators: usize,
    /// Cameras of the memory benchmark.
    pub memory_cameras: usize,
    /// Operations and kills of the kill -9 suite.
    pub kill_ops: usize,
    /// Kills of the kill -9 suite.
    pub kills: usize,
    /// Operations of the outage suite.
    pub outage_ops: usize,
    /// Seconds of flapping.
    pub flapping_s: u64,
    /// Concurrent clients and seconds of the load suite.
    pub load_clients: usize,
    /// Seconds of the load suite.
    pub load_s: u64,
}

impl Scale {
    const CI: Scale = Scale {
        name: "ci",
        write_ops: 12,
        scan_cameras: 100,
        scan_presets: 64,
        live_operators: 20,
        live_pairs: 20,
        reaction_operators: 10,
        memory_cameras: 1000,
        kill_ops: 150,
        kills: 20,
        outage_ops: 90,
        flapping_s: 6,
        load_clients: 50,
        load_s: 10,
    };
    const FULL: Scale = Scale {
        name: "full",
        write_ops: 40,
        scan_cameras: 5000,
        scan_presets: 64,
        live_operators: 200,
        live_pairs: 25,
        reaction_operators: 20,
        memory_cameras: 5000,
        kill_ops: 1000,
        kills: 25,
        outage_ops: 500,
        flapping_s: 30,
        load_clients: 200,
        load_s: 60,
    };
}

type Part = (&'static str, What, fn(Scale) -> bench::PartFuture);

const PARTS: [Part; 12] = [
    ("wire", What::Bench, bench::wire::run),
    ("store", What::Bench, bench::store::run),
    ("write", What::Bench, bench::write::run),
    ("scan", What::Bench, bench::scan::run),
    ("live", What::Bench, bench::live::run),
    ("reaction", What::Bench, bench::reaction::run),
    ("memory", What::Bench, bench::memory::run),
    ("kill", What::Faults, faults::kill::run),
    ("outage", What::Faults, faults::outage::run),
    ("flapping", What::Faults, faults::flapping::run),
    ("hostile", What::Faults, faults::hostile::run),
    ("load", What::Faults, faults::load::run),
];

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let scale = match cli.scale {
        ScaleArg::Ci => Scale::CI,
        ScaleArg::Full => Scale::FULL,
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("tandem-bench: cannot start the runtime: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    let mut rows = Vec::new();
    for (name, kind, run) in PARTS {
        let wanted = match cli.what {
            What::All => true,
            What::Bench => matches!(kind, What::Bench),
            What::Faults => matches!(kind, What::Faults),
        };
        if !wanted || (!cli.only.is_empty() && !cli.only.iter().any(|o| o == name)) {
            continue;
        }
        eprintln!("== {name} ({} scale)", scale.name);
        let started = std::time::Instant::now();
        let part = runtime.block_on(run(scale));
        let part = part.unwrap_or_else(|e| vec![Row::error(name, &e)]);
        eprintln!("   {:.1} s", started.elapsed().as_secs_f64());
        eprint!("{}", report::render(&part, false));
        rows.extend(part);
    }
    print!("{}", report::render(&rows, cli.markdown));
    if rows.iter().any(|r| r.verdict == Verdict::Failed) {
        std::process::ExitCode::FAILURE
    } else {
        std::process::ExitCode::SUCCESS
    }
}
