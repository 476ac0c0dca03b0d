//! Issue 11, finding 9: preset work swung the camera away and left it there.
//! On ONVIF sites storing a position means moving the physical camera; the
//! camera now goes back to where it was, unless someone took control
//! meanwhile. Driven through the API of a running `tandem serve`, with a
//! second operator taking control in the middle of the work.

mod support;

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use support::{get_json, login, login_as, service, set_faults, simulator, temp_dir};

/// The physical camera 1: pan, tilt, zoom, and whether it moves.
fn camera(control: &str) -> ([f64; 3], bool) {
    let c = get_json(&format!("{control}/api/cameras/1"));
    let axis = |k: &str| c[k].as_f64().expect("axis");
    let moving = c["moving"]["pan_tilt"].as_bool().unwrap_or(false)
        || c["moving"]["zoom"].as_bool().unwrap_or(false);
    ([axis("pan"), axis("tilt"), axis("zoom")], moving)
}

fn near(a: [f64; 3], b: [f64; 3]) -> bool {
    a.iter().zip(b).all(|(x, y)| (x - y).abs() < 0.01)
}

/// Waits (off the runtime's threads) until the camera rests at `at`; answers where it rests.
async fn rests_at(control: &str, at: [f64; 3], within: Duration) -> [f64; 3] {
    let control = control.to_string();
    tokio::task::spawn_blocking(move || {
        let deadline = Instant::now() + within;
        loop {
            let (now, moving) = camera(&control);
            if (!moving && near(now, at)) || Instant::now() > deadline {
                return now;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    })
    .await
    .expect("poll")
}

struct Api {
    http: reqwest::Client,
    url: String,
}

impl Api {
    async fn send(
        &self,
        cookie: &str,
        method: &str,
        path: &str,
        body: Option<Value>,
    ) -> (u16, Value) {
        let method = reqwest::Method::from_bytes(method.as_bytes()).expect("method");
        let mut request = self
            .http
            .request(method, format!("{}{path}", self.url))
            .header("cookie", cookie)
            .header("origin", support::origin(&self.url));
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.expect("request");
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }
}

fn position(p: [f64; 3]) -> Value {
    json!({ "pan": p[0], "tilt": p[1], "zoom": p[2] })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn preset_work_returns_the_camera_unless_a_second_operator_took_control() {
    let dir = temp_dir("goes-back");
    let (_sim, control, config) = simulator(&dir);
    let (_serve, url) = service(&config);
    let api = Api {
        http: reqwest::Client::new(),
        url: url.clone(),
    };
    let admin = login(&api.http, &url).await;
    let (status, body) = api
        .send(
            &admin,
            "POST",
            "/api/v1/users",
            Some(json!({ "name": "olga", "password": "tulip-kettle-harbour", "roles": ["operator"] })),
        )
        .await;
    assert!(status < 300, "{status} {body}");
    let olga = login_as(&api.http, &url, "olga", "tulip-kettle-harbour").await;
    let presets = "/api/v1/cameras/cam-1/presets";
    let (status, body) = api
        .send(
            &admin,
            "POST",
            presets,
            Some(json!({ "number": 5, "name": "Gate", "position": position([0.5, 0.1, 0.2]) })),
        )
        .await;
    assert_eq!(status, 200, "{body}");

    // The operator watches at A, and lets go of the camera.
    let a = [-0.4, -0.2, 0.0];
    let (status, body) = api
        .send(
            &admin,
            "POST",
            "/api/v1/cameras/cam-1/ptz/absolute",
            Some(position(a)),
        )
        .await;
    assert!(status < 300, "{status} {body}");
    assert!(near(
        rests_at(&control, a, Duration::from_secs(10)).await,
        a
    ));
    let (status, _) = api
        .send(&admin, "DELETE", "/api/v1/cameras/cam-1/control", None)
        .await;
    assert!(status < 300);

    // Re-aim and rename: each moves the camera to store the position on both
    // sites, then returns it to A.
    for change in [
        json!({ "position": position([0.3, 0.3, 0.1]) }),
        json!({ "name": "Gate 2" }),
    ] {
        let (status, body) = api
            .send(
                &admin,
                "PATCH",
                &format!("{presets}/5"),
                Some(change.clone()),
            )
            .await;
        assert_eq!(status, 200, "{change}: {body}");
        assert_eq!(
            body["moves_camera"],
            json!(true),
            "the answer says it moved: {body}"
        );
        let back = rests_at(&control, a, Duration::from_secs(10)).await;
        assert!(
            near(back, a),
            "after {change} the camera is back at A: {back:?}"
        );
    }

    // Slow sites, so the work takes seconds; olga takes control in the middle.
    for site in [1, 2] {
        tokio::task::block_in_place(|| set_faults(&control, site, json!({ "latency_ms": 250 })));
    }
    let b = [0.6, -0.1, 0.1];
    let work = {
        let api = Api {
            http: api.http.clone(),
            url: url.clone(),
        };
        let admin = admin.clone();
        tokio::spawn(async move {
            api.send(
                &admin,
                "PATCH",
                &format!("{presets}/5"),
                Some(json!({ "position": position(b) })),
            )
            .await
        })
    };
    // The work has moved the camera away from A: olga steers it to C.
    let ctl = control.clone();
    let started = tokio::task::spawn_blocking(move || {
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if !near(camera(&ctl).0, a) {
                return true;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        false
    })
    .await
    .expect("poll");
    assert!(started, "the preset work moved the camera");
    let c = [-0.7, 0.4, 0.0];
    let (status, body) = api
        .send(
            &olga,
            "POST",
            "/api/v1/cameras/cam-1/ptz/absolute",
            Some(position(c)),
        )
        .await;
    assert!(status < 300, "olga takes control: {status} {body}");
    let (status, body) = work.await.expect("work");
    assert_ne!(status, 500, "{body}");
    for site in [1, 2] {
        tokio::task::block_in_place(|| set_faults(&control, site, json!({ "latency_ms": 0 })));
    }
    // Whatever the work did, the camera stays where olga put it.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let end = rests_at(&control, c, Duration::from_secs(10)).await;
    assert!(
        near(end, c),
        "the camera stays where olga steered it: {end:?}"
    );
}
