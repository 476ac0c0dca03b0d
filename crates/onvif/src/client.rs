//! The client side: one ONVIF device (or VMS bridge endpoint) and the calls
//! tandem makes to it.
//!
//! A [`Device`] learns the device's clock offset (`GetSystemDateAndTime`, the one
//! unauthenticated call) so that WS-Security timestamps are on the device's clock,
//! finds its service addresses (`GetServices`, falling back to `GetCapabilities`),
//! and remembers which authentication the device accepts: WS-Security first,
//! HTTP Digest when the device answers 401, nothing when it needs nothing. What
//! it learned ([`Learned`]) can be kept and given to the next process.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use chrono::{TimeDelta, Utc};
use rand::Rng;
use roxmltree::Node;

use crate::auth::{self, AuthMode, Credentials, DigestChallenge};
use crate::error::{AuthAdvice, Error, Result, WSSE_CLOCK_TOLERANCE};
use crate::message::{self, Request, ServiceKind};
use crate::soap::{self, Envelope};
use crate::tls::{Trust, TrustError};
use crate::types::{
    DeviceInformation, Preset, Profile, PtzConfiguration, PtzNode, PtzServiceCapabilities,
    PtzStatus, PtzVector, Service, ServiceAddresses,
};

/// An HTTP POST as the transport sends it.
#[derive(Debug, Clone)]
pub struct HttpRequest {
    /// Absolute URL.
    pub url: String,
    /// Extra headers (content type, authorization).
    pub headers: Vec<(String, String)>,
    /// The SOAP envelope.
    pub body: String,
    /// Give up after this long.
    pub timeout: Duration,
    /// Refuse answers larger than this many bytes.
    pub max_response_bytes: usize,
    /// Close the connection after the answer instead of keeping it for the
    /// next call (`Connection: close`): for a caller that will not call this
    /// device again soon.
    pub close: bool,
}

/// An HTTP answer as the transport returns it.
#[derive(Debug, Clone)]
pub struct HttpResponse {
    /// Status code.
    pub status: u16,
    /// All `WWW-Authenticate` header values.
    pub www_authenticate: Vec<String>,
    /// The body, at most `max_response_bytes` long.
    pub body: Vec<u8>,
}

/// The boxed future a [`Transport`] returns.
pub type TransportFuture<'a> = Pin<Box<dyn Future<Output = Result<HttpResponse>> + Send + 'a>>;

/// Sends HTTP requests. The production transport is [`HttpTransport`]; tests may
/// plug in their own.
pub trait Transport: Send + Sync {
    /// Posts one request. Must map connection failures to [`Error::Transport`],
    /// an elapsed timeout to [`Error::Timeout`] and an oversized body to [`Error::TooLarge`].
    fn post(&self, request: HttpRequest) -> TransportFuture<'_>;

    /// Gets one resource (a snapshot), with the same error mapping as
    /// [`Transport::post`]; `body` is ignored. Transports that only carry SOAP
    /// need not implement it.
    fn get(&self, request: HttpRequest) -> TransportFuture<'_> {
        Box::pin(async move {
            Err(Error::Transport {
                url: request.url,
                message: "this transport cannot GET".into(),
            })
        })
    }
}

/// The HTTP transport: a pooled `reqwest` client.
#[derive(Debug, Clone)]
pub struct HttpTransport {
    client: reqwest::Client,
}

impl HttpTransport {
    /// A transport with its own connection pool that accepts any HTTPS
    /// certificate: [`HttpTransport::with_trust`] with `None`.
    pub fn new() -> Result<Self> {
        Self::with_trust(None).map_err(|e| Error::Transport {
            url: String::new(),
            message: e.to_string(),
        })
    }

    /// A transport with its own connection pool, trusting HTTPS devices as
    /// `trust` says. `None` accepts any certificate: device certificates are
    /// very often self-signed, and the device is identified by its
    /// configured address and credentials. `Some` verifies as XProtect
    /// servers are verified (a CA file, a pinned fingerprint, or the public
    /// roots); a certificate it refuses fails the call with
    /// [`Error::Certificate`]. Fails when the trust cannot be used (a CA file
    /// that cannot be read or holds no certificate).
    pub fn with_trust(trust: Option<&Trust>) -> std::result::Result<Self, TrustError> {
        let builder = reqwest::Client::builder()
            // Well under the time devices keep idle connections open (often
            // 5 to 15 s), so a request never races a device closing its end;
            // and thousands of cameras do not hold thousands of sockets.
            .pool_idle_timeout(Duration::from_millis(1500))
            .tcp_nodelay(true);
        let builder = match trust {
            None => builder.danger_accept_invalid_certs(true),
            Some(trust) => crate::tls::configure(builder, trust)?,
        };
        let client = builder
            .build()
            .map_err(|e| TrustError::new(format!("cannot build the HTTP client: {e}")))?;
        Ok(HttpTransport { client })
    }
}

impl HttpTransport {
    /// Sends `builder`'s request within the timeout, reading at most the size cap.
    async fn exchange(
        &self,
        builder: reqwest::RequestBuilder,
        request: HttpRequest,
    ) -> Result<HttpResponse> {
        let url = request.url.clone();
        let timeout = request.timeout;
        let work = async {
            let mut builder = builder;
            for (name, value) in &request.headers {
                builder = builder.header(name, value);
            }
            if request.close {
                builder = builder.header(reqwest::header::CONNECTION, "close");
            }
            let mut response = builder
                .send()
                .await
                .map_err(|e| transport_error(&url, &e))?;
            let status = response.status().as_u16();
            let www_authenticate = response
                .headers()
                .get_all(reqwest::header::WWW_AUTHENTICATE)
                .iter()
                .filter_map(|v| v.to_str().ok().map(str::to_string))
                .collect();
            let limit = request.max_response_bytes;
            if response
                .content_length()
                .is_some_and(|len| len > limit as u64)
            {
                return Err(Error::TooLarge {
                    url: url.clone(),
                    limit,
                });
            }
            let mut body = Vec::new();
            while let Some(chunk) = response
                .chunk()
                .await
                .map_err(|e| transport_error(&url, &e))?
            {
                if body.len() + chunk.len() > limit {
                    return Err(Error::TooLarge {
                        url: url.clone(),
                        limit,
                    });
                }
                body.extend_from_slice(&chunk);
            }
            Ok(HttpResponse {
                status,
                www_authenticate,
                body,
            })
        };
        match tokio::time::timeout(timeout, work).await {
            Ok(result) => result,
            Err(_) => Err(Error::Timeout {
                url,
                after: timeout,
            }),
        }
    }
}

impl Transport for HttpTransport {
    fn post(&self, request: HttpRequest) -> TransportFuture<'_> {
        Box::pin(async move {
            let builder = self.client.post(&request.url).body(request.body.clone());
            self.exchange(builder, request).await
        })
    }

    fn get(&self, request: HttpRequest) -> TransportFuture<'_> {
        Box::pin(async move {
            let builder = self.client.get(&request.url);
            self.exchange(builder, request).await
        })
    }
}

fn transport_error(url: &str, e: &reqwest::Error) -> Error {
    // A certificate the trust refused: the device answered, no retry will
    // cure it, and the TLS check's words say why.
    if let Some(problem) = crate::tls::certificate_problem(e) {
        return Error::Certificate {
            url: url.to_string(),
            problem,
        };
    }
    // Walk the source chain: "connection refused" sits a few levels down.
    let mut message = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(inner) = source {
        message = format!("{message}: {inner}");
        source = inner.source();
    }
    Error::Transport {
        url: url.to_string(),
        message,
    }
}

/// Limits applied to every call.
#[derive(Debug, Clone)]
pub struct ClientConfig {
    /// Time bound of one HTTP exchange.
    pub timeout: Duration,
    /// Answers larger than this are refused unread.
    pub max_response_bytes: usize,
}

impl Default for ClientConfig {
    fn default() -> Self {
        ClientConfig {
            timeout: Duration::from_secs(5),
            max_response_bytes: 4 * 1024 * 1024,
        }
    }
}

/// What a [`Device`] learned about its device that is worth keeping beyond
/// one process: the engine stores it per binding and gives it back to the
/// next process with [`Device::remember`], which then needs no extra round
/// trip to authenticate.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Learned {
    /// The device's clock minus ours: what WS-Security timestamps add.
    pub clock_offset: Option<TimeDelta>,
    /// The authentication the device accepted on a call that needed it.
    pub auth: Option<AuthMode>,
    /// Where its media and PTZ services are (`GetServices`), so that another
    /// process skips asking; forgotten when a service address stops answering.
    pub services: Option<ServiceAddresses>,
}

/// Whether a call's connection stays open for the next call to the device.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Linger {
    /// Kept idle for the next call (keep-alive).
    Keep,
    /// Closed after the answer.
    Close,
}

/// Told of what a [`Device`] learned, each time it changes (see [`Device::on_learned`]).
pub type LearnedSink = dyn Fn(Learned) + Send + Sync;

/// What one request carried to authenticate itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Sent {
    /// Nothing: no credentials, or a Digest device's challenge is awaited.
    Nothing,
    /// A UsernameToken whose `Created` added this offset to our clock.
    WsSecurity { offset: TimeDelta },
    /// An answer to the device's Digest challenge.
    Digest,
}

impl Sent {
    fn mode(self) -> Option<AuthMode> {
        match self {
            Sent::Nothing => None,
            Sent::WsSecurity { .. } => Some(AuthMode::WsSecurity),
            Sent::Digest => Some(AuthMode::HttpDigest),
        }
    }
}

/// Everything a [`Device`] learns as it goes. Each field is replaced whole,
/// so a panic elsewhere cannot leave it inconsistent.
#[derive(Debug, Default)]
struct State {
    /// See [`Learned::clock_offset`].
    clock_offset: Option<TimeDelta>,
    /// See [`Learned::auth`].
    auth: Option<AuthMode>,
    services: Option<ServiceAddresses>,
    /// `services` came from [`Device::remember`], not from this device's own asking.
    services_from_memory: bool,
    /// The Digest challenge in use and how many requests answered it (`nc`).
    digest: Option<(DigestChallenge, u32)>,
}

impl State {
    fn learned(&self) -> Learned {
        Learned {
            clock_offset: self.clock_offset,
            auth: self.auth,
            services: self.services.clone(),
        }
    }
}

/// One ONVIF device endpoint.
///
/// It owns how tandem authenticates to the device:
/// - **the clock offset**, read (`GetSystemDateAndTime`) before the first
///   WS-Security request unless [`Device::remember`] gave one, and read
///   again once when the device refuses a request (`ter:NotAuthorized`), which
///   is then sent once more: a clock that moved since the offset was learned
///   costs two round trips, not a failure. When the device still refuses and
///   its clock is far off, the request is tried once with our own clock
///   (firmware that reports local time as UTC checks timestamps against true
///   UTC), and the error says it is about the clock;
/// - **the authentication mode**: WS-Security first, HTTP Digest once the
///   device answers 401 with a challenge, whose nonce is then reused with an
///   increasing `nc`, so a Digest device challenges once per `Device`, not
///   once per call. A mode remembered from another process is used at once.
///
/// Until it knows both, one call at a time learns them (the first-contact
/// lock, waited for one call's timeout at most), so that concurrent first
/// calls do not each read the clock or each take a challenge. The only requests sent twice are those the device
/// refused to authenticate, which it did not execute.
pub struct Device {
    transport: Arc<dyn Transport>,
    device_url: String,
    credentials: Option<Credentials>,
    config: ClientConfig,
    state: Mutex<State>,
    first_contact: tokio::sync::Mutex<()>,
    sink: OnceLock<Box<LearnedSink>>,
}

impl std::fmt::Debug for Device {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Device")
            .field("device_url", &self.device_url)
            .field("credentials", &self.credentials)
            .finish_non_exhaustive()
    }
}

impl Device {
    /// A device reached at `device_url` (its device service), with optional credentials.
    pub fn new(
        transport: Arc<dyn Transport>,
        device_url: impl Into<String>,
        credentials: Option<Credentials>,
        config: ClientConfig,
    ) -> Self {
        Device {
            transport,
            device_url: device_url.into(),
            credentials,
            config,
            state: Mutex::new(State::default()),
            first_contact: tokio::sync::Mutex::new(()),
            sink: OnceLock::new(),
        }
    }

    /// The device service URL.
    pub fn device_url(&self) -> &str {
        &self.device_url
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        // A panic while holding this lock cannot leave it inconsistent: every
        // field is replaced whole. So a poisoned lock is still usable.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The device clock minus ours, once known.
    pub fn clock_offset(&self) -> Option<TimeDelta> {
        self.state().clock_offset
    }

    /// The authentication the device accepted on a call that needed one
    /// (or that [`Device::remember`] gave); `None` until then.
    pub fn auth_mode(&self) -> Option<AuthMode> {
        self.state().auth
    }

    /// What this device learned so far.
    pub fn learned(&self) -> Learned {
        self.state().learned()
    }

    /// Starts from what another process learned (the engine's store): an
    /// offset is then not read before the first call, and a Digest device
    /// gets no WS-Security token first. A stale offset costs one refusal.
    pub fn remember(&self, learned: Learned) {
        let mut state = self.state();
        state.clock_offset = learned.clock_offset.or(state.clock_offset);
        state.auth = learned.auth.or(state.auth);
        if let Some(services) = learned.services {
            state.services = Some(services);
            state.services_from_memory = true;
        }
    }

    /// Calls `sink` with everything learned whenever it changes (the engine
    /// stores it). Only the first sink is kept. `sink` runs on the calling
    /// task and must be quick.
    pub fn on_learned(&self, sink: Box<LearnedSink>) {
        let _ = self.sink.set(sink);
    }

    /// Applies `change` to the state and tells the sink when what is
    /// learned changed.
    fn learn(&self, change: impl FnOnce(&mut State)) {
        let changed = {
            let mut state = self.state();
            let before = state.learned();
            change(&mut state);
            let after = state.learned();
            (after != before).then_some(after)
        };
        if let (Some(learned), Some(sink)) = (changed, self.sink.get()) {
            sink(learned);
        }
    }

    /// Reads the clock, finds the services: what every session with a device starts with.
    pub async fn connect(&self) -> Result<ServiceAddresses> {
        self.sync_clock().await?;
        self.service_addresses().await
    }

    /// Reads the device clock and records its offset from ours.
    pub async fn sync_clock(&self) -> Result<TimeDelta> {
        let before = Utc::now();
        let device_now = self.get_system_date_and_time().await?;
        let after = Utc::now();
        // The device read its clock about halfway through the exchange.
        let midpoint = before + (after - before) / 2;
        let offset = device_now - midpoint;
        // The device answers in whole seconds: offsets under a second are noise.
        let offset = if offset.num_milliseconds().abs() < 1_000 {
            TimeDelta::zero()
        } else {
            offset
        };
        self.learn(|state| state.clock_offset = Some(offset));
        Ok(offset)
    }

    /// [`Device::sync_clock`] where a device that cannot tell its time does
    /// not stop the call: its timestamps are then on our clock, the best
    /// guess left. Only a device that does not answer at all fails.
    async fn learn_clock(&self) -> Result<()> {
        // Boxed: reading the clock is itself a `call`.
        match Box::pin(self.sync_clock()).await {
            Ok(_) => Ok(()),
            Err(e) if e.is_unreachable() => Err(e),
            Err(_) => {
                let mut state = self.state();
                state.clock_offset = state.clock_offset.or(Some(TimeDelta::zero()));
                Ok(())
            }
        }
    }

    /// Whether the next WS-Security request needs the clock read first.
    fn needs_clock(&self) -> bool {
        let state = self.state();
        self.credentials.is_some()
            && state.clock_offset.is_none()
            && state.digest.is_none()
            && state.auth != Some(AuthMode::HttpDigest)
    }

    /// Whether calls know how to authenticate without learning anything first.
    fn knows_how(&self) -> bool {
        let state = self.state();
        self.credentials.is_none()
            || state.digest.is_some()
            || (state.auth == Some(AuthMode::WsSecurity) && state.clock_offset.is_some())
    }

    /// The service addresses, from `GetServices` or, on older devices, `GetCapabilities`.
    pub async fn service_addresses(&self) -> Result<ServiceAddresses> {
        if let Some(services) = self.state().services.clone() {
            return Ok(services);
        }
        let addresses = match self.get_services(false).await {
            Ok(services) if !services.is_empty() => ServiceAddresses::from_services(&services),
            Ok(_) => self.get_capabilities().await?,
            Err(e) if e.fault().is_some() => self.get_capabilities().await?,
            Err(e) => return Err(e),
        };
        let known = addresses.clone();
        self.learn(|state| {
            state.services = Some(known);
            state.services_from_memory = false;
        });
        Ok(addresses)
    }

    async fn address_of(&self, kind: ServiceKind) -> Result<String> {
        if kind == ServiceKind::Device {
            return Ok(self.device_url.clone());
        }
        // Boxed: service discovery itself calls the device service through `call`.
        let addresses = Box::pin(self.service_addresses()).await?;
        let found = match kind {
            ServiceKind::Media => addresses.media,
            ServiceKind::Media2 => addresses.media2,
            ServiceKind::Ptz => addresses.ptz,
            ServiceKind::Device => None,
        };
        found.ok_or(Error::NoService(match kind {
            ServiceKind::Media => "media",
            ServiceKind::Media2 => "media2",
            _ => "PTZ",
        }))
    }

    /// Sends `request` to its service and reads the answer's body element
    /// from the tree with `read`, authenticating as the type's
    /// documentation says.
    async fn call<T>(
        &self,
        request: Request,
        read: impl Fn(Node<'_, '_>) -> Result<T>,
    ) -> Result<T> {
        let (namespace, local) = request.response_element();
        let read_text = |text: &str| {
            let envelope = Envelope::parse(text)?;
            read(envelope.expect(namespace, &local)?)
        };
        self.call_text(request, read_text, Linger::Keep).await
    }

    /// [`Device::call`] with a reader of the whole answer's text: for the
    /// answers read as a stream.
    async fn call_text<T>(
        &self,
        request: Request,
        read: impl Fn(&str) -> Result<T>,
        linger: Linger,
    ) -> Result<T> {
        let kind = request.service();
        let from_memory = self.state().services_from_memory;
        let url = self.address_of(kind).await?;
        let result = self.call_at(&url, &request, &read, linger).await;
        // An address that no longer answers is asked for again: devices move
        // their services on a firmware update or a port change. One that
        // came from another process's memory and failed without an answer
        // (or with 404) is asked for at once; the request is sent again only
        // when the device now names another address, which the first one
        // then was not.
        let stale =
            |e: &Error| matches!(e, Error::Transport { .. } | Error::Http { status: 404, .. });
        match &result {
            Err(e) if url != self.device_url && (stale(e) || e.is_unreachable()) => {
                self.learn(|state| {
                    state.services = None;
                    state.services_from_memory = false;
                });
                if from_memory && stale(e) {
                    let fresh = self.address_of(kind).await?;
                    if fresh != url {
                        return self.call_at(&fresh, &request, &read, linger).await;
                    }
                }
                result
            }
            _ => result,
        }
    }

    /// [`Device::call_text`] at a known address.
    async fn call_at<T>(
        &self,
        url: &str,
        request: &Request,
        read: impl Fn(&str) -> Result<T>,
        linger: Linger,
    ) -> Result<T> {
        let url = url.to_string();
        let body = request.to_xml();
        if matches!(request, Request::GetSystemDateAndTime) {
            // How a client meets a device: never authenticated.
            let response = self.post(&url, request, &body, None, None, linger).await?;
            return read_answer(&url, request, &response, &read);
        }
        // Held until this call ends, when there is something to learn. Waited
        // for one call's timeout at most: behind a device that does not
        // answer, calls must not queue up (failover counts on their failing
        // in time), and learning twice costs only a round trip.
        let _first_contact = if self.knows_how() {
            None
        } else {
            tokio::time::timeout(self.config.timeout, self.first_contact.lock())
                .await
                .ok()
        };
        if self.needs_clock() {
            self.learn_clock().await?;
        }
        // Each at most once per call: answering a Digest challenge, reading
        // the clock again after a refusal, trying our own clock.
        let mut challenged = false;
        let mut relearned = false;
        let mut own_clock = false;
        loop {
            let (header, authorization, sent) = self.authenticate(&url, own_clock);
            let response = self
                .post(&url, request, &body, header, authorization, linger)
                .await?;
            if response.status == 401 {
                let challenge =
                    DigestChallenge::choose(response.www_authenticate.iter().map(String::as_str));
                match (challenge, &self.credentials) {
                    (Some(challenge), Some(_)) if !challenged => {
                        self.state().digest = Some((challenge, 0));
                        challenged = true;
                        continue;
                    }
                    _ => return Err(self.refused(url, "HTTP 401".into(), sent)),
                }
            }
            let message = match read_answer(&url, request, &response, &read) {
                Ok(value) => {
                    self.succeeded(request, sent, own_clock);
                    return Ok(value);
                }
                Err(Error::Unauthorized { message, .. }) => message,
                Err(e) => return Err(e),
            };
            match sent {
                _ if self.credentials.is_none() => {}
                // The device's clock may have moved since its offset was learned.
                Sent::WsSecurity { .. } if !relearned => {
                    relearned = true;
                    self.learn_clock().await?;
                    continue;
                }
                Sent::WsSecurity { .. } if !own_clock && self.clock_is_far() => {
                    own_clock = true;
                    continue;
                }
                // A fault, not a challenge: the device wants WS-Security now.
                Sent::Digest | Sent::Nothing if !relearned => {
                    relearned = true;
                    {
                        let mut state = self.state();
                        state.digest = None;
                        state.auth = None;
                    }
                    if self.needs_clock() {
                        self.learn_clock().await?;
                    }
                    continue;
                }
                _ => {}
            }
            return Err(self.refused(url, message, sent));
        }
    }

    /// Posts one SOAP request with the given authentication.
    async fn post(
        &self,
        url: &str,
        request: &Request,
        body: &str,
        header: Option<String>,
        authorization: Option<String>,
        linger: Linger,
    ) -> Result<HttpResponse> {
        let content_type = format!(
            "application/soap+xml; charset=utf-8; action=\"{}\"",
            request.action()
        );
        let mut headers = vec![("Content-Type".to_string(), content_type)];
        if let Some(authorization) = authorization {
            headers.push(("Authorization".to_string(), authorization));
        }
        self.transport
            .post(HttpRequest {
                url: url.to_string(),
                headers,
                body: soap::envelope(header.as_deref(), body),
                close: linger == Linger::Close,
                timeout: self.config.timeout,
                max_response_bytes: self.config.max_response_bytes,
            })
            .await
    }

    /// Whether the device's clock, as it reports it, is beyond what
    /// WS-Security tolerates: then a refusal is likely about the clock.
    fn clock_is_far(&self) -> bool {
        self.clock_offset()
            .is_some_and(|offset| offset.abs() > WSSE_CLOCK_TOLERANCE)
    }

    /// The error of a refused authentication, with what it most likely needs.
    fn refused(&self, url: String, message: String, sent: Sent) -> Error {
        let advice = match (sent, self.clock_offset()) {
            _ if self.credentials.is_none() => AuthAdvice::NoCredentials,
            (Sent::WsSecurity { .. }, Some(offset)) if self.clock_is_far() => {
                AuthAdvice::Clock(offset)
            }
            _ => AuthAdvice::Credentials,
        };
        Error::Unauthorized {
            url,
            message,
            refused: sent.mode(),
            advice,
        }
    }

    /// Records what a successful call proved: the mode it authenticated
    /// with, unless the call is one a device may answer anyway; and, when our
    /// own clock was what worked, that the device's reported clock is wrong.
    fn succeeded(&self, request: &Request, sent: Sent, own_clock: bool) {
        let proved = match sent {
            Sent::Digest => Some(AuthMode::HttpDigest),
            _ if request.is_pre_auth() && !own_clock => None,
            Sent::WsSecurity { .. } => Some(AuthMode::WsSecurity),
            Sent::Nothing if self.credentials.is_none() => Some(AuthMode::Anonymous),
            Sent::Nothing => None,
        };
        if proved.is_none() && !own_clock {
            return;
        }
        self.learn(|state| {
            if own_clock {
                state.clock_offset = Some(TimeDelta::zero());
            }
            if proved.is_some() {
                state.auth = proved;
            }
        });
    }

    /// The SOAP header and `Authorization` value for the next request, and
    /// what they are; `own_clock` puts a WS-Security timestamp on our clock.
    fn authenticate(&self, url: &str, own_clock: bool) -> (Option<String>, Option<String>, Sent) {
        let Some(credentials) = &self.credentials else {
            return (None, None, Sent::Nothing);
        };
        let mut state = self.state();
        let mut rng = rand::rng();
        if let Some((challenge, nc)) = &mut state.digest {
            *nc += 1;
            let cnonce = format!("{:032x}", rng.random::<u128>());
            let uri = request_target(url);
            let authorization = challenge.authorization(credentials, "POST", &uri, *nc, &cnonce);
            return (None, Some(authorization), Sent::Digest);
        }
        if state.auth == Some(AuthMode::HttpDigest) {
            // Another process found Digest: send nothing and take the challenge.
            return (None, None, Sent::Nothing);
        }
        let offset = if own_clock {
            TimeDelta::zero()
        } else {
            state.clock_offset.unwrap_or_default()
        };
        let nonce: [u8; 16] = rng.random();
        let header = auth::wsse_header(credentials, Utc::now() + offset, &nonce);
        (Some(header), None, Sent::WsSecurity { offset })
    }

    // Device management.

    /// `GetSystemDateAndTime`: the device's UTC clock (unauthenticated).
    pub async fn get_system_date_and_time(&self) -> Result<chrono::DateTime<Utc>> {
        self.call(
            Request::GetSystemDateAndTime,
            message::read_system_date_and_time,
        )
        .await
    }

    /// `GetServices`.
    pub async fn get_services(&self, include_capability: bool) -> Result<Vec<Service>> {
        self.call(
            Request::GetServices { include_capability },
            message::read_services,
        )
        .await
    }

    /// `GetCapabilities` (all categories): the service addresses of older devices.
    pub async fn get_capabilities(&self) -> Result<ServiceAddresses> {
        self.call(Request::GetCapabilities, message::read_capabilities)
            .await
    }

    /// `GetDeviceInformation`.
    pub async fn get_device_information(&self) -> Result<DeviceInformation> {
        self.call(
            Request::GetDeviceInformation,
            message::read_device_information,
        )
        .await
    }

    // Media.

    /// Media profiles: media v1 `GetProfiles`, or media v2 (`Type=All`) when the
    /// device has no media v1 service or refuses the call.
    pub async fn get_profiles(&self) -> Result<Vec<Profile>> {
        match self
            .call(Request::GetProfiles, message::read_profiles)
            .await
        {
            Ok(profiles) => Ok(profiles),
            Err(e @ (Error::NoService(_) | Error::Fault(_))) => {
                match self
                    .call(Request::GetProfiles2, message::read_profiles)
                    .await
                {
                    Err(Error::NoService(_)) => Err(e),
                    other => other,
                }
            }
            Err(e) => Err(e),
        }
    }

    /// `GetSnapshotUri` (media v1, v2 as fallback).
    pub async fn get_snapshot_uri(&self, profile: &str) -> Result<String> {
        let profile = profile.to_string();
        match self
            .call(
                Request::GetSnapshotUri {
                    profile: profile.clone(),
                },
                message::read_snapshot_uri,
            )
            .await
        {
            Err(Error::NoService(_)) => {
                self.call(
                    Request::GetSnapshotUri2 { profile },
                    message::read_snapshot_uri,
                )
                .await
            }
            other => other,
        }
    }

    /// Fetches the JPEG at `uri` (from [`Device::get_snapshot_uri`]), answering
    /// an HTTP Digest challenge with the device's credentials when asked.
    /// Refused unless the device says it is an image.
    pub async fn fetch_snapshot(&self, uri: &str) -> Result<Vec<u8>> {
        let mut authorization: Option<String> = None;
        loop {
            let mut headers = vec![("Accept".to_string(), "image/jpeg".to_string())];
            if let Some(value) = &authorization {
                headers.push(("Authorization".to_string(), value.clone()));
            }
            let response = self
                .transport
                .get(HttpRequest {
                    url: uri.to_string(),
                    headers,
                    body: String::new(),
                    timeout: self.config.timeout,
                    max_response_bytes: self.config.max_response_bytes,
                    // The picture is asked again while an operator watches.
                    close: false,
                })
                .await?;
            match response.status {
                200 => {
                    // JPEG files begin with the SOI marker; anything else is an error page.
                    if !response.body.starts_with(&[0xFF, 0xD8]) {
                        return Err(Error::Malformed(format!(
                            "the snapshot at {uri} is not a JPEG image"
                        )));
                    }
                    return Ok(response.body);
                }
                401 if authorization.is_none() => {
                    let challenge = DigestChallenge::choose(
                        response.www_authenticate.iter().map(String::as_str),
                    );
                    match (challenge, &self.credentials) {
                        (Some(challenge), Some(credentials)) => {
                            let cnonce = format!("{:032x}", rand::rng().random::<u128>());
                            authorization = Some(challenge.authorization(
                                credentials,
                                "GET",
                                &request_target(uri),
                                1,
                                &cnonce,
                            ));
                        }
                        _ => {
                            return Err(Error::Unauthorized {
                                url: uri.to_string(),
                                message: "the snapshot needs credentials tandem cannot give".into(),
                                refused: None,
                                advice: if self.credentials.is_none() {
                                    AuthAdvice::NoCredentials
                                } else {
                                    AuthAdvice::Credentials
                                },
                            });
                        }
                    }
                }
                status => {
                    return Err(Error::Http {
                        url: uri.to_string(),
                        status,
                        said: crate::error::gist(&response.body),
                    });
                }
            }
        }
    }

    // PTZ.

    /// `GetNodes`.
    pub async fn get_nodes(&self) -> Result<Vec<PtzNode>> {
        self.call(Request::GetNodes, message::read_nodes).await
    }

    /// `GetNode`.
    pub async fn get_node(&self, node: &str) -> Result<PtzNode> {
        self.call(Request::GetNode { node: node.into() }, message::read_node)
            .await
    }

    /// `GetConfigurations`.
    pub async fn get_configurations(&self) -> Result<Vec<PtzConfiguration>> {
        self.call(Request::GetConfigurations, message::read_configurations)
            .await
    }

    /// PTZ `GetServiceCapabilities`.
    pub async fn get_service_capabilities(&self) -> Result<PtzServiceCapabilities> {
        self.call(
            Request::GetServiceCapabilities,
            message::read_service_capabilities,
        )
        .await
    }

    /// `GetPresets`.
    pub async fn get_presets(&self, profile: &str) -> Result<Vec<Preset>> {
        self.read_presets(profile, Linger::Keep).await
    }

    /// `GetPresets` for a caller that will not call this device again soon
    /// (a scan reads each device once): the connection is closed after the
    /// answer. Kept idle instead, thousands of devices' connections would hold
    /// their buffers (hundreds of megabytes) and cost the pool's upkeep.
    pub async fn get_presets_once(&self, profile: &str) -> Result<Vec<Preset>> {
        self.read_presets(profile, Linger::Close).await
    }

    async fn read_presets(&self, profile: &str, linger: Linger) -> Result<Vec<Preset>> {
        self.call_text(
            Request::GetPresets {
                profile: profile.into(),
            },
            message::read_presets_answer,
            linger,
        )
        .await
    }

    /// `SetPreset`: stores the current position under `token` (or a new token
    /// the device chooses) and returns the token used.
    pub async fn set_preset(
        &self,
        profile: &str,
        name: Option<&str>,
        token: Option<&str>,
    ) -> Result<String> {
        let request = Request::SetPreset {
            profile: profile.into(),
            name: name.map(str::to_string),
            token: token.map(str::to_string),
        };
        self.call(request, message::read_preset_token).await
    }

    /// `RemovePreset`.
    pub async fn remove_preset(&self, profile: &str, token: &str) -> Result<()> {
        self.call(
            Request::RemovePreset {
                profile: profile.into(),
                token: token.into(),
            },
            message::read_empty,
        )
        .await
    }

    /// `GotoPreset`.
    pub async fn goto_preset(
        &self,
        profile: &str,
        token: &str,
        speed: Option<PtzVector>,
    ) -> Result<()> {
        let request = Request::GotoPreset {
            profile: profile.into(),
            token: token.into(),
            speed,
        };
        self.call(request, message::read_empty).await
    }

    /// `ContinuousMove` with velocities in [-1, 1]; the device stops after `timeout`.
    pub async fn continuous_move(
        &self,
        profile: &str,
        velocity: PtzVector,
        timeout: Option<Duration>,
    ) -> Result<()> {
        let request = Request::ContinuousMove {
            profile: profile.into(),
            velocity,
            timeout,
        };
        self.call(request, message::read_empty).await
    }

    /// `RelativeMove`.
    pub async fn relative_move(
        &self,
        profile: &str,
        translation: PtzVector,
        speed: Option<PtzVector>,
    ) -> Result<()> {
        let request = Request::RelativeMove {
            profile: profile.into(),
            translation,
            speed,
        };
        self.call(request, message::read_empty).await
    }

    /// `AbsoluteMove`.
    pub async fn absolute_move(
        &self,
        profile: &str,
        position: PtzVector,
        speed: Option<PtzVector>,
    ) -> Result<()> {
        let request = Request::AbsoluteMove {
            profile: profile.into(),
            position,
            speed,
        };
        self.call(request, message::read_empty).await
    }

    /// `Stop`.
    pub async fn stop(&self, profile: &str, pan_tilt: bool, zoom: bool) -> Result<()> {
        self.call(
            Request::Stop {
                profile: profile.into(),
                pan_tilt,
                zoom,
            },
            message::read_empty,
        )
        .await
    }

    /// `GetStatus`.
    pub async fn get_status(&self, profile: &str) -> Result<PtzStatus> {
        self.call(
            Request::GetStatus {
                profile: profile.into(),
            },
            message::read_status,
        )
        .await
    }

    /// `GotoHomePosition`.
    pub async fn goto_home_position(&self, profile: &str, speed: Option<PtzVector>) -> Result<()> {
        self.call(
            Request::GotoHomePosition {
                profile: profile.into(),
                speed,
            },
            message::read_empty,
        )
        .await
    }

    /// `SetHomePosition`.
    pub async fn set_home_position(&self, profile: &str) -> Result<()> {
        self.call(
            Request::SetHomePosition {
                profile: profile.into(),
            },
            message::read_empty,
        )
        .await
    }
}

/// Reads an HTTP answer with `read` (a SOAP body of the expected element,
/// or a fault). A malformed answer's error names the operation and the
/// address, since the parser's words alone ("unexpected end of stream") do
/// not say which device misbehaved, or in answer to what.
fn read_answer<T>(
    url: &str,
    request: &Request,
    response: &HttpResponse,
    read: impl FnOnce(&str) -> Result<T>,
) -> Result<T> {
    read_envelope(url, response, read).map_err(|e| match e {
        Error::Malformed(why) => Error::Malformed(format!("{} at {url}: {why}", request.name())),
        other => other,
    })
}

fn read_envelope<T>(
    url: &str,
    response: &HttpResponse,
    read: impl FnOnce(&str) -> Result<T>,
) -> Result<T> {
    let read = std::str::from_utf8(&response.body)
        .map_err(|_| Error::Malformed("answer is not UTF-8".into()))
        .and_then(read);
    match read {
        // Not SOAP: an HTTP error status says more than the parse error.
        Err(Error::Malformed(_)) if !(200..300).contains(&response.status) => Err(Error::Http {
            url: url.to_string(),
            status: response.status,
            said: crate::error::gist(&response.body),
        }),
        Err(Error::Fault(fault))
            if fault.is("NotAuthorized") || fault.is("FailedAuthentication") =>
        {
            // What was sent and what to advise, `Device::call` knows.
            Err(Error::Unauthorized {
                url: url.to_string(),
                message: fault.to_string(),
                refused: None,
                advice: AuthAdvice::Credentials,
            })
        }
        other => other,
    }
}

/// The request-target of a URL (path and query), as HTTP Digest's `uri` wants it.
fn request_target(url: &str) -> String {
    let after_scheme = url.split_once("://").map(|(_, rest)| rest).unwrap_or(url);
    match after_scheme.find('/') {
        Some(slash) => after_scheme[slash..].to_string(),
        None => "/".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_target_is_path_and_query() {
        assert_eq!(
            request_target("http://127.0.0.1:80/onvif/ptz_service?x=1"),
            "/onvif/ptz_service?x=1"
        );
        assert_eq!(request_target("http://host"), "/");
    }
}
