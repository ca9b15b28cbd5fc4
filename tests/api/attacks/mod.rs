//! The attack suite: the six flaw classes of "Demystifying the (In)Security of QR
//! Code-based Login in Real-world Deployments" (USENIX Security 2025), one module each,
//! and the rest of the threat model (origins, floods, malformed input), and the holes a
//! deployment falls into (demo mode, forged `X-Forwarded-For`, slow clients, limits that
//! did not hold). Every test
//! attacks the running app over real HTTP and WebSocket and shows the attack fails.

mod class1_binding;
mod class2_reuse;
mod class3_predictable_ids;
mod class4_client_ids;
mod class5_scan_token_user;
mod class6_data_leaks;
mod demo_mode;
mod display_and_caching;
mod floods;
mod forwarded_for;
mod fuzz;
mod limits_hold;
mod origins;
mod slow_clients;
