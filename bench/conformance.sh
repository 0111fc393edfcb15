#!/usr/bin/env bash
# The conformance corpus (tests/conformance) through triaged, nginx and HAProxy side by side:
# each proxy in front of triaged_recording_upstream on loopback, every vector through each, and
# a table, vector by vector, of what each did and where triaged is stricter or looser. Writes
# bench/results/conformance.md (and the raw lines beside it); exits 0 whatever the verdicts.
# Not part of CI. Installs nginx and HAProxy from Debian when missing (their services are
# never started), builds triaged when build/ has no binary.
#   bench/conformance.sh [--build DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
build=build
[[ ${1:-} == --build ]] && build=$2

log() { printf '[conformance %(%H:%M:%S)T] %s\n' -1 "$*" >&2; }

if ! command -v nginx >/dev/null || ! command -v haproxy >/dev/null; then
  sudo=()
  [[ $(id -u) == 0 ]] || sudo=(sudo)
  log "installing nginx and haproxy from Debian"
  "${sudo[@]}" apt-get update -qq
  # policy-rc.d 101: the packages' system services are not started by the install.
  policy=/usr/sbin/policy-rc.d
  made=0
  if [[ ! -e $policy ]]; then
    printf '#!/bin/sh\nexit 101\n' | "${sudo[@]}" tee $policy >/dev/null
    "${sudo[@]}" chmod 755 $policy
    made=1
  fi
  nginx_pkg=nginx
  apt-cache show nginx-light >/dev/null 2>&1 && nginx_pkg=nginx-light
  DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq --no-install-recommends \
    -o Dpkg::Options::=--force-confold "$nginx_pkg" haproxy >/dev/null
  ((made)) && "${sudo[@]}" rm -f $policy
fi
if [[ ! -x $build/triaged || ! -x $build/triaged_conformance ]]; then
  BUILD_DIR=$build bash scripts/build.sh --target triaged triaged_recording_upstream \
    triaged_conformance
fi

tmp=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$tmp"
}
trap cleanup EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_port() {
  for _ in $(seq 100); do
    (exec 3<>/dev/tcp/127.0.0.1/"$1") 2>/dev/null && return 0
    sleep 0.05
  done
  log "nothing listens on $1"
  exit 1
}

"$build/triaged_recording_upstream" --listen 127.0.0.1:0 >"$tmp/upstream.out" 2>&1 &
pids+=($!)
for _ in $(seq 100); do grep -q LISTENING "$tmp/upstream.out" && break; sleep 0.05; done
read -r _ upstream _ control <"$tmp/upstream.out"
log "recording upstream $upstream, control $control"

p_nginx=$(free_port)
p_haproxy=$(free_port)
mkdir -p "$tmp/nginx"
user_line=""
[[ $(id -u) == 0 ]] && user_line="user root;"
cat >"$tmp/nginx/nginx.conf" <<EOF
$user_line
worker_processes 1;
pid $tmp/nginx/nginx.pid;
error_log $tmp/nginx/error.log warn;
events { worker_connections 1024; }
http {
  access_log off;
  client_body_temp_path $tmp/nginx/body;
  proxy_temp_path $tmp/nginx/proxy;
  upstream origin { server $upstream; keepalive 16; }
  server {
    listen 127.0.0.1:$p_nginx;
    location / {
      proxy_pass http://origin;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header Host \$host;
    }
  }
}
EOF
cat >"$tmp/haproxy.cfg" <<EOF
global
    nbthread 1
defaults
    mode http
    option http-keep-alive
    timeout connect 5s
    timeout client 10s
    timeout server 10s
frontend fe
    bind 127.0.0.1:$p_haproxy
    default_backend origin
backend origin
    http-reuse safe
    server o1 $upstream
EOF
cat >"$tmp/triaged.toml" <<EOF
[server]
listen = "127.0.0.1:0"
admin_listen = ""
workers = 1
[[upstream]]
name = "app"
endpoints = ["$upstream"]
retries = 0
[[route]]
prefix = "/"
upstream = "app"
EOF

nginx -e "$tmp/nginx/error.log" -p "$tmp/nginx" -c "$tmp/nginx/nginx.conf" -g 'daemon off;' &
pids+=($!)
haproxy -db -f "$tmp/haproxy.cfg" >"$tmp/haproxy.out" 2>&1 &
pids+=($!)
"$build/triaged" --config "$tmp/triaged.toml" >"$tmp/triaged.out" 2>&1 &
pids+=($!)
for _ in $(seq 100); do grep -q '"event":"listening"' "$tmp/triaged.out" && break; sleep 0.05; done
p_triaged=$(sed -n 's/.*"listen":"127.0.0.1:\([0-9]*\)".*/\1/p' "$tmp/triaged.out" | head -1)
wait_port "$p_nginx"
wait_port "$p_haproxy"
wait_port "$p_triaged"

mkdir -p bench/results
for proxy in triaged nginx haproxy; do
  port_var=p_$proxy
  log "running the corpus through $proxy (127.0.0.1:${!port_var})"
  "$build/triaged_conformance" --proxy "127.0.0.1:${!port_var}" --control "$control" \
    tests/conformance/requests tests/conformance/responses >"$tmp/$proxy.tsv"
done
paste "$tmp/triaged.tsv" "$tmp/nginx.tsv" "$tmp/haproxy.tsv" >bench/results/conformance-raw.tsv

versions="nginx $(nginx -v 2>&1 | sed 's/.*nginx\///'), HAProxy $(haproxy -v | head -1 | awk '{print $3}'), triaged $(git rev-parse --short HEAD)"
python3 - "$versions" bench/results/conformance-raw.tsv >bench/results/conformance.md <<'EOF'
import sys

versions, raw = sys.argv[1], sys.argv[2]
rows = [line.rstrip("\n").split("\t") for line in open(raw, encoding="utf-8", errors="replace")]


def kind(describe, responses):
    """relayed / forwarded / refused / cut / none, from the runner's one-line description."""
    first = describe.split(",")[0].split()
    status = first[0] if first else "none"
    if not status.isdigit():
        return "none"  # no answer at all: neither stricter nor looser, just shown
    if responses:
        if "closed mid-response" in describe:
            return "cut"  # the client never gets a complete message: as safe as a 502
        return "refused" if status.startswith("5") else "relayed"
    return "forwarded" if "forwarded" in describe else "refused"


def strictness(t, other):
    safe = ("refused", "cut")
    if "none" in (t, other):
        return ""
    if t in safe and other not in safe:
        return "stricter"
    if other in safe and t not in safe:
        return "looser"
    return ""


out = []
counts = {"nginx": {"stricter": 0, "looser": 0}, "haproxy": {"stricter": 0, "looser": 0}}
ambiguous = {"triaged": 0, "nginx": 0, "haproxy": 0}
refused = {"triaged": 0, "nginx": 0, "haproxy": 0}
for r in rows:
    name = r[0]
    responses = name.startswith("responses/")
    t, n, h = r[1], r[4], r[7]
    kt, kn, kh = kind(t, responses), kind(n, responses), kind(h, responses)
    sn, sh = strictness(kt, kn), strictness(kt, kh)
    if sn:
        counts["nginx"][sn] += 1
    if sh:
        counts["haproxy"][sh] += 1
    for proxy, d, k in (("triaged", t, kt), ("nginx", n, kn), ("haproxy", h, kh)):
        ambiguous[proxy] += "AMBIGUOUS UPSTREAM" in d
        refused[proxy] += k in ("refused", "cut")
    out.append("| `%s` | %s | %s%s | %s%s |" % (
        name, t, n, " (**triaged %s**)" % sn if sn else "", h,
        " (**triaged %s**)" % sh if sh else ""))

print("# The conformance corpus through triaged, nginx and HAProxy\n")
print("Written by `bench/conformance.sh` (%s). Each proxy in front of "
      "`triaged_recording_upstream` on loopback; every vector of `tests/conformance` through "
      "each. A cell says what the client got (statuses in order), whether anything reached "
      "the upstream (`forwarded`), how the client connection ended (`kept open`: a follow-up "
      "request got its own response), and `AMBIGUOUS UPSTREAM` when the recording upstream's "
      "strict parser refused or saw part of what the proxy sent. *Stricter* means triaged "
      "refused what the other forwarded, or answered 502 or cut the response where the "
      "other relayed it whole; *looser* the reverse; a proxy that gave no answer at all is "
      "neither.\n" % versions)
print("| | nginx | HAProxy |\n| --- | --- | --- |")
print("| triaged stricter | %d | %d |" % (counts["nginx"]["stricter"], counts["haproxy"]["stricter"]))
print("| triaged looser | %d | %d |" % (counts["nginx"]["looser"], counts["haproxy"]["looser"]))
print("\n| | triaged | nginx | HAProxy |\n| --- | --- | --- | --- |")
print("| vectors | %d | %d | %d |" % (len(rows), len(rows), len(rows)))
print("| refused, answered 502 or cut by the proxy | %d | %d | %d |" % (refused["triaged"], refused["nginx"], refused["haproxy"]))
print("| something ambiguous reached the upstream | %d | %d | %d |" % (ambiguous["triaged"], ambiguous["nginx"], ambiguous["haproxy"]))
print("\n| vector | triaged | nginx | HAProxy |\n| --- | --- | --- | --- |")
print("\n".join(out))
EOF
log "wrote bench/results/conformance.md"
sed -n '1,20p' bench/results/conformance.md
