#!/usr/bin/env bash
# make bench: pending logins held and push latency, one instance in memory against two
# instances on Redis (+ PostgreSQL, a standalone WeChat simulator). Release builds; every
# server on loopback; everything started here is stopped here. Run under
# tests/with-postgres.sh (the Makefile does). Prints one JSON line per configuration.
#
# The configuration is the default one except WeChat's real limits, which a load test must
# raise: the app-wide code budget and the simulator's codes per minute.
set -euo pipefail
cd "$(dirname "$0")/.."

PENDING=${BENCH_PENDING:-5000}
# Pages arrive a few at a time, not thousands in the same millisecond (see BENCHMARKS.md).
CONCURRENCY=${BENCH_CONCURRENCY:-16}
RATE=${BENCH_RATE:-200}
SECONDS_=${BENCH_SECONDS:-10}
server=target/release/scanlogin
loadgen=target/release/loadgen
pids=()
stop() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap stop EXIT

common=(LEPTOS_SITE_ROOT=target/site RUST_LOG=warn
        SCANLOGIN_CODE_BUDGET_PER_MIN=10000000 SCANLOGIN_SIM_CODES_PER_MINUTE=10000000)

wait_http() { for _ in $(seq 200); do curl -fsS -o /dev/null "$1" && return 0; sleep 0.05; done; echo "no answer at $1" >&2; exit 1; }

# One instance, in memory, demo mode (its own simulator).
env "${common[@]}" LEPTOS_SITE_ADDR=127.0.0.1:3200 SCANLOGIN_DATABASE_URL=sqlite::memory: \
  "$server" & one=$!; pids+=("$one")
wait_http http://127.0.0.1:3200/login
result=$("$loadgen" --target 127.0.0.1:3200 --server-pid "$one" --concurrency "$CONCURRENCY" --pending "$PENDING" --rate "$RATE" --seconds "$SECONDS_")
echo "{\"config\":\"1 instance, in memory\",\"result\":$result}"
kill "$one"

# Two instances on Redis and PostgreSQL, the phone on the other instance than the page.
redis_port=6392
redis-server --port $redis_port --bind 127.0.0.1 --save "" --appendonly no >/dev/null & pids+=($!)
env "${common[@]}" SCANLOGIN_SIM_LISTEN=127.0.0.1:3210 "$server" simulator & pids+=($!)
two=(SCANLOGIN_WECHAT_APPID=wxdemo00scanlogin0 SCANLOGIN_WECHAT_SECRET=scanlogin-demo-secret
     SCANLOGIN_WECHAT_API_BASE=http://127.0.0.1:3210 SCANLOGIN_REDIS_URL=redis://127.0.0.1:$redis_port/
     SCANLOGIN_DATABASE_URL="$TEST_POSTGRES_URL")
env "${common[@]}" "${two[@]}" LEPTOS_SITE_ADDR=127.0.0.1:3201 "$server" & a=$!; pids+=("$a")
env "${common[@]}" "${two[@]}" LEPTOS_SITE_ADDR=127.0.0.1:3202 "$server" & b=$!; pids+=("$b")
wait_http http://127.0.0.1:3201/login
wait_http http://127.0.0.1:3202/login
half=$((RATE / 2))
out=$(mktemp)
"$loadgen" --target 127.0.0.1:3201 --phone-target 127.0.0.1:3202 --server-pid "$a" \
  --concurrency "$CONCURRENCY" --pending "$PENDING" --rate "$half" --seconds "$SECONDS_" > "$out" &
la=$!
b_result=$("$loadgen" --target 127.0.0.1:3202 --phone-target 127.0.0.1:3201 --server-pid "$b" \
  --concurrency "$CONCURRENCY" --pending "$PENDING" --rate "$half" --seconds "$SECONDS_" --first-source 200000)
wait $la
echo "{\"config\":\"2 instances on Redis, each holding pages whose phones use the other\",\"a\":$(cat "$out"),\"b\":$b_result}"
rm -f "$out"
