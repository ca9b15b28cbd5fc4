#!/usr/bin/env bash
# rustc for this crate's own targets, with Clippy's lints denied: the Makefile sets it as
# RUSTC_WORKSPACE_WRAPPER for the test build, so that build is the lint too. clippy-driver
# checks a crate, then compiles it as rustc does; the dependencies stay plain rustc's, the
# same artifacts as without the wrapper, so the dependency tree is not checked a second
# time as `cargo clippy` would (2.5 minutes of a fresh machine's run).
# Cargo calls it as: clippy-rustc.sh /path/to/rustc ARGS...; clippy-driver takes the same.
exec clippy-driver "$@" -D warnings
