#!/usr/bin/env bash
# make bench: the figures of docs/benchmarks.md, measured on this machine; `BENCH_SMOKE=1`
# (the test command) runs the same steps small and only checks that each completes without
# an error, never how fast. Release builds of ours; baselines built here; every server on
# loopback, started and stopped here. Run under tests/with-postgres.sh (the Makefile does).
#
# Results go to target/bench/results.jsonl, one JSON line per step; report.py prints each
# figure beside the one recorded in tests/bench/recorded.md and draws the plot.
#
# The configuration is the default one except WeChat's real limits, which a load test must
# raise: the app-wide QR image budget and the simulator's QR images per minute. Logging too
# is the default (`info`: a line per login); each server writes to target/bench/logs/.
set -euo pipefail
cd "$(dirname "$0")/../.."

smoke=${BENCH_SMOKE:-}
# BENCH_SIZES: the pending logins of the sweep (with the baselines) and of the JPEG run;
# set it empty to measure only the steps after them.
if [ -n "$smoke" ]; then
  sizes=${BENCH_SIZES-200}; rate=50; seconds=2; settle=1; burst=100; two_pending=100; runs=3; loadgen=${LOADGEN:-target/debug/loadgen}
  wrong_secrets=20; verify_sessions=100
else
  sizes=${BENCH_SIZES-"1000 5000 10000 19000"}; rate=200; seconds=10; settle=20; burst=1000; runs=15
  two_pending=${BENCH_TWO_PENDING:-19000}; loadgen=${LOADGEN:-target/release/loadgen}
  wrong_secrets=500; verify_sessions=10000
fi
# Pages arrive a few at a time, not thousands in the same millisecond (see docs/benchmarks.md).
concurrency=${BENCH_CONCURRENCY:-16}
# The smoke (make test) runs the test build's server (SERVER_BIN), the figures a release one.
server=${SERVER_BIN:-target/release/scanlogin}
out=target/bench; logs=$out/logs; mkdir -p "$logs"; results=$out/results.jsonl; : > "$results"
rm -f "$logs"/*.log
work=$(mktemp -d -t scanlogin-bench.XXXXXX)
pids=()
# Also lets go of the two-instance step's load generators (their stdin is a FIFO held here);
# a failed run shows the end of each server's log.
stop() {
  local status=$?
  [ -z "${release:-}" ] || exec {release}>&-
  [ "$status" = 0 ] || tail -n 20 "$logs"/*.log >&2 || true
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$work"
}
trap stop EXIT

port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
wait_port() {
  for _ in $(seq 400); do
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0; sleep 0.05
  done
  echo "nothing listens on $1" >&2; exit 1
}
# record STEP JSON: one result line.
record() { echo "{\"step\":\"$1\",\"result\":$2}" | tee -a "$results"; }
# measure STEP LOADGEN-ARGS...: runs the load generator and records what it says; a run
# with any error (it exits non-zero) stops the benchmark, in the smoke a failed test.
measure() {
  local step=$1 result; shift
  result=$("$loadgen" "$@") || { echo "bench: $step failed: $result" >&2; exit 1; }
  record "$step" "$result"
}
# overload STEP LOADGEN-ARGS...: the same for a rate meant to pass what the server can do:
# its errors (503s, timeouts) are the finding, recorded, except in the smoke.
overload() {
  local step=$1 result; shift
  result=$("$loadgen" "$@") || [ -z "$smoke" ] || { echo "bench: $step failed: $result" >&2; exit 1; }
  record "$step" "$result"
}

common=(-u RUST_LOG LEPTOS_SITE_ROOT=target/site
        SCANLOGIN_CODE_BUDGET_PER_MIN=10000000 SCANLOGIN_SIM_CODES_PER_MINUTE=10000000)

# start_ours PORT [VAR=VALUE...]: one instance in demo mode (its own simulator), with the
# default database (a SQLite file) in a directory of its own; sets $pid.
start_ours() {
  local p=$1; shift
  env "${common[@]}" LEPTOS_SITE_ADDR=127.0.0.1:$p SCANLOGIN_DATABASE_URL="sqlite://$work/$p.db" "$@" \
    "$server" 2>>"$logs/scanlogin-$p.log" & pid=$!; pids+=("$pid"); wait_port "$p"
}

# Baselines: the original design in Go with gorilla/websocket, and a minimal Node `ws`
# server (full runs only).
if [ -z "$smoke" ]; then
  GO111MODULE=off GOPATH=/usr/share/gocode GOCACHE=$PWD/target/bench/go-cache \
    go build -o "$out/gorilla-go" ./tests/bench/gorilla-go
  (cd tests/bench/node-ws && npm ci --no-audit --no-fund --silent)
fi

for n in $sizes; do
  p=$(port); start_ours "$p"
  measure "scanlogin pending=$n" --target 127.0.0.1:$p --server-pid "$pid" --concurrency "$concurrency" \
    --pending "$n" --rate "$rate" --seconds "$seconds" --settle-secs "$settle"
  kill "$pid"
  if [ -z "$smoke" ]; then
    p=$(port); "$out/gorilla-go" 127.0.0.1:$p & pid=$!; pids+=("$pid"); wait_port "$p"
    measure "gorilla-go pending=$n" --protocol bare --target 127.0.0.1:$p --server-pid "$pid" \
      --concurrency "$concurrency" --pending "$n" --rate "$rate" --seconds "$seconds" --settle-secs "$settle"
    kill "$pid"
    p=$(port); node tests/bench/node-ws/server.js 127.0.0.1:$p & pid=$!; pids+=("$pid"); wait_port "$p"
    measure "node-ws pending=$n" --protocol bare --target 127.0.0.1:$p --server-pid "$pid" \
      --concurrency "$concurrency" --pending "$n" --rate "$rate" --seconds "$seconds" --settle-secs "$settle"
    kill "$pid"
  fi
done

# WeChat-sized images (25 KiB JPEGs): what a pending login costs with real-sized QR images.
if [ -n "$sizes" ]; then
  n=${sizes##* }
  p=$(port); start_ours "$p" SCANLOGIN_SIM_IMAGE=jpeg
  measure "scanlogin jpeg pending=$n" --target 127.0.0.1:$p --server-pid "$pid" --concurrency "$concurrency" \
    --pending "$n" --rate "$rate" --seconds "$seconds" --settle-secs "$settle"
  kill "$pid"
fi

# The QR image on the screen after navigation (Playwright, Debian's Chromium), then
# throughput: logins at a target rate with nothing else pending, and /login pages.
p=$(port); start_ours "$p"
(cd end2end && BENCH_BASE_URL=http://127.0.0.1:$p BENCH_OUT=$work/visible.json BENCH_RUNS=$runs \
  npx playwright test --config playwright.bench.config.ts >&2)
record "QR image visible" "$(cat "$work/visible.json")"
overload "scanlogin throughput target=$burst/s" --target 127.0.0.1:$p --server-pid "$pid" --concurrency "$concurrency" \
  --pending 0 --rate "$burst" --seconds "$seconds" --settle-secs 0
measure "scanlogin /login pages" pages --target 127.0.0.1:$p --concurrency 8 --seconds "$seconds"
kill "$pid"

# The OpenID provider's token endpoint under wrong client secrets from many addresses at
# once (each checked: argon2, 19 MiB), with a login beside them.
p=$(port); start_ours "$p" SCANLOGIN_OIDC_CLIENTS=end2end/oidc-clients.toml SCANLOGIN_PUBLIC_ORIGIN=http://127.0.0.1:$p
measure "scanlogin wrong client secrets" wrong-secrets --target 127.0.0.1:$p --server-pid "$pid" \
  --concurrency "$wrong_secrets" --client-id rp
kill "$pid"

# Forward authentication: /auth/verify about sessions already logged in, as a proxy asks
# about each request to a protected host (answered from the session cache).
p=$(port); start_ours "$p" SCANLOGIN_FORWARD_AUTH_RULES=tests/bench/forward-auth-rules.toml \
  SCANLOGIN_TRUSTED_PROXIES=127.0.0.0/8 SCANLOGIN_DEMO=1
measure "scanlogin forward auth sessions=$verify_sessions" verify --target 127.0.0.1:$p --server-pid "$pid" \
  --concurrency "$concurrency" --sessions "$verify_sessions" --seconds "$seconds"
kill "$pid"

# Two instances on Redis and PostgreSQL, the phone on the other instance than the page.
redis_port=$(port)
redis-server --port "$redis_port" --bind 127.0.0.1 --save "" --appendonly no --maxclients 100000 >/dev/null & pids+=($!)
sim_port=$(port)
env "${common[@]}" SCANLOGIN_SIM_LISTEN=127.0.0.1:$sim_port "$server" simulator 2>>"$logs/simulator.log" & pids+=($!)
wait_port "$redis_port"; wait_port "$sim_port"
two=(SCANLOGIN_WECHAT_APPID=wxdemo00scanlogin0 SCANLOGIN_WECHAT_SECRET=scanlogin-demo-secret
     SCANLOGIN_WECHAT_API_BASE=http://127.0.0.1:$sim_port SCANLOGIN_REDIS_URL=redis://127.0.0.1:$redis_port/
     SCANLOGIN_DATABASE_URL="$TEST_POSTGRES_URL")
pa=$(port); pb=$(port)
env "${common[@]}" "${two[@]}" LEPTOS_SITE_ADDR=127.0.0.1:$pa "$server" 2>>"$logs/scanlogin-$pa.log" & a=$!; pids+=("$a")
env "${common[@]}" "${two[@]}" LEPTOS_SITE_ADDR=127.0.0.1:$pb "$server" 2>>"$logs/scanlogin-$pb.log" & b=$!; pids+=("$b")
wait_port "$pa"; wait_port "$pb"
# The two generators measure side by side, and each keeps its pending logins after its
# report until both have reported (their stdin, a FIFO held open here, then closes):
# otherwise the first to finish closes its 19,000 sockets while the other still measures,
# and that burst of closes, not the logins, sets the other's tail.
mkfifo "$work/release"; exec {release}<>"$work/release"
"$loadgen" --target 127.0.0.1:$pa --phone-target 127.0.0.1:$pb --server-pid "$a" --concurrency "$concurrency" \
  --pending "$two_pending" --rate $((rate / 2)) --seconds "$seconds" --settle-secs "$settle" \
  --keep-pending until-eof < "$work/release" {release}>&- > "$work/a.json" & la=$!
"$loadgen" --target 127.0.0.1:$pb --phone-target 127.0.0.1:$pa --server-pid "$b" --concurrency "$concurrency" \
  --pending "$two_pending" --rate $((rate / 2)) --seconds "$seconds" --settle-secs "$settle" --first-source 200000 \
  --keep-pending until-eof < "$work/release" {release}>&- > "$work/b.json" & lb=$!
pids+=("$la" "$lb")
until [ -s "$work/a.json" ] && [ -s "$work/b.json" ]; do
  kill -0 "$la" 2>/dev/null && kill -0 "$lb" 2>/dev/null || break
  sleep 0.2
done
exec {release}>&-; release=
failed() { echo "bench: two instances, $1 failed: $(cat "$work/$1.json")" >&2; exit 1; }
wait "$la" || failed a
wait "$lb" || failed b
record "two instances on Redis, a" "$(cat "$work/a.json")"
record "two instances on Redis, b" "$(cat "$work/b.json")"

wasm=$(ls target/site/pkg/*.wasm)
record "wasm" "{\"bytes\":$(stat -c %s "$wasm"),\"gzip_bytes\":$(gzip -9c "$wasm" | wc -c)}"
[ -n "$smoke" ] || tests/bench/wasm-breakdown.sh

# Debian's Python, which has Debian's matplotlib (a python3 earlier on PATH may not).
/usr/bin/python3 tests/bench/report.py "$results" ${smoke:+--smoke} ${BENCH_RECORD:+--record}
