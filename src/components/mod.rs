//! Components shared by pages.

pub mod qr_login;
