//! `tandem demo` from nothing: simulated sites and the service come up, the
//! printed credentials log in, and the seeded mismatches of every kind show.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

struct Guard(Child);

impl Drop for Guard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test]
async fn demo_comes_up_with_credentials_and_every_mismatch_kind() {
    let dir = std::env::temp_dir().join(format!("tandem-demo-{}", std::process::id()));
    let mut demo = Guard(
        Command::new(env!("CARGO_BIN_EXE_tandem"))
            .args(["demo", "--listen", "127.0.0.1:0", "--data"])
            .arg(&dir)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("demo starts"),
    );
    let mut lines = BufReader::new(demo.0.stdout.take().expect("stdout"));
    let (mut password, mut url) = (String::new(), String::new());
    let mut line = String::new();
    while url.is_empty() && lines.read_line(&mut line).expect("output") > 0 {
        if let Some(rest) = line.split("admin / ").nth(1) {
            password = rest.trim().trim_end_matches(')').to_string();
        }
        if let Some(rest) = line.strip_prefix("tandem serving on ") {
            url = rest
                .split_whitespace()
                .next()
                .unwrap_or_default()
                .to_string();
        }
        line.clear();
    }
    std::thread::spawn(move || std::io::copy(&mut lines, &mut std::io::sink()));
    assert!(
        !password.is_empty() && url.starts_with("http://127.0.0.1:"),
        "{password:?} {url:?}"
    );
    let http = reqwest::Client::new();
    let login = http
        .post(format!("{url}/api/v1/login"))
        .json(&serde_json::json!({ "username": "admin", "password": password }))
        .send()
        .await
        .expect("login");
    assert_eq!(login.status(), 200);
    let cookie = login
        .headers()
        .get("set-cookie")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .expect("a session cookie")
        .to_string();
    // The first background scan runs as the service starts.
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut kinds = Vec::new();
    while kinds.len() < 5 {
        assert!(Instant::now() < deadline, "mismatch kinds seen: {kinds:?}");
        tokio::time::sleep(Duration::from_millis(300)).await;
        let open: serde_json::Value = http
            .get(format!("{url}/api/v1/mismatches"))
            .header("cookie", &cookie)
            .send()
            .await
            .expect("mismatches")
            .json()
            .await
            .expect("json");
        kinds = open
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|m| m["kind"].as_str().map(str::to_string))
            .collect();
        kinds.sort();
        kinds.dedup();
    }
    let _ = std::fs::remove_dir_all(&dir);
}
