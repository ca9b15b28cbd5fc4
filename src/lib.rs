//! scanlogin: log in to a web site by scanning a WeChat mini-program code.
//!
//! The data flows: login page ([`pages::login`]) → QR component ([`components`]) →
//! server functions ([`api`]) and the login socket → scene registry → WeChat client
//! (all three under [`server`]). [`app`] holds the shell and the routes; [`protocol`]
//! and [`user_agent`] are what both sides share. Everything under [`server`] is compiled
//! only with the `ssr` feature, so none of it reaches the WASM build, and pages and
//! components reach it only through server functions.

pub mod api;
pub mod app;
pub mod components;
pub mod i18n;
pub mod pages;
pub mod protocol;
pub mod user_agent;

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
