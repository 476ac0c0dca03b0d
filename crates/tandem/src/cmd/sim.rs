//! `tandem sim`: simulated sites on loopback, printing every endpoint.

use std::io::Write as _;
use std::path::PathBuf;

use tandem_sim::quirks::{ProfileRule, TRAITS_HELP};
use tandem_sim::{SimConfig, Simulator};

/// Arguments of `tandem sim`.
#[derive(Debug, clap::Args)]
#[command(after_help = format!("Quirks: {TRAITS_HELP}.\n\nExamples:\n  tandem sim --sites 2 --cameras 8 --profile 2=vms+rounded --presets 6 --drift\n  tandem sim --cameras 5000 --json"))]
pub struct Args {
    /// Number of sites; the first is the primary.
    #[arg(long, default_value_t = 2, value_parser = clap::value_parser!(u16).range(1..=16))]
    sites: u16,
    /// Number of physical cameras, each exposed by every site.
    #[arg(long, default_value_t = 8, value_parser = clap::value_parser!(u32).range(1..=20000))]
    cameras: u32,
    /// Quirk profile: PROFILE for every site, SITE=PROFILE, or SITE/CAMERA=PROFILE;
    /// a profile is quirks joined by '+', e.g. 2=vms+rounded=0.01. Repeatable, applied in order.
    #[arg(long = "profile", value_name = "RULE")]
    profiles: Vec<ProfileRule>,
    /// Presets seeded on every camera of every site (on an XProtect site,
    /// in its VMS too).
    #[arg(long, default_value_t = 0)]
    presets: u32,
    /// Give the last site one deliberate difference of each kind (renamed, moved,
    /// missing, extra, renumbered) on cameras 1 to 6.
    #[arg(long)]
    drift: bool,
    /// Seed presets from a TOML file of [[preset]] tables (site, camera, number, name, pan, tilt, zoom).
    #[arg(long, value_name = "FILE")]
    seed_file: Option<PathBuf>,
    /// Device username.
    #[arg(long, default_value = "admin")]
    username: String,
    /// Device password.
    #[arg(long, default_value = "tandem", env = "TANDEM_SIM_PASSWORD")]
    password: String,
    /// First endpoint port (site-major, camera-minor); free ports when absent.
    #[arg(long)]
    port_base: Option<u16>,
    /// Control API port; a free port when 0.
    #[arg(long, default_value_t = 0)]
    control_port: u16,
    /// Also serve site SITE (1-based) as a Milestone XProtect installation
    /// (its REST API, presets kept in the VMS) over the same cameras.
    /// Repeatable.
    #[arg(long = "xprotect", value_name = "SITE")]
    xprotect: Vec<usize>,
    /// Print one JSON object per line instead of a table.
    #[arg(long)]
    json: bool,
    /// Also write a tandem configuration for these endpoints (two sites needed).
    #[arg(long, value_name = "FILE")]
    write_config: Option<PathBuf>,
}

/// Runs the simulator until Ctrl-C.
pub async fn run(args: Args) -> anyhow::Result<()> {
    let config = SimConfig {
        sites: usize::from(args.sites),
        cameras: args.cameras as usize,
        profiles: args.profiles,
        username: args.username,
        password: args.password,
        seed_presets: args.presets,
        drift: args.drift,
        seed_file: args.seed_file,
        port_base: args.port_base,
        control_port: args.control_port,
        // The presets seeded on an XProtect site's cameras are the VMS's.
        seed_vms: !args.xprotect.is_empty(),
        xprotect: args.xprotect,
    };
    let sim = Simulator::start(config).await?;
    if let Some(path) = &args.write_config {
        std::fs::write(path, config_for(&sim)?)
            .map_err(|e| anyhow::anyhow!("cannot write {}: {e}", path.display()))?;
        eprintln!("wrote {}", path.display());
    }
    print_endpoints(&sim, args.json)?;
    tokio::signal::ctrl_c().await?;
    sim.shutdown();
    Ok(())
}

fn print_endpoints(sim: &Simulator, json: bool) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    if json {
        for endpoint in sim.endpoints() {
            let mut value = serde_json::to_value(&endpoint)?;
            value["kind"] = "endpoint".into();
            writeln!(out, "{value}")?;
        }
        writeln!(
            out,
            "{}",
            serde_json::json!({ "kind": "control", "url": sim.control_url() })
        )?;
        for site in sim.sites() {
            if let Some(xp) = sim.xprotect(site.number) {
                let cameras: Vec<_> = xp
                    .cameras()
                    .iter()
                    .map(|c| serde_json::json!({ "camera": c.index + 1, "id": c.id, "name": c.name }))
                    .collect();
                writeln!(
                    out,
                    "{}",
                    serde_json::json!({ "kind": "xprotect", "site": site.number, "url": xp.url(), "cameras": cameras })
                )?;
            }
        }
    } else {
        writeln!(
            out,
            "{:<4} {:<10} {:>6}  {:<44} {:<8} {:<8} profile",
            "site", "name", "camera", "device service", "user", "password"
        )?;
        for e in sim.endpoints() {
            writeln!(
                out,
                "{:<4} {:<10} {:>6}  {:<44} {:<8} {:<8} {}",
                e.site, e.site_name, e.camera, e.device_url, e.username, e.password, e.profile
            )?;
        }
        writeln!(
            out,
            "\ncontrol API: {}  (e.g. curl -X PATCH {}/api/sites/1/faults -d '{{\"down\":true}}' -H 'content-type: application/json')",
            sim.control_url(),
            sim.control_url()
        )?;
        for site in sim.sites() {
            if let Some(xp) = sim.xprotect(site.number) {
                writeln!(
                    out,
                    "XProtect site {} ({}): {}  cameras {} ({}) …",
                    site.number,
                    site.name,
                    xp.url(),
                    xp.cameras().first().map_or("", |c| c.id.as_str()),
                    xp.cameras().first().map_or("", |c| c.name.as_str()),
                )?;
            }
        }
        writeln!(out, "Ctrl-C stops the simulator.")?;
    }
    out.flush()?;
    Ok(())
}

/// A tandem configuration for the simulator's first two sites.
pub fn config_for(sim: &Simulator) -> anyhow::Result<String> {
    anyhow::ensure!(
        sim.sites().len() >= 2,
        "--write-config needs at least two sites"
    );
    let endpoints = sim.endpoints();
    let first = endpoints
        .first()
        .ok_or_else(|| anyhow::anyhow!("no endpoints"))?;
    let quote = |s: &str| toml_quote(s);
    // A site the simulator also serves as XProtect is reached as XProtect.
    let kind = |site: usize| match sim.xprotect(site) {
        Some(xp) => format!("kind = \"xprotect\"\nurl = {}\n", quote(xp.url())),
        None => String::new(),
    };
    let mut out = format!(
        "# Written by `tandem sim --write-config`: the simulator's sites as tandem sees them.\n\
         [defaults]\nusername = {}\npassword = {}\n\n[store]\npath = \"tandem.db\"\n\n\
         [[site]]\nid = \"primary\"\nname = \"Primary (simulated)\"\npriority = 1\n{}\n\
         [[site]]\nid = \"secondary\"\nname = \"Secondary (simulated)\"\npriority = 2\n{}",
        quote(&first.username),
        quote(&first.password),
        kind(1),
        kind(2),
    );
    for camera in 1..=sim.world().len() {
        out.push_str(&format!(
            "\n[[camera]]\nid = \"cam-{camera}\"\nname = \"Camera {camera}\"\n"
        ));
        for e in endpoints
            .iter()
            .filter(|e| e.camera == camera && e.site <= 2)
        {
            let site = if e.site == 1 { "primary" } else { "secondary" };
            match sim.xprotect(e.site) {
                // The camera's own ONVIF service takes what XProtect's REST
                // API cannot: continuous moves, stops and pictures.
                Some(_) => out.push_str(&format!(
                    "[camera.bindings.{site}]\ncamera = {}\nonvif_url = {}\n",
                    quote(&format!("Camera {camera}")),
                    quote(&e.device_url)
                )),
                None => out.push_str(&format!(
                    "[camera.bindings.{site}]\nurl = {}\n",
                    quote(&e.device_url)
                )),
            }
        }
    }
    Ok(out)
}

/// A TOML basic string.
fn toml_quote(raw: &str) -> String {
    let mut out = String::from("\"");
    for c in raw.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if c.is_control() => out.push_str(&format!("\\u{:04X}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}
