//! HTTPS end to end: `tandem serve --tls-self-signed` against `tandem sim`,
//! a session over HTTPS (a `Secure` cookie, `Strict-Transport-Security`),
//! the CLI through `--server https://…` trusting the printed fingerprint,
//! and a fingerprint that does not match refused with a clear error.

mod support;

use std::path::Path;
use std::process::Stdio;

use serde_json::json;
use support::{ADMIN_PASSWORD, Guard, tandem, temp_dir};

/// `tandem serve --tls-self-signed`; answers the guard, its https URL and the
/// certificate fingerprint it printed.
fn https_service(config: &Path) -> (Guard, String, String) {
    let mut serve = tandem()
        .arg("serve")
        .arg("-c")
        .arg(config)
        .args([
            "--listen",
            "127.0.0.1:0",
            "--scan-every-min",
            "0",
            "--tls-self-signed",
        ])
        .env("TANDEM_ADMIN_PASSWORD", ADMIN_PASSWORD)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("serve starts");
    let mut fingerprint = String::new();
    let url = support::wait_for_line(&mut serve, |line| {
        if let Some(fp) = line.strip_prefix("certificate SHA-256 fingerprint: ") {
            fingerprint = fp.trim().to_string();
        }
        line.strip_prefix("tandem serving on ")
            .and_then(|rest| rest.split_whitespace().next())
            .map(str::to_string)
    });
    (Guard(serve), url, fingerprint)
}

/// Runs `tandem presets list cam-1` through the service with `trust` flags.
fn list_through(config: &Path, url: &str, token: &str, trust: &[&str]) -> (Option<i32>, String) {
    let out = tandem()
        .args(["presets", "list", "--camera", "cam-1", "-c"])
        .arg(config)
        .args(["--server", url, "--token", token])
        .args(trust)
        .stdin(Stdio::null())
        .output()
        .expect("tandem runs");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.code(), text)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_service_speaks_https_and_the_cli_trusts_only_the_pinned_certificate() {
    let dir = temp_dir("tls");
    let (_sim, _control, config) =
        support::simulator_with(&dir, &["--cameras", "1", "--presets", "2"]);
    let (service, url, fingerprint) = https_service(&config);
    assert!(url.starts_with("https://127.0.0.1:"), "{url}");
    assert_eq!(fingerprint.len(), 95, "32 pairs with colons: {fingerprint}");
    assert!(dir.join("tls-cert.pem").exists() && dir.join("tls-key.pem").exists());

    // A browser-like session that accepted the certificate.
    let http = reqwest::Client::builder()
        .danger_accept_invalid_certs(true)
        .build()
        .expect("client");
    let login = http
        .post(format!("{url}/api/v1/login"))
        .json(&json!({ "username": "admin", "password": ADMIN_PASSWORD }))
        .send()
        .await
        .expect("login over HTTPS");
    assert!(login.status().is_success(), "{}", login.status());
    let set_cookie = login
        .headers()
        .get("set-cookie")
        .and_then(|v| v.to_str().ok())
        .expect("a cookie")
        .to_string();
    assert!(set_cookie.contains("; Secure"), "{set_cookie}");
    assert!(
        login
            .headers()
            .get("strict-transport-security")
            .is_some_and(|v| v.to_str().unwrap_or_default().starts_with("max-age=")),
        "HSTS over HTTPS"
    );
    let cookie = set_cookie
        .split(';')
        .next()
        .expect("name=value")
        .to_string();
    let token = support::api_token(&http, &url, &cookie, "cli over https").await;

    // The CLI with the printed fingerprint.
    let (code, out) = list_through(
        &config,
        &url,
        &token,
        &["--server-fingerprint", &fingerprint],
    );
    assert_eq!(code, Some(0), "{out}");
    // Without it, the self-signed certificate is refused.
    let (code, out) = list_through(&config, &url, &token, &[]);
    assert_ne!(code, Some(0), "{out}");
    // With another fingerprint, refused, saying which certificate it met.
    let wrong = "00:".repeat(31) + "00";
    let (code, out) = list_through(&config, &url, &token, &["--server-fingerprint", &wrong]);
    assert_ne!(code, Some(0), "{out}");
    assert!(
        out.contains("not the pinned one") && out.contains(&fingerprint),
        "a clear error naming both fingerprints: {out}"
    );

    // A restart keeps the certificate: clients pinned it once.
    drop(service);
    let (_service, _url, again) = https_service(&config);
    assert_eq!(again, fingerprint);
    println!("HTTPS: Secure cookie, HSTS, CLI pinned to {fingerprint}; wrong pin refused");
}
