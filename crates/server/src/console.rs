//! The web console: a single page (HTML, CSS, JavaScript) compiled into the
//! binary, so that the service needs no files beside it and the browser loads
//! nothing from anywhere else. The page talks to the API under `/api/v1` like
//! any other client.

use axum::Router;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;

/// Only this origin, no inline script, pictures also from `blob:` (the live view).
const CSP: &str = "default-src 'self'; img-src 'self' blob: data:; style-src 'self'; \
                   script-src 'self'; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'";

fn asset(body: &'static str, content_type: &'static str) -> Response {
    let mut response = body.into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    // The assets change with the binary: revalidate rather than serve a stale console.
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    response
}

/// The console's routes: `/` (the page) and its assets under `/console/`.
pub fn router<S: Clone + Send + Sync + 'static>() -> Router<S> {
    Router::new()
        .route(
            "/",
            get(|| async {
                asset(
                    include_str!("../console/index.html"),
                    "text/html; charset=utf-8",
                )
            }),
        )
        .route("/console", get(|| async { Redirect::permanent("/") }))
        .route(
            "/console/console.js",
            get(|| async {
                asset(
                    include_str!("../console/console.js"),
                    "text/javascript; charset=utf-8",
                )
            }),
        )
        .route(
            "/console/console.css",
            get(|| async {
                asset(
                    include_str!("../console/console.css"),
                    "text/css; charset=utf-8",
                )
            }),
        )
        .route(
            "/console/favicon.svg",
            get(|| async { asset(include_str!("../console/favicon.svg"), "image/svg+xml") }),
        )
}
