//! The integration tests: each starts the real application (or several) on free loopback
//! ports and drives it over real HTTP and WebSocket. One test binary, so that the app and
//! the tests' helpers compile and link once (as Zero To Production's `tests/api/`).
//!
//! Two suites keep binaries of their own, because each installs something that a process
//! has only one of: `tests/wechat_secrets.rs` (a global TRACE subscriber that captures
//! every log line of its run) and `tests/metrics.rs` (the global metrics recorder, whose
//! counts must move exactly).

#[path = "../common/mod.rs"]
mod common;

mod access;
mod account;
mod admin;
mod attacks;
mod forward_auth;
mod login_flow;
mod login_notice;
mod oidc;
mod operations;
mod pages;
mod place;
mod registry;
mod scale_out;
mod wechat_client;
