//! What every request passes through on its way in and out, whatever its
//! route (see docs/security.md):
//!
//! - **Same origin for cookie-authenticated changes.** The session cookie is
//!   `SameSite=Strict`, but "same site" covers every port of the host: a page
//!   served on another port could post a form with an administrator's
//!   cookie. A request that changes something (any method but GET, HEAD and
//!   OPTIONS) and is authenticated by the cookie (no `Authorization` header)
//!   must carry an `Origin` naming this service (its `Host`), or, without
//!   `Origin`, `Sec-Fetch-Site: same-origin`; else 403. API tokens are exempt:
//!   a browser never adds them by itself.
//! - **No form bodies.** Every body the API reads is JSON; a form content type
//!   (which a cross-origin page may send without a preflight) is refused with
//!   415 on any changing request, bodyless ones (stop, home, recall, reserve,
//!   failback, logout) included.
//! - **Headers.** Every answer says `X-Content-Type-Options: nosniff` and
//!   `Referrer-Policy: no-referrer`; every answer but the console's own
//!   assets says `Cache-Control: no-store` (tokens, users and the audit log
//!   must not linger in caches). Over HTTPS, every answer also says
//!   `Strict-Transport-Security`, and the session cookie is `Secure`.
//! - **Refusals audited.** A 403 is counted for the engine's `access.denied`
//!   entries: one per user, route and minute.

use axum::extract::{MatchedPath, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use tandem_core::CameraId;
use tandem_core::access::Principal;

use crate::auth::Authed;
use crate::error::{ApiError, Refusal};
use crate::state::AppState;

/// Content types a cross-origin page may send without a preflight: the API
/// reads none of them.
const FORM_TYPES: [&str; 3] = [
    "application/x-www-form-urlencoded",
    "multipart/form-data",
    "text/plain",
];

/// The user `headers` authenticate now, if any: the [`Authed`] extractor run
/// again on them (the event stream re-checks its caller with it).
pub async fn caller(state: &AppState, headers: &HeaderMap) -> Option<Principal> {
    let (mut parts, ()) = Request::new(()).into_parts();
    parts.headers = headers.clone();
    authenticate(state, &mut parts).await
}

async fn authenticate(state: &AppState, parts: &mut Parts) -> Option<Principal> {
    use axum::extract::FromRequestParts as _;
    Authed::from_request_parts(parts, state)
        .await
        .ok()
        .map(|a| a.0)
}

/// The middleware: the rules above, then the route, then the headers.
pub async fn guard(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let changes = !matches!(
        *request.method(),
        Method::GET | Method::HEAD | Method::OPTIONS
    );
    let route = format!(
        "{} {}",
        request.method(),
        request
            .extensions()
            .get::<MatchedPath>()
            .map_or("unmatched", |p| p.as_str())
    );
    let camera = camera_of(&request);
    let console = is_console(request.uri().path());
    // What authenticates the request, kept to name the user of a refusal.
    let credentials = credential_headers(request.headers());
    let mut response = if changes && is_form(request.headers()) {
        ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "Unsupported media type",
            "the API reads JSON only: send `content-type: application/json` with a body, \
             and no content type without one",
        )
        .into_response()
    } else if changes && uses_cookie(request.headers()) && !same_origin(request.headers()) {
        ApiError::new(
            StatusCode::FORBIDDEN,
            "Forbidden",
            "a change authenticated by the session cookie must come from this service's own \
             pages (Origin or Sec-Fetch-Site); scripts should use an API token",
        )
        .with_code("cross_origin")
        .into_response()
    } else {
        next.run(request).await
    };
    if response.status() == StatusCode::FORBIDDEN {
        let reason = response
            .extensions()
            .get::<Refusal>()
            .map_or_else(|| "forbidden".to_string(), |r| r.0.clone());
        if let Some(who) = caller(&state, &credentials).await {
            state
                .engine
                .record_denial(&who.user, &route, camera.as_ref(), &reason);
        }
    }
    let headers = response.headers_mut();
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    if !console {
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    if state.tls.is_some() {
        // Served over HTTPS: browsers keep to it for a year.
        headers.insert(
            header::STRICT_TRANSPORT_SECURITY,
            HeaderValue::from_static("max-age=31536000"),
        );
    }
    response
}

/// The console's page and assets, which set their own caching (revalidate).
fn is_console(path: &str) -> bool {
    path == "/" || path == "/console" || path.starts_with("/console/")
}

/// The camera a request is about, when its route has a `{camera}`.
fn camera_of(request: &Request) -> Option<CameraId> {
    let template = request.extensions().get::<MatchedPath>()?.as_str();
    let at = template.split('/').position(|s| s == "{camera}")?;
    request.uri().path().split('/').nth(at).map(CameraId::from)
}

/// The headers that authenticate a request.
fn credential_headers(headers: &HeaderMap) -> HeaderMap {
    let mut kept = HeaderMap::new();
    for name in [header::AUTHORIZATION, header::COOKIE] {
        for value in headers.get_all(&name) {
            kept.append(name.clone(), value.clone());
        }
    }
    kept
}

fn is_form(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|v| {
            v.split(';')
                .next()
                .unwrap_or_default()
                .trim()
                .to_ascii_lowercase()
        })
        .is_some_and(|t| FORM_TYPES.contains(&t.as_str()))
}

/// Whether the session cookie authenticates the request: it is there, and
/// no `Authorization` header (which [`Authed`] would use instead).
fn uses_cookie(headers: &HeaderMap) -> bool {
    !headers.contains_key(header::AUTHORIZATION) && crate::auth::session_cookie(headers).is_some()
}

/// Whether the browser says the request comes from this service's own
/// origin: `Origin` names the `Host` the request was sent to, or, without
/// `Origin`, `Sec-Fetch-Site` is `same-origin`.
fn same_origin(headers: &HeaderMap) -> bool {
    let text = |name| {
        headers
            .get(name)
            .and_then(|v: &HeaderValue| v.to_str().ok())
    };
    match (text(header::ORIGIN), text(header::HOST)) {
        (Some(origin), Some(host)) => origin_matches(origin, host),
        (Some(_), None) => false,
        (None, _) => text(header::HeaderName::from_static("sec-fetch-site"))
            .is_some_and(|v| v.eq_ignore_ascii_case("same-origin")),
    }
}

/// Whether `origin` (`scheme://host[:port]`) is the origin of a service
/// reached as `host` (`host[:port]`), default ports taken into account.
fn origin_matches(origin: &str, host: &str) -> bool {
    let Some((scheme, authority)) = origin.split_once("://") else {
        return false;
    };
    let default_port = match scheme.to_ascii_lowercase().as_str() {
        "http" => ":80",
        "https" => ":443",
        _ => return false,
    };
    let strip = |a: &str| {
        let a = a.to_ascii_lowercase();
        a.strip_suffix(default_port)
            .map_or(a.clone(), str::to_string)
    };
    !authority.is_empty() && strip(authority) == strip(host)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_origin_matches_only_its_own_host_and_port() {
        assert!(origin_matches("http://127.0.0.1:8080", "127.0.0.1:8080"));
        assert!(origin_matches("http://Tandem.example", "tandem.example"));
        assert!(origin_matches("http://tandem.example", "tandem.example:80"));
        assert!(origin_matches(
            "https://tandem.example:443",
            "tandem.example"
        ));
        for (origin, host) in [
            ("http://127.0.0.1:8081", "127.0.0.1:8080"),
            ("http://127.0.0.1", "127.0.0.1:8080"),
            ("https://tandem.example", "tandem.example:80"),
            ("null", "127.0.0.1:8080"),
            ("http://", ""),
            ("file://x", "x"),
            ("http://evil.example", "tandem.example"),
        ] {
            assert!(!origin_matches(origin, host), "{origin} vs {host}");
        }
    }

    #[test]
    fn without_an_origin_only_sec_fetch_site_same_origin_passes() {
        let mut headers = HeaderMap::new();
        headers.insert(header::HOST, HeaderValue::from_static("127.0.0.1:8080"));
        assert!(!same_origin(&headers));
        headers.insert("sec-fetch-site", HeaderValue::from_static("same-site"));
        assert!(!same_origin(&headers));
        headers.insert("sec-fetch-site", HeaderValue::from_static("same-origin"));
        assert!(same_origin(&headers));
        headers.insert(
            header::ORIGIN,
            HeaderValue::from_static("http://127.0.0.1:9999"),
        );
        assert!(!same_origin(&headers), "Origin decides when present");
    }

    #[test]
    fn form_content_types_are_recognised_with_parameters_and_any_case() {
        for value in [
            "application/x-www-form-urlencoded",
            "multipart/form-data; boundary=x",
            "Text/Plain;charset=UTF-8",
        ] {
            let mut headers = HeaderMap::new();
            headers.insert(
                header::CONTENT_TYPE,
                HeaderValue::from_str(value).expect("value"),
            );
            assert!(is_form(&headers), "{value}");
        }
        let mut headers = HeaderMap::new();
        assert!(!is_form(&headers));
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        assert!(!is_form(&headers));
    }
}
