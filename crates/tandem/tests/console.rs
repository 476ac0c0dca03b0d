//! The web console end to end, in Debian's Chromium driven by playwright-core
//! (`tests/e2e/console.mjs`), against a real `tandem demo` process: log in,
//! steer with the joystick and the keyboard and see the picture change, save a
//! preset and find it on both simulated sites, resolve a seeded mismatch in
//! each direction, take the primary down and keep steering through S, the
//! audit and admin pages, and a role without `ptz.control`. Screenshots of the
//! main screens land in `target/console-screenshots/`.
//!
//! Needs Node.js with `tests/e2e/node_modules` and `/usr/bin/chromium`, which
//! `scripts/test.sh` installs; missing is a failure, never a skip.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

struct Guard(Child);

impl Drop for Guard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn e2e_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/e2e")
}

fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target"))
}

/// Runs `tandem demo` with `extra` arguments and drives it with the script
/// `script` in Chromium; answers the script's output.
fn drive(script: &str, extra: &[&str]) -> String {
    for module in ["playwright-core", "axe-core"] {
        assert!(
            e2e_dir().join("node_modules").join(module).exists(),
            "{module} is not installed: run `bash scripts/test.sh` (the README's test command)"
        );
    }
    let chromium = std::env::var("TANDEM_CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    assert!(
        Path::new(&chromium).exists(),
        "no Chromium at {chromium}: run `bash scripts/test.sh`, which installs Debian's chromium"
    );
    let data = std::env::temp_dir().join(format!(
        "tandem-console-{}-{}",
        std::process::id(),
        script.trim_end_matches(".mjs")
    ));
    let password = format!("e2e-{}-password", std::process::id());
    let mut demo = Guard(
        Command::new(env!("CARGO_BIN_EXE_tandem"))
            .args(["demo", "--listen", "127.0.0.1:0", "--data"])
            .arg(&data)
            .args(extra)
            .env("TANDEM_ADMIN_PASSWORD", &password)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("demo starts"),
    );
    let mut lines = BufReader::new(demo.0.stdout.take().expect("stdout"));
    let (mut console, mut simulator) = (String::new(), String::new());
    let mut line = String::new();
    while console.is_empty() && lines.read_line(&mut line).expect("output") > 0 {
        let word_after = |prefix: &str| {
            line.trim_start()
                .strip_prefix(prefix)
                .and_then(|rest| rest.split_whitespace().next())
                .map(|url| url.trim_end_matches('/').to_string())
        };
        if let Some(url) = word_after("simulator:") {
            simulator = url;
        }
        if let Some(url) = word_after("console:") {
            console = url;
        }
        line.clear();
    }
    std::thread::spawn(move || std::io::copy(&mut lines, &mut std::io::sink()));
    assert!(
        (console.starts_with("http://127.0.0.1:") || console.starts_with("https://127.0.0.1:"))
            && simulator.starts_with("http://127.0.0.1:"),
        "demo printed console {console:?}, simulator {simulator:?}"
    );
    let shots = target_dir().join("console-screenshots");
    let run = Command::new(std::env::var("TANDEM_NODE").unwrap_or_else(|_| "node".into()))
        .arg(script)
        .current_dir(e2e_dir())
        .env("TANDEM_URL", &console)
        .env("TANDEM_PASSWORD", &password)
        .env("TANDEM_SIM", &simulator)
        .env("TANDEM_SHOTS", &shots)
        .env("TANDEM_CHROMIUM", &chromium)
        .output()
        .expect("node runs (installed by scripts/test.sh)");
    drop(demo);
    let _ = std::fs::remove_dir_all(&data);
    let stdout = String::from_utf8_lossy(&run.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(
        run.status.success(),
        "the console end-to-end run ({script}) failed\n--- stdout\n{stdout}\n--- stderr\n{stderr}\n(screenshots in {})",
        shots.display()
    );
    assert!(stdout.contains("all steps passed"), "{stdout}");
    stdout
}

#[test]
fn console_end_to_end_in_chromium() {
    drive("console.mjs", &[]);
    let shots = target_dir().join("console-screenshots");
    for screen in [
        "01-login",
        "02-camera",
        "03-mismatch",
        "05-failover",
        "07-admin",
        "09-tablet",
        "10-wide",
    ] {
        assert!(
            shots.join(format!("{screen}.png")).exists(),
            "screenshot {screen} missing"
        );
    }
}

/// With an ONVIF secondary both sites keep a picture of each preset: a
/// difference shows both, side by side.
#[test]
fn a_difference_shows_each_site_s_picture_in_chromium() {
    drive("pictures.mjs", &["--secondary", "onvif"]);
    assert!(
        target_dir()
            .join("console-screenshots/11-pictures-both-sides.png")
            .exists()
    );
}

/// The console over HTTPS (`tandem demo --tls`): a Secure cookie, HSTS, live
/// pictures and a recall through the TLS connection, in Chromium.
#[test]
fn the_console_over_https_in_chromium() {
    drive("https.mjs", &["--tls"]);
    assert!(
        target_dir()
            .join("console-screenshots/12-https.png")
            .exists()
    );
}
