//! The command line as a client of `tandem serve`: requests built from
//! `tandem_api`'s request types, answers read into its answer types.

use std::process::ExitCode;

use reqwest::{Method, RequestBuilder};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;
use tandem_api::presets::OperationDto;
use tandem_api::problem::Problem;

use super::context::ConfigArg;

/// A client of the service's API.
pub struct Api {
    base: String,
    token: String,
    http: reqwest::Client,
}

/// The client, when `--server` (or `TANDEM_SERVER`) is given.
pub fn from(arg: &ConfigArg) -> anyhow::Result<Option<Api>> {
    let Some(server) = &arg.server else {
        return Ok(None);
    };
    let token = arg.token.clone().ok_or_else(|| {
        crate::UsageError(
            "--server needs --token (or TANDEM_TOKEN): create one with POST /api/v1/tokens".into(),
        )
    })?;
    use tandem_xprotect::tls::{Fingerprint, Trust};
    let trust = match (&arg.server_fingerprint, &arg.server_ca) {
        (Some(pin), _) => Trust::Pinned(
            Fingerprint::parse(pin)
                .map_err(|e| crate::UsageError(format!("--server-fingerprint: {e}")))?,
        ),
        (None, Some(ca)) => Trust::CaFile(ca.clone()),
        (None, None) => Trust::PublicRoots,
    };
    let builder =
        reqwest::Client::builder().timeout(std::time::Duration::from_millis(arg.wait_ms + 30_000));
    let http = tandem_xprotect::tls::configure(builder, &trust)
        .map_err(|e| crate::UsageError(e.to_string()))?
        .build()?;
    Ok(Some(Api {
        base: server.trim_end_matches('/').to_string(),
        token,
        http,
    }))
}

/// An API answer that is not a success, with the exit code it maps to.
#[derive(Debug)]
pub struct ApiFailure {
    /// What the service said.
    pub message: String,
    /// The exit code of the problem's `code` (see `crate::exit`).
    pub code: u8,
}

impl Api {
    /// A request to `path` (under the server's address) with the caller's
    /// token; add a body (`.json`) or a query (`.query`) of `tandem_api`'s types.
    pub fn request(&self, method: Method, path: &str) -> RequestBuilder {
        self.http
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(&self.token)
    }

    /// Sends `request`; a success (2xx) gives its body as `T`, any other
    /// answer an [`ApiFailure`] from its [`Problem`].
    pub async fn call<T: DeserializeOwned>(&self, request: RequestBuilder) -> anyhow::Result<T> {
        let (status, text) = self.send(request).await?;
        serde_json::from_str(&text)
            .map_err(|e| anyhow::anyhow!("{status}: not the answer expected: {e}"))
    }

    /// Sends `request`, answered with no body (204) when it succeeds; any
    /// other answer is an [`ApiFailure`] as for [`Api::call`].
    pub async fn call_empty(&self, request: RequestBuilder) -> anyhow::Result<()> {
        self.send(request).await.map(|_| ())
    }

    /// Sends `request`: a success gives its status and body text.
    async fn send(&self, request: RequestBuilder) -> anyhow::Result<(reqwest::StatusCode, String)> {
        let response = request.send().await.map_err(|e| {
            match tandem_xprotect::tls::certificate_problem(&e) {
                // The TLS refusal is buried in the error chain; it is the answer.
                Some(problem) => anyhow::anyhow!("refused {}: {problem}", self.base),
                None => anyhow::anyhow!("cannot reach {}: {e}", self.base),
            }
        })?;
        let status = response.status();
        let text = response.text().await.unwrap_or_default();
        if status.is_success() {
            return Ok((status, text));
        }
        let (detail, code) = match serde_json::from_str::<Problem>(&text) {
            Ok(problem) => (problem.detail, crate::exit::for_api_code(&problem.code)),
            Err(_) => {
                let value = serde_json::from_str(&text).unwrap_or(Value::String(text));
                let code = if status.is_client_error() {
                    crate::exit::USAGE
                } else {
                    crate::exit::FAILURE
                };
                (value.to_string(), code)
            }
        };
        Err(ApiFailure {
            message: format!("{status}: {detail}"),
            code,
        }
        .into())
    }
}

impl std::fmt::Display for ApiFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for ApiFailure {}

/// Prints an answer as indented JSON, through a `serde_json::Value` so that
/// the keys come sorted, as the command line has always printed them.
pub fn print_json(answer: &impl Serialize) -> anyhow::Result<()> {
    println!(
        "{}",
        serde_json::to_string_pretty(&serde_json::to_value(answer)?)?
    );
    Ok(())
}

/// Prints an operation's answer like the local commands do; exit 0 applied
/// everywhere, 3 some part pending, 4 a site refused it.
pub fn report(outcome: &OperationDto) -> ExitCode {
    println!("operation {}", outcome.operation);
    if let Some(p) = &outcome.preset {
        // The name quoted and escaped as JSON.
        println!("preset {} {}", p.number, Value::from(p.name.as_str()));
    }
    let mut code = ExitCode::SUCCESS;
    for s in &outcome.sites {
        let state = s.state.as_str();
        match &s.error {
            Some(e) if state != "applied" => println!("  {}: {state}: {e}", s.site),
            _ => println!("  {}: {state}", s.site),
        }
        if state == "failed" {
            code = ExitCode::from(crate::exit::REFUSED);
        } else if state == "pending" && code == ExitCode::SUCCESS {
            code = ExitCode::from(crate::exit::PENDING);
        }
    }
    code
}
