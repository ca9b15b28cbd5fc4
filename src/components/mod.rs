//! Components shared by pages.

pub mod admin_actions;
pub mod language_switch;
pub mod qr_login;
