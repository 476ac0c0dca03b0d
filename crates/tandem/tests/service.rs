//! `tandem serve` as a systemd service: it tells systemd it is ready
//! (`Type=notify`: `READY=1` on `$NOTIFY_SOCKET`) once it listens, and a
//! SIGTERM stops it cleanly (`STOPPING=1`, exit status 0).

mod support;

use std::os::unix::net::UnixDatagram;
use std::process::Stdio;
use std::time::{Duration, Instant};

use support::{ADMIN_PASSWORD, tandem, temp_dir};

#[test]
fn serve_tells_systemd_it_is_ready_and_stops_cleanly_on_sigterm() {
    let dir = temp_dir("service");
    let (_sim, _control, config) = support::simulator(&dir);
    let socket_path = dir.join("notify.sock");
    let socket = UnixDatagram::bind(&socket_path).expect("notify socket");
    socket
        .set_read_timeout(Some(Duration::from_secs(30)))
        .expect("timeout");
    let started = Instant::now();
    let mut serve = tandem()
        .arg("serve")
        .arg("-c")
        .arg(&config)
        .args(["--listen", "127.0.0.1:0", "--scan-every-min", "0"])
        .env("TANDEM_ADMIN_PASSWORD", ADMIN_PASSWORD)
        .env("NOTIFY_SOCKET", &socket_path)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("serve starts");
    let url = support::wait_for_line(&mut serve, |line| {
        line.strip_prefix("tandem serving on ")
            .and_then(|rest| rest.split_whitespace().next())
            .map(str::to_string)
    });
    let mut buf = [0u8; 256];
    let n = socket.recv(&mut buf).expect("a readiness message");
    let ready = String::from_utf8_lossy(&buf[..n]).to_string();
    assert!(ready.contains("READY=1"), "{ready:?}");
    // Ready means answering.
    let answer = std::process::Command::new("curl")
        .args(["-sf", &format!("{url}/healthz")])
        .output()
        .expect("curl");
    assert!(answer.status.success(), "answers once ready");
    let ready_after = started.elapsed();

    let pid = serve.id().to_string();
    let term = std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .expect("kill");
    assert!(term.success());
    let n = socket.recv(&mut buf).expect("a stopping message");
    let stopping = String::from_utf8_lossy(&buf[..n]).to_string();
    assert!(stopping.contains("STOPPING=1"), "{stopping:?}");
    let deadline = Instant::now() + Duration::from_secs(25);
    let status = loop {
        if let Some(status) = serve.try_wait().expect("wait") {
            break status;
        }
        assert!(
            Instant::now() < deadline,
            "still running 25 s after SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(status.success(), "a clean stop: {status}");
    println!("ready (READY=1, answering) {ready_after:?} after start; SIGTERM: STOPPING=1, exit 0");
}
