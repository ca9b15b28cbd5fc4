//! Everything that runs only on the server (`ssr` feature).

pub mod config;
pub mod random;
pub mod startup;
pub mod telemetry;
pub mod wechat;

pub use config::{Config, ConfigError};
pub use startup::{AppState, Application, StartupError};
