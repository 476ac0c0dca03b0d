//! The client side: one ONVIF device (or VMS bridge endpoint) and the calls
//! tandem makes to it.
//!
//! A [`Device`] learns the device's clock offset (`GetSystemDateAndTime`, the one
//! unauthenticated call) so that WS-Security timestamps are on the device's clock,
//! finds its service addresses (`GetServices`, falling back to `GetCapabilities`),
//! and remembers which authentication the device accepts: WS-Security first,
//! HTTP Digest when the device answers 401, nothing when it needs nothing.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{TimeDelta, Utc};
use rand::Rng;
use roxmltree::Node;

use crate::auth::{self, Credentials, DigestChallenge};
use crate::error::{Error, Result};
use crate::message::{self, Request, ServiceKind};
use crate::soap::{self, Envelope};
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
    /// A transport with its own connection pool.
    pub fn new() -> Result<Self> {
        let client = reqwest::Client::builder()
            // Well under the time devices keep idle connections open (often
            // 5 to 15 s), so a request never races a device closing its end;
            // and thousands of cameras do not hold thousands of sockets.
            .pool_idle_timeout(Duration::from_millis(1500))
            .tcp_nodelay(true)
            // Device certificates are very often self-signed; the device is
            // identified by its configured address and credentials.
            .danger_accept_invalid_certs(true)
            .build()
            .map_err(|e| Error::Transport {
                url: String::new(),
                message: e.to_string(),
            })?;
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

/// How a device wants to be authenticated, learned on first contact.
#[derive(Debug, Clone, PartialEq, Eq)]
enum AuthState {
    /// Send a WS-Security UsernameToken (the ONVIF default).
    WsSecurity,
    /// Answer this HTTP Digest challenge; `nc` counts its uses.
    Digest { challenge: DigestChallenge, nc: u32 },
}

#[derive(Debug, Default)]
struct Learned {
    clock_offset: Option<TimeDelta>,
    services: Option<ServiceAddresses>,
    digest: Option<(DigestChallenge, u32)>,
}

/// One ONVIF device endpoint.
pub struct Device {
    transport: Arc<dyn Transport>,
    device_url: String,
    credentials: Option<Credentials>,
    config: ClientConfig,
    learned: Mutex<Learned>,
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
            learned: Mutex::new(Learned::default()),
        }
    }

    /// The device service URL.
    pub fn device_url(&self) -> &str {
        &self.device_url
    }

    fn learned(&self) -> std::sync::MutexGuard<'_, Learned> {
        // A panic while holding this lock cannot leave it inconsistent: every
        // field is replaced whole. So a poisoned lock is still usable.
        self.learned.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The device clock minus ours, once known.
    pub fn clock_offset(&self) -> Option<TimeDelta> {
        self.learned().clock_offset
    }

    /// Whether the device asked for HTTP Digest.
    pub fn uses_digest(&self) -> bool {
        self.learned().digest.is_some()
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
        self.learned().clock_offset = Some(offset);
        Ok(offset)
    }

    /// The service addresses, from `GetServices` or, on older devices, `GetCapabilities`.
    pub async fn service_addresses(&self) -> Result<ServiceAddresses> {
        if let Some(services) = self.learned().services.clone() {
            return Ok(services);
        }
        let addresses = match self.get_services(false).await {
            Ok(services) if !services.is_empty() => ServiceAddresses::from_services(&services),
            Ok(_) => self.get_capabilities().await?,
            Err(e) if e.fault().is_some() => self.get_capabilities().await?,
            Err(e) => return Err(e),
        };
        self.learned().services = Some(addresses.clone());
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

    /// Sends `request` to its service and reads the answer with `read`.
    async fn call<T>(
        &self,
        request: Request,
        read: impl FnOnce(Node<'_, '_>) -> Result<T>,
    ) -> Result<T> {
        let url = self.address_of(request.service()).await?;
        let anonymous = matches!(request, Request::GetSystemDateAndTime);
        let body_xml = request.to_xml();
        let content_type = format!(
            "application/soap+xml; charset=utf-8; action=\"{}\"",
            request.action()
        );
        // At most two rounds: a 401 with a new Digest challenge is answered once.
        let mut answered_challenge = false;
        loop {
            let (header, authorization) = if anonymous {
                (None, None)
            } else {
                self.authenticate(&url)
            };
            let envelope = soap::envelope(header.as_deref(), &body_xml);
            let mut headers = vec![("Content-Type".to_string(), content_type.clone())];
            if let Some(authorization) = authorization {
                headers.push(("Authorization".to_string(), authorization));
            }
            let response = self
                .transport
                .post(HttpRequest {
                    url: url.clone(),
                    headers,
                    body: envelope,
                    timeout: self.config.timeout,
                    max_response_bytes: self.config.max_response_bytes,
                })
                .await?;
            if response.status == 401 {
                let challenge =
                    DigestChallenge::choose(response.www_authenticate.iter().map(String::as_str));
                match (challenge, &self.credentials) {
                    (Some(challenge), Some(_)) if !answered_challenge => {
                        self.learned().digest = Some((challenge, 0));
                        answered_challenge = true;
                        continue;
                    }
                    _ => {
                        return Err(Error::Unauthorized {
                            url,
                            message: "HTTP 401".into(),
                        });
                    }
                }
            }
            return read_answer(&url, &request, &response, read);
        }
    }

    /// The SOAP header and `Authorization` value for the next request.
    fn authenticate(&self, url: &str) -> (Option<String>, Option<String>) {
        let Some(credentials) = &self.credentials else {
            return (None, None);
        };
        let mut learned = self.learned();
        let mut rng = rand::rng();
        let state = match &mut learned.digest {
            Some((challenge, nc)) => {
                *nc += 1;
                AuthState::Digest {
                    challenge: challenge.clone(),
                    nc: *nc,
                }
            }
            None => AuthState::WsSecurity,
        };
        match state {
            AuthState::WsSecurity => {
                let created = Utc::now() + learned.clock_offset.unwrap_or_default();
                let nonce: [u8; 16] = rng.random();
                (Some(auth::wsse_header(credentials, created, &nonce)), None)
            }
            AuthState::Digest { challenge, nc } => {
                let cnonce = format!("{:032x}", rng.random::<u128>());
                let uri = request_target(url);
                (
                    None,
                    Some(challenge.authorization(credentials, "POST", &uri, nc, &cnonce)),
                )
            }
        }
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
        self.call(
            Request::GetPresets {
                profile: profile.into(),
            },
            message::read_presets,
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

/// Reads an HTTP answer: a SOAP body of the expected element, or a fault.
/// A malformed answer's error names the operation and the address, since the
/// parser's words alone ("unexpected end of stream") do not say which device
/// misbehaved, or in answer to what.
fn read_answer<T>(
    url: &str,
    request: &Request,
    response: &HttpResponse,
    read: impl FnOnce(Node<'_, '_>) -> Result<T>,
) -> Result<T> {
    read_envelope(url, request, response, read).map_err(|e| match e {
        Error::Malformed(why) => Error::Malformed(format!("{} at {url}: {why}", request.name())),
        other => other,
    })
}

fn read_envelope<T>(
    url: &str,
    request: &Request,
    response: &HttpResponse,
    read: impl FnOnce(Node<'_, '_>) -> Result<T>,
) -> Result<T> {
    let parsed = std::str::from_utf8(&response.body)
        .map_err(|_| Error::Malformed("answer is not UTF-8".into()))
        .and_then(Envelope::parse);
    let envelope = match parsed {
        Ok(envelope) => envelope,
        // Not SOAP: an HTTP error status says more than the parse error.
        Err(_) if !(200..300).contains(&response.status) => {
            return Err(Error::Http {
                url: url.to_string(),
                status: response.status,
                said: crate::error::gist(&response.body),
            });
        }
        Err(e) => return Err(e),
    };
    let (namespace, local) = request.response_element();
    match envelope.expect(namespace, &local) {
        Ok(node) => read(node),
        Err(Error::Fault(fault))
            if fault.is("NotAuthorized") || fault.is("FailedAuthentication") =>
        {
            Err(Error::Unauthorized {
                url: url.to_string(),
                message: fault.to_string(),
            })
        }
        Err(e) => Err(e),
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
