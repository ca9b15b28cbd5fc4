//! Components shared by pages.

pub mod language_switch;
pub mod place;
pub mod qr_login;
pub mod sessions_table;
