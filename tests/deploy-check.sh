#!/usr/bin/env bash
# Checks deploy/: the systemd unit with systemd-analyze verify (works on unit files without
# systemd running), the nginx sites with nginx -t and the Caddyfile with caddy validate,
# each in a temporary root of its own.
set -euo pipefail
cd "$(dirname "$0")/.."
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# The unit names /usr/local/bin/scanlogin, which a build machine does not have: verify a
# copy that runs the built binary instead (release if there is one, else any stand-in).
bin=$(pwd)/target/release/scanlogin
[ -x "$bin" ] || bin=/bin/true
sed "s|^ExecStart=.*|ExecStart=$bin|; s|^EnvironmentFile=.*|EnvironmentFile=-/etc/scanlogin/scanlogin.env|" \
  deploy/scanlogin.service > "$tmp/scanlogin.service"
# verify reports unknown keys and bad values as warnings with exit code 0: any output fails.
out=$(SYSTEMD_LOG_LEVEL=warning systemd-analyze verify "$tmp/scanlogin.service" 2>&1) || { echo "$out"; exit 1; }
if [ -n "$out" ]; then echo "$out"; exit 1; fi
echo "deploy/scanlogin.service: systemd-analyze verify passed"

# nginx: the site inside a minimal main configuration, with a throwaway certificate.
mkdir -p "$tmp/nginx/logs"
openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=login.example.com \
  -keyout "$tmp/key.pem" -out "$tmp/cert.pem" 2>/dev/null
sed "s|/etc/ssl/certs/login.example.com.pem|$tmp/cert.pem|; s|/etc/ssl/private/login.example.com.key|$tmp/key.pem|" \
  deploy/nginx-scanlogin.conf > "$tmp/site.conf"
cat > "$tmp/nginx.conf" <<CONF
pid $tmp/nginx.pid;
error_log $tmp/nginx/logs/error.log;
events {}
http {
    access_log off;
    include $tmp/site.conf;
}
CONF
nginx -t -q -p "$tmp/nginx" -c "$tmp/nginx.conf"
echo "deploy/nginx-scanlogin.conf: nginx -t passed"

# The forward-authentication site, beside the login's (as they are deployed: one nginx).
sed "s|/etc/ssl/certs/app.example.com.pem|$tmp/cert.pem|; s|/etc/ssl/private/app.example.com.key|$tmp/key.pem|" \
  deploy/nginx-forward-auth.conf > "$tmp/forward-auth.conf"
sed -i "s|include $tmp/site.conf;|include $tmp/site.conf;\n    include $tmp/forward-auth.conf;|" "$tmp/nginx.conf"
nginx -t -q -p "$tmp/nginx" -c "$tmp/nginx.conf"
echo "deploy/nginx-forward-auth.conf: nginx -t passed"

# Caddy keeps its state under XDG directories: the temporary root's.
XDG_DATA_HOME="$tmp/caddy" XDG_CONFIG_HOME="$tmp/caddy" \
  caddy validate --adapter caddyfile --config deploy/Caddyfile >"$tmp/caddy.log" 2>&1 \
  || { cat "$tmp/caddy.log"; exit 1; }
echo "deploy/Caddyfile: caddy validate passed"
