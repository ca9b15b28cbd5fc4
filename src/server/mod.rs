//! Everything that runs only on the server (`ssr` feature).

pub mod config;
pub mod startup;
pub mod telemetry;

pub use config::{Config, ConfigError};
pub use startup::Application;
