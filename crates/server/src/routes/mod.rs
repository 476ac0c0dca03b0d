//! The router: every route, its OpenAPI description generated from the
//! handlers themselves (so the document cannot drift), the body limit, and
//! latency metrics.

pub mod admin;
pub mod audit;
pub mod convert;
pub mod demo;
pub mod live;
pub mod presets;
pub mod session;
pub mod sites;
pub mod sync;
pub mod system;

use std::time::Instant;

use axum::extract::rejection::JsonRejection;
use axum::extract::{DefaultBodyLimit, FromRequest, MatchedPath, Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::{Json, Router};
use utoipa::openapi::security::{
    ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityRequirement, SecurityScheme,
};
use utoipa::openapi::{ContentBuilder, Ref, RefOr, ResponseBuilder};
use utoipa::{Modify, OpenApi};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::error::ApiError;
use crate::metrics::RequestLabels;
use crate::state::AppState;

/// Largest request body accepted, in bytes.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// A JSON body whose rejections are problem+json 4xx answers: 400 when it is
/// not the JSON expected, 413 over [`MAX_BODY_BYTES`], 415 without a JSON
/// content type.
#[derive(Debug)]
pub struct JsonBody<T>(pub T);

impl<T, S> FromRequest<S> for JsonBody<T>
where
    Json<T>: FromRequest<S, Rejection = JsonRejection>,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        match Json::<T>::from_request(req, state).await {
            Ok(Json(value)) => Ok(JsonBody(value)),
            Err(rejection) => {
                // axum answers 422 for well-formed JSON of the wrong shape: to a
                // client that is the same mistake as malformed JSON, so one status.
                let status = match &rejection {
                    JsonRejection::JsonDataError(_) => StatusCode::BAD_REQUEST,
                    _ if timed_out(&rejection) => StatusCode::REQUEST_TIMEOUT,
                    other => other.status(),
                };
                Err(ApiError::new(
                    status,
                    "Bad request body",
                    rejection.body_text(),
                ))
            }
        }
    }
}

/// Whether the body was refused because it did not arrive in time
/// ([`crate::connections::BodyTimeout`]).
fn timed_out(rejection: &JsonRejection) -> bool {
    let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(rejection);
    while let Some(e) = cause {
        if e.is::<crate::connections::BodyTimeout>() {
            return true;
        }
        cause = e.source();
    }
    false
}

#[derive(OpenApi)]
#[openapi(
    info(title = "tandem", description = "Keeps PTZ presets and live PTZ control identical across a primary and a secondary video-management site."),
    modifiers(&Security),
    security(("bearer" = []), ("session" = [])),
    tags(
        (name = "session", description = "Login, logout, passwords, sessions, API tokens, users"),
        (name = "sites", description = "Site health, the active site, failover"),
        (name = "cameras", description = "Cameras and their sync state"),
        (name = "presets", description = "One action, both sites"),
        (name = "live", description = "Live PTZ control with failover"),
        (name = "mismatches", description = "Scans, mismatches and repairs"),
        (name = "operations", description = "The journal"),
        (name = "audit", description = "The hash-chained audit log"),
        (name = "events", description = "Server-sent events"),
        (name = "system", description = "Health, readiness, metrics"),
        (name = "demo", description = "`tandem demo` only: simulated site outages"),
    )
)]
struct ApiDoc;

struct Security;

impl Modify for Security {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
        components.add_security_scheme(
            "session",
            SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::new(
                crate::auth::SESSION_COOKIE,
            ))),
        );
    }
}

/// Every route with its OpenAPI description.
pub fn api() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(system::healthz))
        .routes(routes!(system::readyz))
        .routes(routes!(system::metrics))
        .routes(routes!(system::events))
        .routes(routes!(session::login))
        .routes(routes!(session::logout))
        .routes(routes!(session::me))
        .routes(routes!(session::create_token, session::list_tokens))
        .routes(routes!(session::revoke_token))
        .routes(routes!(session::list_users, session::create_user))
        .routes(routes!(session::delete_user))
        .routes(routes!(session::change_password))
        .routes(routes!(session::reset_password))
        .routes(routes!(session::set_disabled))
        .routes(routes!(session::unlock))
        .routes(routes!(session::list_sessions, session::end_sessions))
        .routes(routes!(session::end_session))
        .routes(routes!(session::user_tokens))
        .routes(routes!(admin::list_roles))
        .routes(routes!(admin::put_role, admin::delete_role))
        .routes(routes!(admin::put_user_roles))
        .routes(routes!(sites::list))
        .routes(routes!(sites::instance))
        .routes(routes!(sites::history))
        .routes(routes!(sites::failback))
        .routes(routes!(sites::cameras))
        .routes(routes!(presets::list, presets::create))
        .routes(routes!(presets::update, presets::delete))
        .routes(routes!(presets::recall))
        .routes(routes!(presets::picture))
        .routes(routes!(live::continuous))
        .routes(routes!(live::relative))
        .routes(routes!(live::centre))
        .routes(routes!(live::absolute))
        .routes(routes!(live::stop))
        .routes(routes!(live::home))
        .routes(routes!(live::status))
        .routes(routes!(live::snapshot))
        .routes(routes!(live::stream))
        .routes(routes!(live::streams))
        .routes(routes!(live::look))
        .routes(routes!(live::control, live::release, live::take))
        .routes(routes!(live::reserve))
        .routes(routes!(sync::scan))
        .routes(routes!(sync::mismatches))
        .routes(routes!(sync::repair))
        .routes(routes!(sync::operations))
        .routes(routes!(audit::query))
        .routes(routes!(audit::verify))
        .routes(routes!(demo::list))
        .routes(routes!(demo::set))
}

/// The whole service: the API, `/api/openapi.json`, the console, the body
/// limit, the security rules and headers ([`crate::security`]) and metrics.
pub fn app(state: AppState) -> Router {
    let (router, mut openapi) = api().split_for_parts();
    declare_common_responses(&mut openapi);
    let openapi = std::sync::Arc::new(openapi);
    router
        .route(
            "/api/openapi.json",
            axum::routing::get(move |_who: crate::auth::Authed| {
                let openapi = openapi.clone();
                async move { Json(openapi.as_ref().clone()) }
            }),
        )
        .merge(crate::console::router())
        .fallback(|| async { ApiError::not_found("no such route; see /api/openapi.json") })
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(middleware::map_response(problem_json))
        // Outside the problem+json mapping, so its headers reach every answer.
        .layer(middleware::from_fn_with_state(
            state.clone(),
            crate::security::guard,
        ))
        .layer(middleware::from_fn_with_state(state.clone(), measure))
        .with_state(state)
}

/// Declares what an operation answers because of the extractors it takes, so
/// that no handler has to repeat it: 401 where [`crate::auth::Authed`] is
/// needed (every operation not marked public), 400, 413 and 415 where a
/// [`JsonBody`] is read, and 415 and 403 where [`crate::security`] may
/// refuse a change (a form body; another origin's cookie). Every [`tandem_api::problem::Problem`] is declared as
/// `application/problem+json`, the content type [`ApiError`] answers with.
fn declare_common_responses(openapi: &mut utoipa::openapi::OpenApi) {
    const PROBLEM_JSON: &str = "application/problem+json";
    let problem = |description: &str| -> RefOr<utoipa::openapi::Response> {
        ResponseBuilder::new()
            .description(description)
            .content(
                PROBLEM_JSON,
                ContentBuilder::new()
                    .schema(Some(Ref::from_schema_name("Problem")))
                    .build(),
            )
            .into()
    };
    let public = SecurityRequirement::default();
    for item in openapi.paths.paths.values_mut() {
        // (operation, whether it changes something: the same-origin rule and
        // the refusal of form bodies apply, see `crate::security`)
        let operations = [
            (&mut item.get, false),
            (&mut item.put, true),
            (&mut item.post, true),
            (&mut item.delete, true),
            (&mut item.patch, true),
        ];
        for (operation, changes) in operations {
            let Some(operation) = operation else {
                continue;
            };
            let responses = &mut operation.responses.responses;
            for response in responses.values_mut() {
                let RefOr::T(response) = response else {
                    continue;
                };
                let is_problem = response.content.get("application/json").is_some_and(|c| {
                    matches!(&c.schema, Some(RefOr::Ref(r)) if r.ref_location.ends_with("/Problem"))
                });
                if is_problem
                    && let Some(content) = response.content.shift_remove("application/json")
                {
                    response.content.insert(PROBLEM_JSON.into(), content);
                }
            }
            let secured = operation
                .security
                .as_ref()
                .is_none_or(|s| !s.contains(&public));
            if secured {
                responses
                    .entry("401".into())
                    .or_insert_with(|| problem("no valid credentials"));
            }
            if changes {
                responses.entry("415".into()).or_insert_with(|| {
                    problem("a form content type: the API reads JSON bodies only")
                });
            }
            if changes && secured {
                responses.entry("403".into()).or_insert_with(|| {
                    problem(
                        "forbidden: the roles do not allow it, or a change authenticated by \
                         the session cookie did not come from this service's origin",
                    )
                });
            }
            if operation.request_body.is_some() {
                for (status, description) in [
                    ("400", "the body is not the JSON expected, or breaks a rule"),
                    ("413", "the body is larger than 64 KiB"),
                    ("415", "the body is not application/json"),
                ] {
                    responses
                        .entry(status.into())
                        .or_insert_with(|| problem(description));
                }
            }
        }
    }
}

/// The framework's own 4xx answers (a path or query string that does not
/// parse, a method the route lacks) in problem+json like every other error,
/// with their headers (`Allow`) kept.
async fn problem_json(response: Response) -> Response {
    let is_problem = response
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"application/problem+json"));
    if !response.status().is_client_error() || is_problem {
        return response;
    }
    let (parts, body) = response.into_parts();
    let text = axum::body::to_bytes(body, MAX_BODY_BYTES)
        .await
        .map(|b| String::from_utf8_lossy(&b).into_owned())
        .unwrap_or_default();
    let title = parts.status.canonical_reason().unwrap_or("Client error");
    let detail = if text.is_empty() {
        title.to_string()
    } else {
        text
    };
    let mut problem = ApiError::new(parts.status, title, detail).into_response();
    for (name, value) in &parts.headers {
        if name != header::CONTENT_TYPE && name != header::CONTENT_LENGTH {
            problem.headers_mut().append(name.clone(), value.clone());
        }
    }
    problem
}

/// Records each request's latency by matched route.
async fn measure(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_string())
        .unwrap_or_else(|| "unmatched".into());
    let method = request.method().to_string();
    let started = Instant::now();
    let response = next.run(request).await;
    let labels = RequestLabels {
        method,
        route,
        status: response.status().as_u16(),
    };
    state
        .metrics
        .requests
        .get_or_create(&labels)
        .observe(started.elapsed().as_secs_f64());
    response
}
