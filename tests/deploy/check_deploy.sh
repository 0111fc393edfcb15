#!/usr/bin/env bash
# Checks everything under deploy/ (issue 5, "Checks in the test suite").
#
# usage: tests/deploy/check_deploy.sh [METRICS_FILE]
#
# METRICS_FILE: a live /metrics scrape of triaged (or any file listing the metric names): every
# metric name in the alert rules and the Grafana queries must be in it. Without it, the script
# starts a triaged of its own ($TRIAGED_BIN, else build/triaged) on free loopback ports, scrapes
# it and stops it; with no binary either, that check fails.
#
# Needs python3 with PyYAML (Debian: python3-yaml) and promtool (Debian: prometheus). Uses
# kubectl (or kustomize) when installed, else parses the YAML; runs systemd-analyze where it
# works. Prints one line per check; exits 1 if any check failed.
set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
METRICS=${1:-}
[[ -n "$METRICS" && "$METRICS" != /* ]] && METRICS="$PWD/$METRICS"
cd "$ROOT" || exit 2
LIB="$ROOT/tests/deploy/deploy_lib.py"
PYTHON=${PYTHON:-python3}
DEPLOY=deploy
KUSTOMIZE_DIRS=(deploy/kubernetes/sidecar deploy/kubernetes/gateway deploy/kubernetes/monitoring deploy/grafana)
RULES=deploy/prometheus/triaged-rules.yml
PROM_RULE=deploy/kubernetes/monitoring/prometheusrule.yaml
PROM_CONFIG=deploy/prometheus/prometheus.yml
DASHBOARD=deploy/grafana/triaged-dashboard.json
UNIT=deploy/systemd/triaged.service

failures=0
TMP=$(mktemp -d "${TMPDIR:-/tmp}/check_deploy.XXXXXX")
TRIAGED_PID=""
cleanup() {
  if [[ -n "$TRIAGED_PID" ]]; then
    kill -TERM "$TRIAGED_PID" 2>/dev/null
    wait "$TRIAGED_PID" 2>/dev/null
  fi
  rm -rf "$TMP"
}
trap cleanup EXIT

section() { printf '\n== %s\n' "$*"; }
ok()      { printf 'ok:   %s\n' "$*"; }
fail()    { printf 'FAIL: %s\n' "$*"; failures=$((failures + 1)); }
skip()    { printf 'skip: %s\n' "$*"; }
# run CMD...: run it indented; its failure counts as one failure
run() {
  local out rc
  out=$("$@" 2>&1); rc=$?
  [[ -n "$out" ]] && printf '%s\n' "$out" | sed 's/^/      /'
  return $rc
}
# lib SUBCOMMAND ARGS...: the python helper prints its own ok/FAIL lines
lib() {
  local out rc
  out=$("$PYTHON" "$LIB" "$@" 2>&1); rc=$?
  printf '%s\n' "$out"
  if ((rc != 0)); then
    local n
    n=$(grep -c '^FAIL' <<<"$out")
    failures=$((failures + (n > 0 ? n : 1)))
  fi
  return $rc
}

# ---------------------------------------------------------------------------------------------
section "tools"
have_python=0
if ! command -v "$PYTHON" >/dev/null 2>&1; then
  fail "python3 not found: install python3 and python3-yaml (scripts/setup.sh)"
elif ! "$PYTHON" -c 'import yaml' 2>/dev/null; then
  fail "$PYTHON has no yaml module: install python3-yaml (apt-get install python3-yaml) or PyYAML"
else
  have_python=1
  ok "$("$PYTHON" --version 2>&1) with PyYAML $("$PYTHON" -c 'import yaml; print(yaml.__version__)')"
fi
have_promtool=0
if command -v promtool >/dev/null 2>&1; then
  have_promtool=1
  ok "$(promtool --version 2>&1 | head -n1)"
else
  fail "promtool not found: install the Debian package prometheus (apt-get install prometheus)"
fi
RENDER=()
if command -v kubectl >/dev/null 2>&1 && kubectl kustomize --help >/dev/null 2>&1; then
  RENDER=(kubectl kustomize)
  ok "rendering with kubectl kustomize ($(kubectl version --client 2>/dev/null | head -n1))"
elif command -v kustomize >/dev/null 2>&1; then
  RENDER=(kustomize build)
  ok "rendering with kustomize build"
else
  skip "kubectl and kustomize not installed: parsing the YAML files instead of rendering"
fi
((have_python)) || { printf '\n%d check(s) failed\n' "$failures"; exit 1; }

# ---------------------------------------------------------------------------------------------
section "every YAML file under $DEPLOY/ parses"
while IFS= read -r -d '' f; do
  if err=$("$PYTHON" -c 'import yaml,sys; list(yaml.safe_load_all(open(sys.argv[1])))' "$f" 2>&1); then
    ok "$f"
  else
    fail "$f: $(tail -n 3 <<<"$err" | tr '\n' ' ')"
  fi
done < <(find "$DEPLOY" -type f \( -name '*.yaml' -o -name '*.yml' \) -print0 | sort -z)

# ---------------------------------------------------------------------------------------------
for dir in "${KUSTOMIZE_DIRS[@]}"; do
  section "kustomization $dir"
  if [[ ! -f "$dir/kustomization.yaml" ]]; then
    fail "$dir/kustomization.yaml missing"
    continue
  fi
  if ((${#RENDER[@]})); then
    out="$TMP/$(tr / _ <<<"$dir").yaml"
    if err=$("${RENDER[@]}" "$dir" 2>&1 >"$out"); then
      ok "${RENDER[*]} $dir renders $(grep -c '^kind:' "$out") objects"
      lib objects --as "$dir" "$out"
    else
      fail "${RENDER[*]} $dir: $err"
    fi
  else
    # every resource the kustomization names exists; every other YAML file is an object
    if "$PYTHON" - "$dir" <<'EOF'; then
import os, sys, yaml
d = sys.argv[1]
k = yaml.safe_load(open(os.path.join(d, "kustomization.yaml")))
bad = [r for r in k.get("resources") or [] if not os.path.exists(os.path.join(d, r))]
for g in k.get("configMapGenerator") or []:
    bad += [f for f in (x.split("=", 1)[-1] for x in g.get("files") or []) if not os.path.exists(os.path.join(d, f))]
if bad:
    print("      missing: " + " ".join(bad)); sys.exit(1)
EOF
      ok "$dir/kustomization.yaml: every resource and generator file exists"
    else
      fail "$dir/kustomization.yaml names missing files"
    fi
    mapfile -t files < <(find "$dir" -maxdepth 1 -type f \( -name '*.yaml' -o -name '*.yml' \) ! -name kustomization.yaml | sort)
    ((${#files[@]})) && lib objects --config-dir "$dir" "${files[@]}"
  fi
done

# ---------------------------------------------------------------------------------------------
section "triaged configurations in the ConfigMaps"
TRIAGED_BIN=${TRIAGED_BIN:-}
if [[ -z "$TRIAGED_BIN" ]]; then
  for b in build/triaged build-*/triaged; do
    [[ -x "$b" ]] && { TRIAGED_BIN=$b; break; }
  done
fi
for cfg in deploy/kubernetes/*/triaged.toml; do
  [[ -f "$cfg" ]] || continue
  if [[ -n "$TRIAGED_BIN" && -x "$TRIAGED_BIN" ]]; then
    checked=$cfg
    if grep -q '^tls_cert = "/etc/triaged/tls/' "$cfg"; then
      # The TLS Secret is mounted in the pod only: check against a throwaway certificate.
      mkdir -p "$TMP/tls"
      if [[ ! -f "$TMP/tls/tls.crt" ]]; then
        openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 \
          -subj /CN=check-deploy -keyout "$TMP/tls/tls.key" -out "$TMP/tls/tls.crt" >/dev/null 2>&1
      fi
      checked="$TMP/$(basename "$(dirname "$cfg")").toml"
      sed "s|/etc/triaged/tls/|$TMP/tls/|" "$cfg" >"$checked"
    fi
    if run "$TRIAGED_BIN" --check-config --config "$checked"; then
      ok "$TRIAGED_BIN --check-config --config $cfg"
    else
      fail "$cfg is not a valid triaged configuration"
    fi
  else
    skip "$cfg: no triaged binary (set TRIAGED_BIN or build first) for --check-config"
  fi
done

# ---------------------------------------------------------------------------------------------
section "Prometheus rules and configuration"
lib rules-equal "$PROM_RULE" "$RULES"
if ((have_promtool)); then
  if run promtool check rules "$RULES"; then ok "promtool check rules $RULES"; else fail "promtool check rules $RULES"; fi
  # promtool compares annotations in unit tests: test a copy of the rules without them
  mkdir -p "$TMP/rules-test"
  if "$PYTHON" "$LIB" strip-annotations "$RULES" "$TMP/rules-test/triaged-rules.yml" \
      && cp tests/deploy/alerts_test.yml "$TMP/rules-test/" \
      && run promtool test rules "$TMP/rules-test/alerts_test.yml"; then
    ok "promtool test rules tests/deploy/alerts_test.yml (each class fires for its causes, not for a healthy or quiet upstream)"
  else
    fail "promtool test rules tests/deploy/alerts_test.yml"
  fi
  if cp tests/deploy/fleet_rules_test.yml "$TMP/rules-test/" \
      && run promtool test rules "$TMP/rules-test/fleet_rules_test.yml"; then
    ok "promtool test rules tests/deploy/fleet_rules_test.yml (the fleet view's recording rules: rates, instances and nodes failing, blast radius ratio)"
  else
    fail "promtool test rules tests/deploy/fleet_rules_test.yml"
  fi
  if err=$(promtool check config "$PROM_CONFIG" 2>&1); then
    ok "promtool check config $PROM_CONFIG"
  elif grep -q 'kubernetes_sd_configs not found' <<<"$err"; then
    # Debian's promtool is built without Kubernetes service discovery
    cp "$RULES" "$TMP/"
    "$PYTHON" "$LIB" prom-config-without-k8s "$PROM_CONFIG" "$TMP/prometheus.yml"
    if run promtool check config "$TMP/prometheus.yml"; then
      ok "promtool check config $PROM_CONFIG (this promtool has no Kubernetes discovery: checked without kubernetes_sd_configs)"
    else
      fail "promtool check config $PROM_CONFIG"
    fi
  else
    printf '%s\n' "$err" | sed 's/^/      /'
    fail "promtool check config $PROM_CONFIG"
  fi
fi

# ---------------------------------------------------------------------------------------------
section "Grafana dashboard $DASHBOARD"
if run "$PYTHON" -m json.tool "$DASHBOARD" /dev/null; then
  ok "$PYTHON -m json.tool $DASHBOARD"
  lib dashboard "$DASHBOARD" "$TMP/dashboard-rules.yml"
  if ((have_promtool)) && [[ -f "$TMP/dashboard-rules.yml" ]]; then
    if run promtool check rules "$TMP/dashboard-rules.yml"; then
      ok "every panel query is valid PromQL (promtool, Grafana variables substituted)"
    else
      fail "a panel query of $DASHBOARD is not valid PromQL"
    fi
  fi
else
  fail "$DASHBOARD is not valid JSON"
fi

# ---------------------------------------------------------------------------------------------
section "metric names in alerts and dashboard exist in triaged's /metrics"
if [[ -z "$METRICS" && -n "$TRIAGED_BIN" && -x "$TRIAGED_BIN" ]]; then
  # a live scrape of our own triaged, on free loopback ports
  read -r p1 p2 p3 < <("$PYTHON" -c '
import socket
ss = [socket.socket() for _ in range(3)]
for s in ss: s.bind(("127.0.0.1", 0))
print(*(s.getsockname()[1] for s in ss))')
  cat >"$TMP/scrape.toml" <<EOF
[server]
listen = "127.0.0.1:$p1"
admin_listen = "127.0.0.1:$p2"
drain_timeout = "0s"
[[upstream]]
name = "app"
endpoints = ["127.0.0.1:$p3"]
EOF
  "$TRIAGED_BIN" --config "$TMP/scrape.toml" >"$TMP/scrape.log" 2>&1 &
  TRIAGED_PID=$!
  METRICS="$TMP/metrics.txt"
  if "$PYTHON" - "$p1" "$p2" "$METRICS" <<'EOF'; then
import sys, time, urllib.request, urllib.error
data, admin, out = sys.argv[1:]
for _ in range(100):
    try:
        urllib.request.urlopen("http://127.0.0.1:%s/readyz" % admin, timeout=1); break
    except Exception:
        time.sleep(0.05)
try:  # one refused request (and its retry): every family gets samples
    urllib.request.urlopen("http://127.0.0.1:%s/" % data, timeout=2)
except Exception:
    pass
open(out, "wb").write(urllib.request.urlopen("http://127.0.0.1:%s/metrics" % admin, timeout=2).read())
EOF
    ok "scraped a live $TRIAGED_BIN (pid $TRIAGED_PID) into $METRICS: $(grep -c '^# TYPE' "$METRICS") families"
  else
    fail "could not scrape a live $TRIAGED_BIN; its log:"; sed 's/^/      /' "$TMP/scrape.log"
    METRICS=""
  fi
  kill -TERM "$TRIAGED_PID" 2>/dev/null; wait "$TRIAGED_PID" 2>/dev/null; TRIAGED_PID=""
fi
if [[ -z "$METRICS" ]]; then
  fail "no metrics file: pass a /metrics scrape of triaged as the first argument (or build triaged)"
elif [[ ! -r "$METRICS" ]]; then
  fail "cannot read $METRICS"
else
  lib metric-names "$METRICS" "$RULES" "$PROM_RULE" "$DASHBOARD"
fi

# ---------------------------------------------------------------------------------------------
section "systemd unit $UNIT"
if [[ ! -f "$UNIT" ]]; then
  fail "$UNIT missing"
elif ! command -v systemd-analyze >/dev/null 2>&1; then
  skip "systemd-analyze not installed"
else
  # Does systemd-analyze verify work here at all (containers often lack what it needs)?
  mkdir -p "$TMP/units"
  printf '[Unit]\nDescription=probe\n[Service]\nExecStart=/bin/true\n' >"$TMP/units/probe.service"
  if ! probe=$(systemd-analyze verify "$TMP/units/probe.service" 2>&1) || [[ -n "$probe" ]]; then
    skip "systemd-analyze verify does not work here (a trivial unit gives: $(head -n1 <<<"$probe"))"
  else
    out=$(systemd-analyze verify "$UNIT" 2>&1); rc=$?
    # Syntax problems are reported as FILE:LINE: ... (unknown key/section, bad value, missing
    # '='), and exit 0; a missing ExecStart binary (not installed on this machine) exits 1.
    syntax=$(grep -E "(^|/)$(basename "$UNIT"):[0-9]+:|Unknown (key|section|lvalue)|Failed to parse|Invalid|Missing '='|bad-setting" <<<"$out")
    if [[ -n "$syntax" ]]; then
      printf '%s\n' "$syntax" | sed 's/^/      /'
      fail "systemd-analyze verify $UNIT: unit file errors"
    elif ((rc != 0)); then
      printf '%s\n' "$out" | sed 's/^/      /'
      ok "systemd-analyze verify $UNIT: no unit file errors (exit $rc only for the environment, e.g. the binary is not installed here)"
    else
      ok "systemd-analyze verify $UNIT"
    fi
  fi
fi

# ---------------------------------------------------------------------------------------------
echo
if ((failures)); then
  echo "check_deploy: $failures check(s) FAILED"
  exit 1
fi
echo "check_deploy: all checks passed"
