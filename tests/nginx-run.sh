#!/usr/bin/env bash
# Runs nginx in the foreground with the site $2 inside a minimal main configuration, all
# its files in the directory $1 (the browser tests' proxies: tests/nginx-for-e2e.sh,
# tests/forward-auth-for-e2e.sh).
set -euo pipefail
tmp=$1 site=$2
cat > "$tmp/nginx.conf" <<CONF
daemon off;
pid $tmp/nginx.pid;
error_log $tmp/logs/error.log warn;
events {}
http {
    access_log off;
    client_body_temp_path $tmp/body;
    proxy_temp_path $tmp/proxy;
    fastcgi_temp_path $tmp/fastcgi;
    uwsgi_temp_path $tmp/uwsgi;
    scgi_temp_path $tmp/scgi;
    include $site;
}
CONF
exec nginx -p "$tmp" -c "$tmp/nginx.conf"
