//! scanlogin: log in to a web site by scanning a WeChat mini-program code.
//!
//! The data flows: login page ([`pages::login`]) → QR component ([`components`]) →
//! server functions and WebSocket ([`server`]) → push hub → WeChat client.
//! [`app`] holds the shell and the routes; everything under [`server`] is compiled
//! only with the `ssr` feature, so none of it reaches the WASM build.

pub mod api;
pub mod app;
pub mod components;
pub mod i18n;
pub mod pages;
pub mod protocol;

#[cfg(feature = "ssr")]
pub mod server;

/// Browser entry point, called by the hydration script that cargo-leptos generates. Pages
/// are rendered on the server; only their islands (`#[island]` components) hydrate.
#[cfg(feature = "hydrate")]
#[wasm_bindgen::prelude::wasm_bindgen]
pub fn hydrate() {
    console_error_panic_hook::set_once();
    leptos::mount::hydrate_islands();
}
