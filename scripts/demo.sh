#!/usr/bin/env bash
# The README's first command: install what is missing, build, then run triaged in front of the
# project's scripted upstream and show what it does with good and failing requests. Everything
# listens on 127.0.0.1 with ports chosen by the kernel; every process is stopped on exit.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/setup.sh
echo "== building"
BUILD_DIR=build bash scripts/build.sh --target triaged triaged_fake_upstream >/dev/null
bin=build/triaged
fake=build/triaged_fake_upstream

work=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT

wait_for_line() {  # file pattern
  for _ in $(seq 1 100); do
    if grep -q "$2" "$1" 2>/dev/null; then return 0; fi
    sleep 0.1
  done
  echo "timed out waiting for '$2' in $1" >&2
  cat "$1" >&2
  return 1
}

"$fake" --listen 127.0.0.1:0 >"$work/upstream.log" 2>&1 &
pids+=($!)
wait_for_line "$work/upstream.log" LISTENING
upstream=$(awk '/LISTENING/ {print $2; exit}' "$work/upstream.log")

# A port that was just free: nothing listens there, so connects are refused.
"$fake" --listen 127.0.0.1:0 >"$work/gone.log" 2>&1 &
gone_pid=$!
wait_for_line "$work/gone.log" LISTENING
refused=$(awk '/LISTENING/ {print $2; exit}' "$work/gone.log")
kill -TERM "$gone_pid"; wait "$gone_pid" 2>/dev/null || true

cat >"$work/triaged.toml" <<TOML
[server]
listen = "127.0.0.1:0"
admin_listen = "127.0.0.1:0"

[log]
format = "json"

[[upstream]]
name = "app"
endpoints = ["$upstream"]
response_header_timeout = "1s"

[[upstream]]
name = "billing"
endpoints = ["$refused"]

[[route]]
prefix = "/"
upstream = "app"

[[route]]
prefix = "/billing"
upstream = "billing"
TOML

"$bin" --check-config --config "$work/triaged.toml"
"$bin" --config "$work/triaged.toml" >"$work/triaged.log" 2>&1 &
triaged_pid=$!
pids+=("$triaged_pid")
wait_for_line "$work/triaged.log" '"event":"listening"'
listen=$(grep -o '"listen":"[^"]*"' "$work/triaged.log" | head -1 | cut -d'"' -f4)
echo "== triaged listens on $listen, in front of the scripted upstream at $upstream"

show() {  # description, path
  local out
  out=$(curl -s -o /dev/null -m 5 -w '%{http_code}' -D "$work/headers" "http://$listen$2" || true)
  local cause
  cause=$(grep -i '^x-triaged-cause:' "$work/headers" | tr -d '\r' | cut -d' ' -f2 || true)
  printf '  %-52s -> %s %s\n' "$1" "$out" "${cause:+(X-Triaged-Cause: $cause)}"
}

echo "== requests"
show "GET / (healthy upstream)" "/"
show "GET of 64 KiB, chunked by the upstream" "/?size=65536&chunked=1"
show "upstream answers 500 (application error)" "/?status=500"
show "upstream closes before the response header" "/?action=close_before_headers"
show "upstream resets before the response header" "/?action=reset_before_headers"
show "upstream never answers (response_header_timeout 1s)" "/?action=hang"
show "upstream sends garbage" "/?action=garbage"
show "/billing: nothing listens on $refused" "/billing/invoice"

echo "== triaged's failure lines (one JSON object per failed request)"
grep '"event":"upstream_failure"' "$work/triaged.log" | sed 's/^/  /'

echo "== draining with SIGTERM"
kill -TERM "$triaged_pid"
wait "$triaged_pid" && echo "  triaged exited 0 after draining"
grep -E '"event":"(draining|stopped)"' "$work/triaged.log" | sed 's/^/  /'
