//! The HTTP side of one camera on one site: a loopback listener (HTTPS under
//! `Simulator::start_https`) serving the standard ONVIF paths
//! (`/onvif/device_service`, `media_service`, `media2_service`,
//! `ptz_service`) and `/onvif/snapshot.jpg`, with the site's faults applied
//! before anything else: down closes the listener (connection refused) and
//! drops open connections; hang never answers; latency delays; a failure
//! rate drops connections without an answer. A `hostile` camera's SOAP
//! answers are mangled last (see [`crate::hostile`]).

use std::convert::Infallible;
use std::io;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::header::{CONTENT_TYPE, HeaderValue, WWW_AUTHENTICATE};
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tandem_onvif::auth::{DigestAlgorithm, DigestChallenge, UsernameToken};
use tandem_onvif::message;
use tandem_onvif::soap;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

use crate::device::{self, DeviceFault};
use crate::hostile::{self, Mangled};
use crate::quirks::AuthMode;
use crate::snapshot;
use crate::world::{Counted, Faults, Site};

/// Largest request body accepted.
const MAX_REQUEST_BYTES: usize = 1024 * 1024;
/// How far a WS-Security `Created` may be from the device clock.
const CREATED_WINDOW_S: i64 = 30;

/// Answers are whole, except a hostile camera's oversized ones, which stream.
type Body = BoxBody<Bytes, Infallible>;

/// Serves one camera of one site until `shutdown` turns true; over TLS
/// when `tls` is given.
pub(crate) async fn serve(
    site: Arc<Site>,
    camera: usize,
    listener: TcpListener,
    tls: Option<tokio_rustls::TlsAcceptor>,
    mut shutdown: watch::Receiver<bool>,
) {
    let Ok(address) = listener.local_addr() else {
        return;
    };
    let mut listener = Some(listener);
    let mut faults = site.subscribe();
    loop {
        let down = faults.borrow_and_update().down;
        if down {
            listener = None;
        } else if listener.is_none() {
            // Coming back up: take the same port again so addresses stay valid.
            listener = rebind(address).await;
        }
        tokio::select! {
            _ = shutdown.changed() => return,
            changed = faults.changed() => if changed.is_err() { return },
            accepted = accept(listener.as_ref()) => {
                if let Ok((stream, _)) = accepted {
                    tokio::spawn(connection(
                        site.clone(),
                        camera,
                        stream,
                        tls.clone(),
                        shutdown.clone(),
                    ));
                }
            }
        }
    }
}

async fn accept(listener: Option<&TcpListener>) -> io::Result<(TcpStream, std::net::SocketAddr)> {
    match listener {
        Some(l) => l.accept().await,
        None => std::future::pending().await,
    }
}

async fn rebind(address: std::net::SocketAddr) -> Option<TcpListener> {
    for _ in 0..50 {
        match TcpListener::bind(address).await {
            Ok(l) => return Some(l),
            Err(_) => tokio::time::sleep(Duration::from_millis(20)).await,
        }
    }
    tracing::warn!(%address, "could not take the endpoint's port back");
    None
}

/// How long a connection may wait for its next request before the simulator closes it.
pub const IDLE_CLOSE: Duration = Duration::from_secs(10);

async fn connection(
    site: Arc<Site>,
    camera: usize,
    stream: TcpStream,
    tls: Option<tokio_rustls::TlsAcceptor>,
    shutdown: watch::Receiver<bool>,
) {
    let _ = stream.set_nodelay(true);
    match tls {
        None => serve_connection(site, camera, stream, shutdown).await,
        Some(acceptor) => {
            // A failed handshake (a client that refused the certificate)
            // ends this connection only; a silent client is not waited for.
            if let Ok(Ok(stream)) = tokio::time::timeout(IDLE_CLOSE, acceptor.accept(stream)).await
            {
                serve_connection(site, camera, stream, shutdown).await;
            }
        }
    }
}

async fn serve_connection<S>(
    site: Arc<Site>,
    camera: usize,
    stream: S,
    mut shutdown: watch::Receiver<bool>,
) where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let mut faults = site.subscribe();
    let service_site = site.clone();
    let service =
        hyper::service::service_fn(move |request| handle(service_site.clone(), camera, request));
    // Idle keep-alive connections are closed after a while, as cameras do:
    // with thousands of endpoints, connections kept forever would exhaust
    // the process's file descriptors (a listener and a connection per endpoint).
    let conn = hyper::server::conn::http1::Builder::new()
        .timer(hyper_util::rt::TokioTimer::new())
        .header_read_timeout(IDLE_CLOSE)
        .serve_connection(TokioIo::new(stream), service);
    tokio::select! {
        _ = conn => {}
        _ = faults.wait_for(|f| f.down) => {}
        _ = shutdown.changed() => {}
    }
}

async fn handle(
    site: Arc<Site>,
    camera: usize,
    request: Request<Incoming>,
) -> Result<Response<Body>, io::Error> {
    let faults = site.faults();
    if faults.latency_ms > 0 {
        tokio::time::sleep(Duration::from_millis(faults.latency_ms)).await;
    }
    if faults.hang {
        // Never answer while the hang lasts; then drop the connection.
        let mut watch = site.subscribe();
        let _ = watch.wait_for(|f: &Faults| !f.hang).await;
        return Err(io::Error::other("hang released"));
    }
    if faults.failure_rate > 0.0 && rand::random::<f64>() < faults.failure_rate {
        return Err(io::Error::other("injected failure"));
    }
    let Some(cam) = site.camera(camera) else {
        return Ok(plain(StatusCode::NOT_FOUND, "no such camera"));
    };
    let path = request.uri().path().to_string();
    match (request.method().clone(), path.as_str()) {
        (Method::GET, "/onvif/snapshot.jpg") => Ok(snapshot(&site, cam.index).await),
        (Method::POST, path) => match device::service_of_path(path) {
            Some(_) => Ok(soap_call(&site, camera, request).await),
            None => Ok(plain(StatusCode::NOT_FOUND, "unknown ONVIF service path")),
        },
        _ => Ok(plain(StatusCode::NOT_FOUND, "not found")),
    }
}

async fn snapshot(site: &Site, index: usize) -> Response<Body> {
    let p = site.world().camera(index).motion().position(Instant::now());
    let view = snapshot::View {
        pan: p[0],
        tilt: p[1],
        zoom: p[2],
    };
    let jpeg =
        tokio::task::spawn_blocking(move || snapshot::render_jpeg(view, index as u64, 640, 360))
            .await;
    match jpeg {
        Ok(bytes) if !bytes.is_empty() => {
            let mut response = Response::new(Full::new(Bytes::from(bytes)).boxed());
            response
                .headers_mut()
                .insert(CONTENT_TYPE, HeaderValue::from_static("image/jpeg"));
            response
        }
        _ => plain(StatusCode::INTERNAL_SERVER_ERROR, "snapshot failed"),
    }
}

/// What authentication concluded.
enum Denied {
    Fault(DeviceFault),
    Challenge,
}

async fn soap_call(site: &Site, camera: usize, request: Request<Incoming>) -> Response<Body> {
    site.count(Counted::Soap);
    let (parts, body) = request.into_parts();
    let bytes = match Limited::new(body, MAX_REQUEST_BYTES).collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(_) => return plain(StatusCode::PAYLOAD_TOO_LARGE, "request too large or broken"),
    };
    let Some(cam) = site.camera(camera) else {
        return plain(StatusCode::NOT_FOUND, "no such camera");
    };
    let Ok(text) = std::str::from_utf8(&bytes) else {
        return fault(&DeviceFault::bad_request("request is not UTF-8"));
    };
    let envelope = match soap::Envelope::parse(text) {
        Ok(e) => e,
        Err(e) => return fault(&DeviceFault::bad_request(&e.to_string())),
    };
    let body = match envelope.body_element() {
        Ok(b) => b,
        Err(e) => return fault(&DeviceFault::bad_request(&e.to_string())),
    };
    let request = match message::Request::parse(body) {
        Ok(Some(r)) => r,
        Ok(None) => return fault(&DeviceFault::not_supported(body.tag_name().name())),
        Err(e) => return fault(&DeviceFault::bad_request(&e.to_string())),
    };
    // GetSystemDateAndTime stays honest: it is how a client first meets a
    // device, so a hostile camera is found reachable and then fails clearly
    // on the calls that matter, as a device with broken firmware does.
    let hostility = match request {
        message::Request::GetSystemDateAndTime => None,
        _ => cam.next_hostility(),
    };
    let reply = |status: StatusCode, xml: String| match hostility {
        Some(kind) => hostile_response(kind, &xml),
        None => soap_response(status, xml),
    };
    // GetSystemDateAndTime always answers without authentication (a client
    // needs the clock to authenticate); the rest of PRE_AUTH with `preauth`.
    let open = matches!(request, message::Request::GetSystemDateAndTime)
        || (cam.quirks.pre_auth && request.is_pre_auth());
    if !open {
        let authorization = parts
            .headers
            .get(hyper::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok());
        match authorize(
            site,
            cam.quirks.auth,
            cam.now(),
            envelope.header(),
            authorization,
        ) {
            Ok(()) => {}
            Err(Denied::Fault(f)) => {
                site.count(Counted::Refusal);
                let (status, xml) = fault_parts(&f, cam.quirks.soap11_faults);
                return reply(status, xml);
            }
            Err(Denied::Challenge) => {
                site.count(Counted::Challenge);
                return challenge(site, cam.quirks.auth);
            }
        }
    }
    // Answer in the namespace of the service the request named: devices accept
    // any operation at any of their service paths, and so do we.
    let answer_service = request.service();
    match device::handle(site, cam, request, Instant::now()) {
        Ok(response) => {
            let xml = soap::envelope(None, &response.to_xml(answer_service));
            reply(StatusCode::OK, xml)
        }
        Err(f) => {
            let (status, xml) = fault_parts(&f, cam.quirks.soap11_faults);
            reply(status, xml)
        }
    }
}

/// A hostile camera's answer in place of `envelope`, always with status 200.
fn hostile_response(kind: crate::quirks::Hostility, envelope: &str) -> Response<Body> {
    match hostile::mangle(kind, envelope) {
        Mangled::Whole(text) => soap_response(StatusCode::OK, text),
        Mangled::Stream(body) => {
            let mut response = Response::new(body.boxed());
            response.headers_mut().insert(
                CONTENT_TYPE,
                HeaderValue::from_static("application/soap+xml; charset=utf-8"),
            );
            response
        }
    }
}

/// Checks a request's credentials; `device_now` is the device's clock, which
/// a WS-Security `Created` must be near.
fn authorize(
    site: &Site,
    mode: AuthMode,
    device_now: chrono::DateTime<chrono::Utc>,
    header: Option<tandem_onvif::xml::Node<'_, '_>>,
    authorization: Option<&str>,
) -> Result<(), Denied> {
    let token = header.and_then(UsernameToken::from_header);
    let check_wsse = |token: &UsernameToken| -> Result<(), Denied> {
        if token.username != site.credentials.username
            || !token.verifies(&site.credentials.password)
        {
            return Err(Denied::Fault(DeviceFault::not_authorized(
                "wrong username or password",
            )));
        }
        let created = chrono::DateTime::parse_from_rfc3339(&token.created).map_err(|_| {
            Denied::Fault(DeviceFault::not_authorized("Created is not a timestamp"))
        })?;
        let skew = (created.to_utc() - device_now).num_seconds();
        if skew.abs() > CREATED_WINDOW_S {
            return Err(Denied::Fault(DeviceFault::not_authorized(&format!(
                "Created is {skew} s from the device clock; correct for the device's clock offset"
            ))));
        }
        Ok(())
    };
    let check_digest = |value: &str| -> Result<(), Denied> {
        let ok = challenges(site, mode).iter().any(|c| {
            c.verify(value, "POST", &site.credentials.password)
                .as_deref()
                == Some(&site.credentials.username)
        });
        if ok { Ok(()) } else { Err(Denied::Challenge) }
    };
    match mode {
        AuthMode::None => Ok(()),
        AuthMode::WsSecurity => match &token {
            Some(t) => check_wsse(t),
            None => Err(Denied::Fault(DeviceFault::not_authorized(
                "a WS-Security UsernameToken is required",
            ))),
        },
        AuthMode::Digest | AuthMode::DigestMd5 => match authorization {
            Some(value) => check_digest(value),
            None => Err(Denied::Challenge),
        },
        AuthMode::Any => match (&token, authorization) {
            (Some(t), _) => check_wsse(t),
            (None, Some(value)) => check_digest(value),
            (None, None) => Err(Denied::Challenge),
        },
    }
}

fn challenges(site: &Site, mode: AuthMode) -> Vec<DigestChallenge> {
    let make = |algorithm| DigestChallenge {
        realm: "tandem-sim".into(),
        nonce: site.digest_nonce.clone(),
        opaque: None,
        algorithm,
        session: false,
        qop_auth: true,
    };
    match mode {
        AuthMode::DigestMd5 => vec![make(DigestAlgorithm::Md5)],
        _ => vec![make(DigestAlgorithm::Sha256), make(DigestAlgorithm::Md5)],
    }
}

fn challenge(site: &Site, mode: AuthMode) -> Response<Body> {
    let mut response = plain(StatusCode::UNAUTHORIZED, "authentication required");
    for c in challenges(site, mode) {
        if let Ok(value) = HeaderValue::from_str(&c.to_header()) {
            response.headers_mut().append(WWW_AUTHENTICATE, value);
        }
    }
    response
}

fn fault(f: &DeviceFault) -> Response<Body> {
    let (status, xml) = fault_parts(f, false);
    soap_response(status, xml)
}

/// The status and envelope of a fault answer, in SOAP 1.1 for devices that write it.
fn fault_parts(f: &DeviceFault, soap11: bool) -> (StatusCode, String) {
    let xml = if soap11 {
        soap::fault_envelope_soap11(f.sender, &f.subcodes, &f.reason)
    } else {
        soap::fault_envelope(f.sender, &f.subcodes, &f.reason)
    };
    let status = StatusCode::from_u16(f.http_status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    (status, xml)
}

fn soap_response(status: StatusCode, xml: String) -> Response<Body> {
    let mut response = Response::new(Full::new(Bytes::from(xml)).boxed());
    *response.status_mut() = status;
    response.headers_mut().insert(
        CONTENT_TYPE,
        HeaderValue::from_static("application/soap+xml; charset=utf-8"),
    );
    response
}

fn plain(status: StatusCode, text: &'static str) -> Response<Body> {
    let mut response = Response::new(Full::new(Bytes::from_static(text.as_bytes())).boxed());
    *response.status_mut() = status;
    response
}
