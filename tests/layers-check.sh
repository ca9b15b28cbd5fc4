#!/usr/bin/env bash
# The layers of docs/architecture.md, checked on the source: pages and components reach the
# server only through server functions (src/api/), never a module of src/server/; and the
# server imports nothing from the components. Comments are not imports. Part of `make lint`.
set -euo pipefail
cd "$(dirname "$0")/.."

code_lines() { # FILES... -> file:line:text, comments left out
  grep -rnE "$1" "${@:2}" | grep -vE '^[^:]+:[0-9]+:\s*//' || true
}

status=0
up=$(code_lines '(^|[^_[:alnum:]])server::' src/pages src/components)
if [ -n "$up" ]; then
  echo "pages and components reach src/server/ only through server functions (src/api/):"
  echo "$up"
  status=1
fi
down=$(code_lines '(^|[^_[:alnum:]])components::' src/server)
if [ -n "$down" ]; then
  echo "src/server/ imports nothing from src/components/:"
  echo "$down"
  status=1
fi
[ "$status" = 0 ] && echo "layers: src/pages and src/components reach src/server only through src/api; src/server imports no component"
exit "$status"
