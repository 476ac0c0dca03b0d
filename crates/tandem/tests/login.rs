//! Logging in to a running `tandem serve`, as an attacker would try it:
//! bursts of wrong passwords, floods of anonymous logins, huge user names,
//! guessing from several addresses. Clients use several loopback addresses
//! (on Linux all of 127.0.0.0/8 is loopback), bound with `local_address`.

mod support;

use std::net::{IpAddr, Ipv4Addr};
use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use support::*;

/// A service on a fresh store; answers the guards, its URL and the store file.
fn start(name: &str) -> (Guard, Guard, String, std::path::PathBuf) {
    let dir = temp_dir(name);
    let (sim, _control, config) = simulator(&dir);
    let (service, url) = service(&config);
    (sim, service, url, dir.join("tandem.db"))
}

/// An HTTP client whose connections come from 127.0.0.`last`.
fn client_from(last: u8) -> reqwest::Client {
    reqwest::Client::builder()
        .local_address(IpAddr::V4(Ipv4Addr::new(127, 0, 0, last)))
        .timeout(Duration::from_secs(60))
        .build()
        .expect("client")
}

/// One login attempt; answers its status.
async fn attempt(http: &reqwest::Client, url: &str, user: &str, password: &str) -> u16 {
    http.post(format!("{url}/api/v1/login"))
        .json(&json!({ "username": user, "password": password }))
        .send()
        .await
        .expect("login answers")
        .status()
        .as_u16()
}

/// Creates user `name` with `password` and no roles, as the first admin.
async fn create_user(url: &str, name: &str, password: &str) {
    let http = client_from(1);
    let cookie = login(&http, url).await;
    let created = http
        .post(format!("{url}/api/v1/users"))
        .header("cookie", cookie)
        .header("origin", support::origin(url))
        .json(&json!({ "name": name, "password": password, "roles": [] }))
        .send()
        .await
        .expect("create user");
    assert_eq!(created.status(), 201, "{:?}", created.text().await);
}

/// A field of /proc/PID/status, in kB.
fn status_kb(pid: u32, field: &str) -> u64 {
    let text = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("proc status");
    text.lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or_else(|| panic!("{field} in {text}"))
}

/// Stops `tandem serve` as Ctrl-C does, so that it writes what it holds.
fn stop(mut service: Guard) {
    let pid = i32::try_from(service.0.id()).expect("pid");
    // SAFETY: kill takes no pointers; the pid is our own child's.
    unsafe {
        libc::kill(pid, libc::SIGINT);
    }
    let deadline = Instant::now() + Duration::from_secs(10);
    while service.0.try_wait().expect("wait").is_none() {
        assert!(Instant::now() < deadline, "serve did not stop on SIGINT");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The store's size on disk with everything written into the main file:
/// opening it and closing the last connection checkpoints the WAL.
fn store_bytes(path: &Path) -> u64 {
    drop(tandem_store::SqliteStore::open(path).expect("store opens"));
    let size = |p: &Path| std::fs::metadata(p).map_or(0, |m| m.len());
    size(path) + size(&path.with_extension("db-wal"))
}

const PASSWORD: &str = "tulip-kettle-harbour";

/// 40 wrong passwords and the right one, sent together for one user from
/// one address: the attempts are counted before any password is checked,
/// so at most the limit (5) are checked and the right one cannot log in
/// past it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_of_wrong_passwords_cannot_log_in_past_the_limit() {
    let (_sim, _service, url, _) = start("login-burst");
    create_user(&url, "vic", PASSWORD).await;
    let http = client_from(1);
    let mut tasks = Vec::new();
    for i in 0..41 {
        let (http, url) = (http.clone(), url.clone());
        let password = if i == 40 {
            PASSWORD.to_string()
        } else {
            format!("wrong guess {i}")
        };
        tasks.push(tokio::spawn(async move {
            (i == 40, attempt(&http, &url, "vic", &password).await)
        }));
    }
    let mut statuses = Vec::new();
    for task in tasks {
        statuses.push(task.await.expect("task"));
    }
    let count = |s: u16| statuses.iter().filter(|(_, status)| *status == s).count();
    let checked = count(401) + count(200);
    eprintln!(
        "burst of 41: {} answered 401, {} 200, {} 429",
        count(401),
        count(200),
        count(429)
    );
    assert!(checked <= 5, "{checked} passwords checked: {statuses:?}");
    assert_eq!(count(429), 41 - checked, "the rest refused: {statuses:?}");
    let right = statuses.iter().find(|(r, _)| *r).map(|(_, s)| *s);
    if right == Some(200) {
        assert!(
            count(401) <= 4,
            "logged in within the limit only: {statuses:?}"
        );
    } else {
        // Refused with the rest, and still refused now.
        assert_eq!(right, Some(429), "{statuses:?}");
        assert_eq!(attempt(&http, &url, "vic", PASSWORD).await, 429);
    }

    // 40 wrong ones at once, from another address at another user, then the
    // right one: refused.
    create_user(&url, "wes", PASSWORD).await;
    let http = client_from(9);
    let mut tasks = Vec::new();
    for i in 0..40 {
        let (http, url) = (http.clone(), url.clone());
        tasks.push(tokio::spawn(async move {
            attempt(&http, &url, "wes", &format!("wrong guess {i}")).await
        }));
    }
    let mut wrong = Vec::new();
    for task in tasks {
        wrong.push(task.await.expect("task"));
    }
    assert_eq!(wrong.iter().filter(|s| **s == 401).count(), 5, "{wrong:?}");
    assert_eq!(attempt(&http, &url, "wes", PASSWORD).await, 429);
}

/// 200 logins for unknown users at once, each from its own address (so no
/// per-address limit stops them): at most a few passwords are hashed at once,
/// the rest wait briefly or are told to come back (503), and the service's
/// memory stays bounded. A real login afterwards is quick.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_hundred_logins_at_once_keep_memory_bounded_and_a_real_login_fast() {
    let (_sim, service, url, _) = start("login-flood");
    let pid = service.0.id();
    // The first admin's login: the baseline includes one hash.
    login(&client_from(1), &url).await;
    let idle_kb = status_kb(pid, "VmHWM:");
    let mut tasks = Vec::new();
    for i in 0..200u16 {
        let http = client_from(2 + (i % 250) as u8);
        let url = url.clone();
        tasks.push(tokio::spawn(async move {
            attempt(&http, &url, &format!("ghost-{i}"), "some password guess").await
        }));
    }
    let mut statuses = Vec::new();
    for task in tasks {
        statuses.push(task.await.expect("task"));
    }
    assert!(
        statuses.iter().all(|s| *s == 401 || *s == 503),
        "{statuses:?}"
    );
    let peak_kb = status_kb(pid, "VmHWM:");
    let grown_mb = peak_kb.saturating_sub(idle_kb) / 1024;
    eprintln!(
        "memory: idle peak {} MB, peak after 200 logins {} MB (+{grown_mb} MB); {} answered 401, {} 503",
        idle_kb / 1024,
        peak_kb / 1024,
        statuses.iter().filter(|s| **s == 401).count(),
        statuses.iter().filter(|s| **s == 503).count()
    );
    assert!(grown_mb < 150, "peak memory grew by {grown_mb} MB");
    let started = Instant::now();
    login(&client_from(1), &url).await;
    let took = started.elapsed();
    eprintln!("a real login afterwards: {took:?}");
    assert!(took < Duration::from_secs(1), "a real login took {took:?}");
}

/// 300 logins with 60 kB user names, refused after the address's budget:
/// what the audit log keeps of them is bounded (names cut to 64 characters,
/// refusals counted per address and minute), so the store barely grows.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_logins_with_huge_names_barely_grow_the_store() {
    let dir = temp_dir("login-store");
    let (_sim, _control, config) = simulator(&dir);
    let store = dir.join("tandem.db");
    let before = {
        let (service, url) = service(&config);
        login(&client_from(1), &url).await;
        drop(service);
        store_bytes(&store)
    };
    let (service, url) = service(&config);
    let http = client_from(1);
    let name = format!("={}", "x".repeat(60_000));
    let mut statuses = Vec::new();
    for _ in 0..300 {
        statuses.push(attempt(&http, &url, &name, "whatever it is").await);
    }
    assert!(
        statuses.iter().all(|s| *s == 401 || *s == 429),
        "{statuses:?}"
    );
    let refusals = statuses.iter().filter(|s| **s == 429).count();
    assert!(refusals >= 250, "{statuses:?}");
    stop(service);
    let grown = store_bytes(&store).saturating_sub(before);
    eprintln!("the store grew by {grown} bytes for 300 logins with 60 kB names");
    assert!(grown < 200_000, "the store grew by {grown} bytes");
    // What was kept: each checked attempt, and the refusals in a few entries.
    use tandem_store::prelude::*;
    let entries = tandem_store::SqliteStore::open(&store)
        .expect("store")
        .audit_entries(0, 10_000)
        .expect("audit");
    let failed: Vec<_> = entries
        .iter()
        .filter(|e| e.action == "login.failed")
        .collect();
    let refused: Vec<_> = entries
        .iter()
        .filter(|e| e.action == "login.refused")
        .collect();
    let counted: u64 = refused
        .iter()
        .filter_map(|e| e.after.as_ref()?["refused"].as_u64())
        .sum();
    assert_eq!(counted, refusals as u64, "every refusal counted once");
    let refused = refused.len();
    eprintln!(
        "kept: {} login.failed, {refused} login.refused entries; the store holds {} bytes",
        failed.len(),
        store_bytes(&store)
    );
    assert_eq!(failed.len(), 20, "the address's budget");
    assert!((1..=4).contains(&refused), "{refused} refusal entries");
    for e in failed {
        assert!(e.actor.chars().count() <= 65, "{}", e.actor.len());
        assert!(e.actor.starts_with("'="), "no formula: {}", &e.actor[..10]);
    }
}

/// Five wrong passwords, each from another address, then the user from
/// their own: they log in. Guessing from one address slows that address.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_passwords_from_five_addresses_do_not_lock_the_user_out_of_their_own() {
    let (_sim, _service, url, _) = start("login-lockout");
    create_user(&url, "vic", PASSWORD).await;
    for last in 2..=6 {
        let status = attempt(&client_from(last), &url, "vic", "a wrong guess").await;
        assert_eq!(status, 401, "from 127.0.0.{last}");
    }
    let own = client_from(1);
    assert_eq!(attempt(&own, &url, "vic", PASSWORD).await, 200);
    let guesser = client_from(7);
    let statuses: Vec<u16> = {
        let mut s = Vec::new();
        for _ in 0..6 {
            s.push(attempt(&guesser, &url, "vic", "another guess").await);
        }
        s
    };
    assert_eq!(statuses, [401, 401, 401, 401, 401, 429]);
    let refused = guesser
        .post(format!("{url}/api/v1/login"))
        .json(&json!({ "username": "vic", "password": PASSWORD }))
        .send()
        .await
        .expect("login");
    assert_eq!(refused.status(), 429, "the guessing address waits");
    let retry: u64 = refused
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
        .expect("Retry-After");
    assert!((1..=60).contains(&retry), "{retry}");
    let problem: Value = refused.json().await.expect("problem");
    assert_eq!(problem["code"], "too_many_requests");
    assert_eq!(
        attempt(&own, &url, "vic", PASSWORD).await,
        200,
        "vic is not locked out"
    );
}

/// Runs `tandem users ARGS -c CONFIG` with `input` on standard input (and
/// `--server URL --token TOKEN` when given); answers the exit code and output.
fn users_command(
    config: &Path,
    server: Option<(&str, &str)>,
    args: &[&str],
    input: &str,
) -> (Option<i32>, String) {
    use std::io::Write as _;
    let mut command = tandem();
    command.arg("users").args(args).arg("-c").arg(config);
    if let Some((url, token)) = server {
        command.args(["--server", url, "--token", token]);
    }
    let mut child = command
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("tandem runs");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(input.as_bytes())
        .expect("input");
    let out = child.wait_with_output().expect("tandem ends");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.code(), text)
}

/// `tandem users` on the store (the way back in for a lost admin password)
/// and through the service, with the same rules and exit codes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_users_command_manages_users_locally_and_through_the_service() {
    let dir = temp_dir("login-cli");
    let (_sim, _control, config) = simulator(&dir);
    let (_service, url) = service(&config);
    let http = client_from(1);
    let cookie = login(&http, &url).await;
    let token = support::api_token(&http, &url, &cookie, "cli").await;
    let server = Some((url.as_str(), token.as_str()));

    let (code, out) = users_command(
        &config,
        server,
        &["add", "vic", "--role", "operator"],
        "vic-vic-vic-vic\n",
    );
    assert_eq!(code, Some(2), "the policy refuses it: {out}");
    assert!(out.contains("user name"), "{out}");
    let (code, out) = users_command(
        &config,
        server,
        &["add", "vic", "--role", "operator"],
        &format!("{PASSWORD}\n"),
    );
    assert_eq!(code, Some(0), "{out}");
    assert_eq!(attempt(&http, &url, "vic", PASSWORD).await, 200);
    let (code, out) = users_command(&config, server, &["disable", "vic"], "");
    assert_eq!(code, Some(0), "{out}");
    assert_eq!(attempt(&http, &url, "vic", PASSWORD).await, 401, "disabled");
    let (code, out) = users_command(&config, None, &["enable", "vic"], "");
    assert_eq!(code, Some(0), "locally too: {out}");
    assert_eq!(attempt(&http, &url, "vic", PASSWORD).await, 200);
    let (code, out) = users_command(&config, server, &["sessions", "vic"], "");
    assert_eq!(code, Some(0), "{out}");
    assert_eq!(out.lines().count(), 2, "a header and the session: {out}");
    let (code, out) = users_command(&config, server, &["sessions", "vic", "--end-all"], "");
    assert_eq!((code, out.trim()), (Some(0), "1 session(s) ended"));

    // The last administrator stays, through either door, with the same exit code.
    for (server, says) in [(server, "your own"), (None, "no enabled user")] {
        let (code, out) = users_command(&config, server, &["roles", "admin"], "");
        assert_eq!(code, Some(7), "a conflict: {out}");
        assert!(out.contains(says), "{out}");
    }
    // An administrator who lost their password gets back in locally.
    let (code, out) = users_command(
        &config,
        None,
        &["reset", "admin"],
        "quiet harbour lantern\n",
    );
    assert_eq!(code, Some(0), "{out}");
    assert_eq!(
        attempt(&http, &url, "admin", "quiet harbour lantern").await,
        200
    );
    let (code, out) = users_command(&config, None, &["passwd"], "x\ny\n");
    assert_eq!(code, Some(2), "{out}");
}
