//! `tandem audit verify|export`: the append-only, hash-chained audit log.

use std::io::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;

use tandem_engine::queries::AuditFilter;

use super::context::{self, ConfigArg};

/// `tandem audit ...`
#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Check the hash chain: detects any edited or deleted entry.
    Verify {
        #[command(flatten)]
        config: ConfigArg,
    },
    /// Write every entry as JSON lines or CSV.
    Export {
        #[command(flatten)]
        config: ConfigArg,
        /// Output format.
        #[arg(long, value_enum, default_value = "json")]
        format: Format,
        /// Output file; standard output when absent.
        #[arg(long, short = 'o')]
        output: Option<PathBuf>,
    },
}

/// Export formats.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum Format {
    /// One JSON object per line.
    Json,
    /// Comma-separated values with a header row.
    Csv,
}

/// Runs an audit command; `verify` exits 6 when the chain is broken.
pub async fn run(command: Command) -> anyhow::Result<ExitCode> {
    match command {
        Command::Verify { config } => {
            if let Some(api) = super::client::from(&config)? {
                let v: tandem_api::audit::VerifyDto = api
                    .call(api.request(reqwest::Method::GET, "/api/v1/audit/verify"))
                    .await?;
                super::client::print_json(&v)?;
                return Ok(if v.intact {
                    ExitCode::SUCCESS
                } else {
                    ExitCode::from(crate::exit::AUDIT_BROKEN)
                });
            }
            let ctx = context::open(&config)?;
            let v = ctx.engine.verify_audit(&ctx.operator)?;
            match v.first_bad {
                None => {
                    let head = v
                        .head
                        .map(|(seq, hash)| format!("; head #{seq} {hash}"))
                        .unwrap_or_default();
                    println!("audit log intact: {} entries{head}", v.entries);
                    Ok(ExitCode::SUCCESS)
                }
                Some((seq, what)) => {
                    println!("audit log BROKEN at entry {seq}: {what}");
                    Ok(ExitCode::from(crate::exit::AUDIT_BROKEN))
                }
            }
        }
        Command::Export {
            config,
            format,
            output,
        } => {
            let ctx = context::open(&config)?;
            let mut out: Box<dyn std::io::Write> = match output {
                Some(path) => Box::new(std::io::BufWriter::new(std::fs::File::create(&path)?)),
                None => Box::new(std::io::stdout().lock()),
            };
            if let Format::Csv = format {
                writeln!(out, "{}", tandem_store::AuditRecord::CSV_HEADER)?;
            }
            let mut after = 0;
            loop {
                let filter = AuditFilter {
                    after_seq: after,
                    limit: 1000,
                    ..AuditFilter::default()
                };
                let page = ctx.engine.audit_log(&ctx.operator, &filter)?;
                let Some(last) = page.last() else { break };
                after = last.seq;
                for e in &page {
                    match format {
                        Format::Json => writeln!(out, "{}", serde_json::to_string(e)?)?,
                        Format::Csv => writeln!(out, "{}", e.csv_row())?,
                    }
                }
            }
            out.flush()?;
            Ok(ExitCode::SUCCESS)
        }
    }
}
