//! Everything that runs only on the server (`ssr` feature).
//!
//! Following the data: `qr_image.rs` (the QR image endpoint) registers a scene in the
//! scene registry (`registry/`: a scene's state, events and expiry, in memory or in
//! Redis) and gets its image from WeChat (`wechat/`) through `qr_images.rs`; the browser's socket
//! (`socket.rs`) subscribes to the scene; the phone calls `mp_api.rs`; the ticket becomes
//! a session (`session.rs`) stored with the user in `store/` (SQLite or PostgreSQL), and
//! the person is told in WeChat (`login_notice.rs`).
//! `error.rs` is the error table and maps every failure to the envelope the client sees,
//! once (the OpenID provider, `oidc/`, answers OAuth's error format from the same table).
//! Around it all: `startup.rs` builds and runs, `router.rs` routes and layers,
//! `context.rs` is what a request reaches, `housekeeping.rs` purges; `connections.rs`
//! accepts connections (caps, header and idle deadlines), `client.rs` says who is asking
//! (trusted proxies, the key limits count by), `limits.rs` rate-limits, `guard.rs` checks
//! origins and sets headers.

pub mod access;
pub mod account;
pub mod admin;
pub mod audit;
pub mod avatar;
pub mod client;
pub mod config;
pub mod connections;
pub mod context;
pub mod demo;
pub mod error;
pub mod form;
pub mod forward_auth;
pub mod guard;
pub mod health;
pub mod housekeeping;
pub mod limits;
pub mod locale;
pub mod login_notice;
pub mod message_push;
pub mod metrics;
pub mod mp_api;
pub mod oidc;
pub mod open_link;
pub mod outbound;
pub mod place;
pub mod profile;
pub mod qr_image;
pub mod qr_images;
pub mod random;
pub mod redis_channel;
pub mod registry;
pub mod request_id;
pub mod router;
pub mod scene_status;
pub mod secret;
pub mod session;
pub mod session_cache;
pub mod socket;
pub mod startup;
pub mod store;
pub mod telemetry;
pub mod wechat;

pub use config::{Config, ConfigError, ConfigErrors};
pub use context::AppState;
pub use startup::{Application, StartupError};
