#!/usr/bin/env bash
# Runs deploy/nginx-scanlogin.conf in the foreground for the browser tests: its TLS site on
# 127.0.0.1:$NGINX_PORT (a throwaway certificate) in front of the scanlogin on
# 127.0.0.1:$UPSTREAM_PORT. Everything lives in one directory per port, made anew at each
# start (Playwright ends this script with SIGKILL, so no exit trap would run).
set -euo pipefail
cd "$(dirname "$0")/.."
NGINX_PORT=${NGINX_PORT:-3443}
UPSTREAM_PORT=${UPSTREAM_PORT:-3008}
tmp="${TMPDIR:-/tmp}/scanlogin-nginx-e2e-$NGINX_PORT"
rm -rf "$tmp"
mkdir -p "$tmp/logs"
openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=127.0.0.1 \
  -keyout "$tmp/key.pem" -out "$tmp/cert.pem" 2>/dev/null
sed -e "s|/etc/ssl/certs/login.example.com.pem|$tmp/cert.pem|" \
    -e "s|/etc/ssl/private/login.example.com.key|$tmp/key.pem|" \
    -e "s|server 127.0.0.1:3000;|server 127.0.0.1:$UPSTREAM_PORT;|" \
    -e "s|listen 443 ssl http2;|listen 127.0.0.1:$NGINX_PORT ssl http2;|" \
    -e "s|listen 80;|listen 127.0.0.1:$((NGINX_PORT + 1));|" \
    deploy/nginx-scanlogin.conf > "$tmp/site.conf"
exec tests/nginx-run.sh "$tmp" "$tmp/site.conf"
