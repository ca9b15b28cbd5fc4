#!/usr/bin/env bash
# What the release WASM is made of, by crate (twiggy): the release build's wasm-bindgen
# input made again with the same wasm-opt -Oz, keeping the names section that the shipped
# file drops (the sizes are the same; see docs/benchmarks.md). Part of `make bench`.
set -euo pipefail
cd "$(dirname "$0")/../.."
out=$(mktemp -d -t scanlogin-wasm.XXXXXX)
trap 'rm -rf "$out"' EXIT
wasm-bindgen --target web --out-dir "$out" target/front/wasm32-unknown-unknown/wasm-release/scanlogin.wasm
wasm-opt -Oz -g --enable-bulk-memory --enable-nontrapping-float-to-int --enable-sign-ext \
  --enable-mutable-globals --enable-reference-types "$out/scanlogin_bg.wasm" -o "$out/named.wasm"
twiggy top -n 1000000 -f csv "$out/named.wasm" > "$out/items.csv"
/usr/bin/python3 - "$out/items.csv" <<'PY'
import collections, csv, re, sys
sizes = collections.Counter()
for row in csv.DictReader(open(sys.argv[1])):
    name, size = row["Name"], int(row["ShallowSize"])
    if "function names" in name or "custom section" in name:
        continue  # the names kept for this breakdown; the shipped file has none
    if name.startswith("data segment"):
        sizes["(data: strings, tables)"] += size
        continue
    crate = next((m.group(1) for m in re.finditer(r"([a-z_][a-z0-9_]*)(?:\[[0-9a-f]+\])?::", name)), None)
    if crate is None and "_" in name and name.split("_")[0][:1].isupper():
        crate = "scanlogin (islands)"
    sizes[crate or "(other)"] += size
total = sum(sizes.values())
print(f"{'bytes':>8}  share  crate (code and data after wasm-opt -Oz, before gzip)")
for crate, size in sizes.most_common(16):
    print(f"{size:8d}  {size * 100 / total:4.1f}%  {crate}")
print(f"{total:8d}  100%   in all")
PY
