#!/usr/bin/env bash
# Runs the README's demo non-interactively against an existing build and checks that its output
# shows each cause it provokes, the report, the metrics and a clean drain.
set -euo pipefail
# The demo writes its work dir (the fakes' logs) under this TMPDIR: a process still holding a file
# there after the demo returned is one it left behind.
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
out=$(TMPDIR=$tmp bash "$(dirname "$0")/../../scripts/demo.sh" 2>&1)
echo "$out"
fail=0
left=()
for fd in /proc/[0-9]*/fd/*; do
  target=$(readlink "$fd" 2>/dev/null) || continue
  if [[ $target == "$tmp"/* ]]; then
    pid=${fd#/proc/}
    left+=("${pid%%/*}")
  fi
done
if ((${#left[@]})); then
  echo "check_demo: the demo left processes behind:" >&2
  ps -o pid,cmd -p "${left[@]}" >&2 || true
  kill -KILL "${left[@]}" 2>/dev/null || true
  fail=1
fi
for want in \
  'X-Triaged-Cause: upstream_reset_early' 'X-Triaged-Cause: connect_refused' \
  'X-Triaged-Cause: response_header_timeout' 'X-Triaged-Cause: local_overload' \
  'X-Triaged-Cause: stale_keepalive' \
  'upstream_app_error' '"event":"upstream_retry","cause":"stale_keepalive"' \
  'triaged triage report' 'Hints (latest per upstream and cause)' \
  'triaged_failures_total{upstream="billing",cause="connect_refused"} 1' \
  'triaged_retries_total{upstream="app",cause="stale_keepalive"}' \
  'triaged exited 0 after draining'; do
  if ! grep -qF -- "$want" <<<"$out"; then
    echo "check_demo: missing from the demo output: $want" >&2
    fail=1
  fi
done
exit $fail
