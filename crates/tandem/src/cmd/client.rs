//! The command line as a client of `tandem serve`.

use std::process::ExitCode;

use reqwest::{Method, StatusCode};
use serde_json::Value;

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
    let http = reqwest::Client::builder()
        .timeout(std::time::Duration::from_millis(arg.wait_ms + 30_000))
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
    /// Calls the API; success answers (2xx) give their JSON body.
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> anyhow::Result<(StatusCode, Value)> {
        let mut request = self
            .http
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(&self.token);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request
            .send()
            .await
            .map_err(|e| anyhow::anyhow!("cannot reach {}: {e}", self.base))?;
        let status = response.status();
        let text = response.text().await.unwrap_or_default();
        let value: Value = serde_json::from_str(&text).unwrap_or(Value::String(text));
        if status.is_success() {
            return Ok((status, value));
        }
        let detail = value["detail"]
            .as_str()
            .map(str::to_string)
            .unwrap_or_else(|| value.to_string());
        let code = match value["code"].as_str() {
            Some(code) => crate::exit::for_api_code(code),
            None if status.is_client_error() => crate::exit::USAGE,
            None => crate::exit::FAILURE,
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

/// Prints an operation's answer like the local commands do; exit 0 applied
/// everywhere, 3 some part pending, 4 a site refused it.
pub fn report(value: &Value) -> ExitCode {
    println!("operation {}", value["operation"]);
    if let Some(p) = value.get("preset").filter(|p| !p.is_null()) {
        println!("preset {} {}", p["number"], p["name"]);
    }
    let mut code = ExitCode::SUCCESS;
    for s in value["sites"].as_array().into_iter().flatten() {
        let state = s["state"].as_str().unwrap_or("?");
        match s["error"].as_str() {
            Some(e) if state != "applied" => {
                println!("  {}: {state}: {e}", s["site"].as_str().unwrap_or("?"))
            }
            _ => println!("  {}: {state}", s["site"].as_str().unwrap_or("?")),
        }
        if state == "failed" {
            code = ExitCode::from(crate::exit::REFUSED);
        } else if state == "pending" && code == ExitCode::SUCCESS {
            code = ExitCode::from(crate::exit::PENDING);
        }
    }
    code
}
