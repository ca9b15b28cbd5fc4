#!/usr/bin/env bash
# Runs deploy/nginx-forward-auth.conf or deploy/Caddyfile in the foreground for the browser
# tests (end2end/tests/forward-auth.spec.ts): over plain http on 127.0.0.1:$PROXY_PORT, for
# app., wiki. and docs.scanlogin.test (the browser maps *.scanlogin.test to 127.0.0.1),
# asking the scanlogin on $SCANLOGIN_PORT and passing to the application on $APP_PORT.
# Everything lives in one directory per port, made anew at each start.
set -euo pipefail
cd "$(dirname "$0")/.."
proxy=$1
: "${PROXY_PORT:?}" "${SCANLOGIN_PORT:?}" "${APP_PORT:?}"
hosts="app.scanlogin.test wiki.scanlogin.test docs.scanlogin.test"
tmp="${TMPDIR:-/tmp}/scanlogin-forward-auth-e2e-$PROXY_PORT"
rm -rf "$tmp"
mkdir -p "$tmp/logs"
case "$proxy" in
nginx)
  sed -e "s|listen 443 ssl http2;|listen 127.0.0.1:$PROXY_PORT;|" \
      -e "s|listen 443 ssl http2 default_server;|listen 127.0.0.1:$PROXY_PORT default_server;|" \
      -e "/ssl_/d" \
      -e "s|server_name app.example.com;|server_name $hosts;|" \
      -e "s|server 127.0.0.1:3000;|server 127.0.0.1:$SCANLOGIN_PORT;|" \
      -e "s|server 127.0.0.1:8080;|server 127.0.0.1:$APP_PORT;|" \
      deploy/nginx-forward-auth.conf > "$tmp/site.conf"
  exec tests/nginx-run.sh "$tmp" "$tmp/site.conf"
  ;;
caddy)
  sites=""
  for host in $hosts; do sites="${sites:+$sites, }http://$host:$PROXY_PORT"; done
  {
    printf '{\n\tadmin off\n}\n'
    sed -e "s|^app.example.com {|$sites {|" \
        -e "s|127.0.0.1:3000|127.0.0.1:$SCANLOGIN_PORT|" \
        -e "s|127.0.0.1:8080|127.0.0.1:$APP_PORT|" \
        deploy/Caddyfile
  } > "$tmp/Caddyfile"
  export XDG_DATA_HOME="$tmp/data" XDG_CONFIG_HOME="$tmp/config"
  exec caddy run --adapter caddyfile --config "$tmp/Caddyfile"
  ;;
*)
  echo "usage: $0 nginx|caddy" >&2
  exit 2
  ;;
esac
