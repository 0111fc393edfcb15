#!/usr/bin/env bash
# The README's first command: install what is missing, build, then run triaged in front of the
# project's scripted upstream, send a short mix of traffic that fails in realistic ways, and show
# what an operator would look at: the triage report, failure lines with their hints, and the
# matching /metrics lines. Everything listens on 127.0.0.1 with kernel-chosen ports; every
# process is stopped on exit. Plain `triaged --config FILE` remains the way to run for real.
#
# TRIAGED_BUILD_DIR=DIR skips setup and build and uses the binaries in DIR (the test suite does).
set -euo pipefail
cd "$(dirname "$0")/.."

if [[ -n "${TRIAGED_BUILD_DIR:-}" ]]; then
  build=$TRIAGED_BUILD_DIR
else
  bash scripts/setup.sh
  echo "== building"
  BUILD_DIR=build bash scripts/build.sh --target triaged triaged_fake_upstream >/dev/null
  build=build
fi
bin=$build/triaged
fake=$build/triaged_fake_upstream

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

# start_fake NAME VAR: starts a scripted upstream and stores its address in VAR. Not called in a
# $(...) subshell, which would record the PID in the subshell's copy of `pids` and leak it.
start_fake() {
  "$fake" --listen 127.0.0.1:0 >"$work/$1.log" 2>&1 &
  pids+=($!)
  wait_for_line "$work/$1.log" LISTENING
  printf -v "$2" '%s' "$(awk '/LISTENING/ {print $2; exit}' "$work/$1.log")"
}

start_fake app app
start_fake batch batch
# A port that was just free: nothing listens there, so connects are refused.
"$fake" --listen 127.0.0.1:0 >"$work/gone.log" 2>&1 &
gone_pid=$!
wait_for_line "$work/gone.log" LISTENING
refused=$(awk '/LISTENING/ {print $2; exit}' "$work/gone.log")
kill -TERM "$gone_pid"
wait "$gone_pid" 2>/dev/null || true

cat >"$work/triaged.toml" <<TOML
[server]
listen = "127.0.0.1:0"
admin_listen = "127.0.0.1:0"

[log]
format = "json"

[[upstream]]
name = "app"
endpoints = ["$app"]
response_header_timeout = "1s"

[[upstream]]
name = "billing"
endpoints = ["$refused"]
retries = 0

[[upstream]]
name = "batch"
endpoints = ["$batch"]
max_connections = 1
max_pending = 0

[[route]]
prefix = "/"
upstream = "app"

[[route]]
prefix = "/billing"
upstream = "billing"

[[route]]
prefix = "/batch"
upstream = "batch"
TOML

"$bin" --check-config --config "$work/triaged.toml"
"$bin" --config "$work/triaged.toml" >"$work/triaged.log" 2>&1 &
triaged_pid=$!
pids+=("$triaged_pid")
wait_for_line "$work/triaged.log" '"event":"listening"'
listen=$(grep -o '"listen":"[^"]*"' "$work/triaged.log" | head -1 | cut -d'"' -f4)
admin=$(grep -o '"admin":"[^"]*"' "$work/triaged.log" | head -1 | cut -d'"' -f4)
echo "== triaged listens on $listen (admin $admin); upstreams: app=$app billing=$refused batch=$batch"

show() {  # description, curl arguments...
  local desc=$1
  shift
  local code
  code=$(curl -s -o /dev/null -m 5 -w '%{http_code}' -D "$work/headers" "$@" || true)
  local cause
  cause=$(grep -i '^x-triaged-cause:' "$work/headers" | tail -1 | tr -d '\r' | cut -d' ' -f2 || true)
  printf '  %-58s -> %s %s\n' "$desc" "$code" "${cause:+(X-Triaged-Cause: $cause)}"
}

echo "== traffic"
show "GET / (healthy)" "http://$listen/"
show "the app answers 500 (application error)" "http://$listen/?status=500"
show "the app crashes before its response header (retried once)" \
  "http://$listen/?action=reset_before_headers"
show "/billing: nothing listens on $refused" "http://$listen/billing/invoice"
show "the app is slower than response_header_timeout (1s)" "http://$listen/?delay_headers=3000"
# The app answers, keeps the connection, and drops it when the next request arrives on it.
codes=$(curl -s -m 5 -o /dev/null -o /dev/null -w '%{http_code} ' \
  "http://$listen/?action=close_on_next_request" "http://$listen/race" || true)
printf '  %-58s -> %s\n' "keep-alive race: the app drops a pooled connection" \
  "$(echo "$codes" | awk '{print $2}') (retried on a fresh connection)"
# The same race under a POST: never replayed (RFC 9110 9.2.2), since the app may have applied it.
curl -s -o /dev/null -m 5 "http://$listen/?action=close_on_next_request" || true
show "the same race under a POST (not replayed: may be applied)" -d 'order=1' "http://$listen/order"
curl -s -o /dev/null -m 5 "http://$listen/batch/slow?delay_headers=1500" &
slow=$!
sleep 0.3
show "/batch: max_connections = 1 is busy (overload)" "http://$listen/batch/report"
wait "$slow" || true
sleep 0.2

echo
echo "== what the operator sees: triaged triage --admin $admin"
"$bin" triage --admin "$admin" 2>/dev/null || curl -s "http://$admin/debug/triage?format=text"

echo
echo "== three failure lines as they reach the log pipeline (one JSON object per failure)"
grep -E '"event":"upstream_failure"' "$work/triaged.log" |
  grep -E '"cause":"(connect_refused|upstream_reset_early|local_overload)"' |
  head -3 | sed 's/^/  /'
echo
echo "== the absorbed keep-alive race (the client got 200)"
grep '"event":"upstream_retry"' "$work/triaged.log" | grep '"path":"/race"' | head -1 |
  sed 's/^/  /'

echo
echo "== /metrics (non-zero failure and retry counters)"
curl -s "http://$admin/metrics" |
  grep -E '^triaged_(failures|retries)_total' | grep -v ' 0$' | sed 's/^/  /'

echo
echo "== draining with SIGTERM"
kill -TERM "$triaged_pid"
wait "$triaged_pid" && echo "  triaged exited 0 after draining"
