//! Server functions: declared once, called from the browser as HTTP requests and
//! run on the server. Their bodies are compiled only with `ssr`.

use leptos::prelude::*;
use serde::{Deserialize, Serialize};

/// What the server says about itself.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServerInfo {
    pub name: String,
    pub version: String,
    /// `demo` (built-in WeChat simulator) or `wechat` (real credentials).
    pub mode: String,
}

/// `POST /api/check_server`: a cheap round trip that proves server functions work.
#[server(prefix = "/api", endpoint = "check_server")]
pub async fn check_server() -> Result<ServerInfo, ServerFnError> {
    let config = expect_context::<std::sync::Arc<crate::server::Config>>();
    Ok(ServerInfo {
        name: env!("CARGO_PKG_NAME").to_owned(),
        version: env!("CARGO_PKG_VERSION").to_owned(),
        mode: config.mode_name().to_owned(),
    })
}
