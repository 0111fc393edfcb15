#!/usr/bin/env bash
# The TLS layouts of the benchmark: nginx 1.22, HAProxy 2.6 and triaged, each terminating TLS
# (TLS 1.3, ECDSA P-256 certificate, ALPN http/1.1) with one worker on its own core, in front of
# the same plain nginx origin with upstream keep-alive, interleaved rounds, medians:
#   keep-alive: wrk -c64 over TLS, 64 B and 16 KiB bodies: requests/s, p99, proxy CPU per request
#   handshakes: wrk -c64 with "Connection: close": every request a new TLS connection and a full
#               handshake (wrk resumes no session): connections/s, proxy CPU per connection
#
#   bash bench/tls.sh                    5 rounds, wrk -d6s (about 6 minutes)
#   bash bench/tls.sh --quick            1 round, wrk -d3s
#   bash bench/run.sh --tls-only         the same, from the main script
#
# Environment: TRIAGED_BIN (default build-bench/triaged, made by bench/run.sh), BENCH_TLS_OUT
# (report; default bench/results/tls.md), BENCH_ROUNDS, BENCH_DURATION. Traffic stays on
# 127.0.0.1; every process started is stopped by PID from the trap.
set -uo pipefail
export PATH="$PATH:/usr/sbin:/sbin"
export LC_ALL=C
cd "$(dirname "$0")/.." || exit 1
ROOT=$(pwd)

QUICK=0
for arg in "$@"; do
  case $arg in
    --quick) QUICK=1 ;;
    -h | --help) sed -n '2,16p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "bench/tls.sh: unknown argument: $arg" >&2; exit 2 ;;
  esac
done
if ((QUICK)); then DUR=${BENCH_DURATION:-3}; ROUNDS=${BENCH_ROUNDS:-1}
else DUR=${BENCH_DURATION:-6}; ROUNDS=${BENCH_ROUNDS:-5}; fi
if ((QUICK)); then OUT=${BENCH_TLS_OUT:-$ROOT/bench/results/tls-quick.md}
else OUT=${BENCH_TLS_OUT:-$ROOT/bench/results/tls.md}; fi
CONNS=64
log() { printf '[bench-tls %(%H:%M:%S)T] %s\n' -1 "$*" >&2; }
die() { log "error: $*"; exit 1; }

for t in wrk nginx haproxy openssl taskset; do command -v "$t" >/dev/null || die "$t missing (bash bench/run.sh installs wrk, nginx and haproxy)"; done
TRIAGED_BIN=${TRIAGED_BIN:-$ROOT/build-bench/triaged}
if [[ ! -x $TRIAGED_BIN ]]; then
  log "building a Release triaged in build-bench/"
  BUILD_DIR=build-bench BUILD_TYPE=Release bash scripts/build.sh -DTRIAGED_WERROR=OFF \
    -DTRIAGED_BUILD_TESTS=OFF --target triaged >/dev/null || die "build failed"
fi
NCPU=$(getconf _NPROCESSORS_ONLN)
CPU_PROXY=$((NCPU - 1)); CPU_LOAD=0
((NCPU >= 2)) || log "warning: one CPU only: proxy and load share it"
ulimit -n 65536 2>/dev/null || true

TMP=$(mktemp -d /tmp/triaged-bench-tls.XXXXXX)
PIDS=()
cleanup() {
  local p
  for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null; done
  sleep 0.3
  for p in "${PIDS[@]}"; do kill -KILL "$p" 2>/dev/null; done
  [[ ${BENCH_KEEP_TMP:-0} == 1 ]] || rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_port() { for _ in $(seq 100); do (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0; sleep 0.05; done; die "port $1 ($2) not listening"; }
P_ORIGIN=$(free_port); P_NGINX=$(free_port); P_HAPROXY=$(free_port); P_TRIAGED=$(free_port)
P_TRIAGED_PLAIN=$(free_port); P_ADMIN=$(free_port)

# A CA and a server certificate for 127.0.0.1, made here, never committed.
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj /CN=bench-ca \
  -keyout "$TMP/ca.key" -out "$TMP/ca.pem" >/dev/null 2>&1 || die "openssl: CA"
openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj /CN=127.0.0.1 \
  -keyout "$TMP/srv.key" -out "$TMP/srv.csr" >/dev/null 2>&1 || die "openssl: key"
openssl x509 -req -in "$TMP/srv.csr" -CA "$TMP/ca.pem" -CAkey "$TMP/ca.key" -CAcreateserial \
  -days 1 -out "$TMP/srv.pem" -extfile <(printf 'subjectAltName=IP:127.0.0.1') >/dev/null 2>&1 \
  || die "openssl: certificate"
cat "$TMP/srv.pem" "$TMP/srv.key" >"$TMP/haproxy.pem"

mkdir -p "$TMP/www" "$TMP/origin" "$TMP/nginx"
head -c 63 /dev/zero | tr '\0' 'a' >"$TMP/www/64" && echo >>"$TMP/www/64"
head -c 16383 /dev/zero | tr '\0' 'b' >"$TMP/www/16k" && echo >>"$TMP/www/16k"
chmod -R a+rX "$TMP"
NGINX_USER=""; [[ $(id -u) == 0 ]] && NGINX_USER="user root;"
cat >"$TMP/origin/nginx.conf" <<EOF
$NGINX_USER
worker_processes 1;
pid $TMP/origin/nginx.pid;
events { worker_connections 8192; }
http {
  access_log off;
  sendfile on;
  keepalive_timeout 300s;
  keepalive_requests 100000000;
  server { listen 127.0.0.1:$P_ORIGIN backlog=4096; root $TMP/www; }
}
EOF
# The TLS settings each proxy gets: TLS 1.2-1.3, the same cipher families, session tickets on
# (their defaults), ALPN http/1.1.
cat >"$TMP/nginx/nginx.conf" <<EOF
$NGINX_USER
worker_processes 1;
pid $TMP/nginx/nginx.pid;
events { worker_connections 8192; }
http {
  access_log off;
  keepalive_timeout 300s;
  keepalive_requests 100000000;
  upstream origin { server 127.0.0.1:$P_ORIGIN; keepalive 1024; }
  server {
    listen 127.0.0.1:$P_NGINX ssl backlog=4096;
    ssl_certificate $TMP/srv.pem;
    ssl_certificate_key $TMP/srv.key;
    ssl_protocols TLSv1.2 TLSv1.3;
    location / { proxy_pass http://origin; proxy_http_version 1.1; proxy_set_header Connection ""; }
  }
}
EOF
cat >"$TMP/haproxy.cfg" <<EOF
global
    nbthread 1
    maxconn 8192
    ssl-default-bind-options ssl-min-ver TLSv1.2
defaults
    mode http
    option http-keep-alive
    timeout connect 5s
    timeout client 60s
    timeout server 60s
    timeout http-keep-alive 300s
frontend fe
    bind 127.0.0.1:$P_HAPROXY ssl crt $TMP/haproxy.pem alpn http/1.1
    default_backend origin
backend origin
    http-reuse always
    server o1 127.0.0.1:$P_ORIGIN
EOF
cat >"$TMP/triaged.toml" <<EOF
[server]
listen = "127.0.0.1:$P_TRIAGED_PLAIN"
admin_listen = "127.0.0.1:$P_ADMIN"
tls_listen = "127.0.0.1:$P_TRIAGED"
tls_cert = "$TMP/srv.pem"
tls_key = "$TMP/srv.key"
workers = 1
[[upstream]]
name = "origin"
endpoints = ["127.0.0.1:$P_ORIGIN"]
EOF
"$TRIAGED_BIN" --check-config --config "$TMP/triaged.toml" >/dev/null || die "triaged rejects its config"

taskset -c "$CPU_LOAD" nginx -p "$TMP/origin" -c "$TMP/origin/nginx.conf" -g 'daemon off;' -e "$TMP/origin/error.log" >/dev/null 2>&1 &
PIDS+=($!)
taskset -c "$CPU_PROXY" nginx -p "$TMP/nginx" -c "$TMP/nginx/nginx.conf" -g 'daemon off;' -e "$TMP/nginx/error.log" >/dev/null 2>&1 &
NGINX_PID=$!; PIDS+=($!)
taskset -c "$CPU_PROXY" haproxy -db -f "$TMP/haproxy.cfg" >"$TMP/haproxy.log" 2>&1 &
HAPROXY_PID=$!; PIDS+=($!)
taskset -c "$CPU_PROXY" "$TRIAGED_BIN" --config "$TMP/triaged.toml" >"$TMP/triaged.log" 2>&1 &
TRIAGED_PID=$!; PIDS+=($!)
for p in "$P_ORIGIN:origin" "$P_NGINX:nginx" "$P_HAPROXY:haproxy" "$P_TRIAGED:triaged"; do wait_port "${p%%:*}" "${p#*:}"; done
sleep 0.3
NGINX_KIDS=$(ps -o pid= --ppid "$NGINX_PID" | tr -d ' '); for k in $NGINX_KIDS; do PIDS+=("$k"); done
declare -A TPIDS=([nginx]="$NGINX_PID $NGINX_KIDS" [haproxy]=$HAPROXY_PID [triaged]=$TRIAGED_PID)
declare -A TPORT=([nginx]=$P_NGINX [haproxy]=$P_HAPROXY [triaged]=$P_TRIAGED)
TARGETS=(nginx haproxy triaged)

ticks() { local pid s f total=0; for pid in "$@"; do s=$(<"/proc/$pid/stat") || continue; s=${s##*) }; read -ra f <<<"$s"; total=$((total + f[11] + f[12])); done; echo "$total"; }
HZ=$(getconf CLK_TCK)
cat >"$TMP/report.lua" <<'EOF'
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("RESULT %d %d %d %d %d\n", summary.requests, summary.duration,
    latency:percentile(99), e.status, e.connect + e.read + e.write + e.timeout))
end
EOF

RAW=$TMP/raw.tsv; : >"$RAW"
# run TARGET LAYOUT PATH [wrk args...]: one wrk run; appends a raw line.
run() {
  local t=$1 layout=$2 path=$3; shift 3
  local before after out line
  before=$(ticks ${TPIDS[$t]})
  out=$(taskset -c "$CPU_LOAD" wrk -t1 -c"$CONNS" -d"${DUR}s" -s "$TMP/report.lua" "$@" \
    "https://127.0.0.1:${TPORT[$t]}$path" 2>&1)
  after=$(ticks ${TPIDS[$t]})
  line=$(grep '^RESULT' <<<"$out") || { log "wrk failed for $t $layout: $(tail -2 <<<"$out")"; return; }
  read -r _ req dur p99 non2xx errs <<<"$line"
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$t" "$layout" "$req" "$dur" "$p99" "$((after - before))" "$((non2xx + errs))" >>"$RAW"
}

LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
log "warming up"
for t in "${TARGETS[@]}"; do taskset -c "$CPU_LOAD" wrk -t1 -c"$CONNS" -d1s "https://127.0.0.1:${TPORT[$t]}/64" >/dev/null 2>&1; done
for ((r = 1; r <= ROUNDS; r++)); do
  log "round $r of $ROUNDS"
  for t in "${TARGETS[@]}"; do
    run "$t" "keepalive-64" /64
    run "$t" "keepalive-16k" /16k
    run "$t" "handshake-64" /64 -H "Connection: close"
  done
done
LOAD_AFTER=$(cut -d' ' -f1-3 /proc/loadavg)

# Medians per (target, layout), and the spread of requests/s over the rounds.
mkdir -p "$(dirname "$OUT")"
cp "$RAW" "${OUT%.md}-raw.tsv"
awk -F'\t' -v hz="$HZ" -v rounds="$ROUNDS" -v dur="$DUR" -v lb="$LOAD_BEFORE" -v la="$LOAD_AFTER" \
    -v version="$("$TRIAGED_BIN" --version)" -v cpu="$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')" '
function median(arr, cnt,   i, j, x) {
  for (i = 2; i <= cnt; i++) { x = arr[i]; for (j = i - 1; j >= 1 && arr[j] > x; j--) arr[j+1] = arr[j]; arr[j+1] = x }
  return cnt % 2 ? arr[(cnt+1)/2] : (arr[cnt/2] + arr[cnt/2+1]) / 2
}
{ k = $1 SUBSEP $2; n[k]++; rps[k, n[k]] = $3 / ($4 / 1e6); p99[k, n[k]] = $5 / 1000.0
  cpus[k, n[k]] = ($3 > 0) ? $6 * 1e6 / hz / $3 : 0; bad[k] += $7 }
END {
  split("nginx haproxy triaged", T, " ")
  split("keepalive-64 keepalive-16k handshake-64", L, " ")
  printf "# TLS benchmark (bench/tls.sh)\n\n%s, %s; %d round(s) of wrk -t1 -c64 -d%ds per row, medians; load average %s before, %s after.\n\n", version, cpu, rounds, dur, lb, la
  printf "| layout | figure | nginx | HAProxy | triaged | triaged / nginx |\n| --- | --- | --- | --- | --- | --- |\n"
  for (l = 1; l <= 3; l++) {
    unit = (L[l] ~ /handshake/) ? "connections/s" : "requests/s"
    for (f = 1; f <= 3; f++) {
      row = ""; nv = 0
      for (t = 1; t <= 3; t++) {
        k = T[t] SUBSEP L[l]; m = n[k]; delete a
        for (i = 1; i <= m; i++) a[i] = (f == 1) ? rps[k, i] : (f == 2) ? p99[k, i] : cpus[k, i]
        v = m ? median(a, m) : 0
        lo = 1e18; hi = 0; for (i = 1; i <= m; i++) { x = rps[k, i]; if (x < lo) lo = x; if (x > hi) hi = x }
        spread = (f == 1 && m > 1 && lo > 0) ? sprintf(" (%.0f%% spread)", (hi - lo) * 100 / lo) : ""
        row = row sprintf(" %.1f%s |", v, spread)
        if (t == 1) nv = v; if (t == 3) tv = v
      }
      name = (f == 1) ? unit : (f == 2) ? "p99 ms" : "proxy CPU µs per " ((L[l] ~ /handshake/) ? "connection" : "request")
      printf "| %s | %s |%s %.2fx |\n", L[l], name, row, (nv > 0 ? tv / nv : 0)
    }
  }
  printf "\nNon-2xx responses and socket errors, all rounds: "
  for (t = 1; t <= 3; t++) for (l = 1; l <= 3; l++) printf "%s %s %d; ", T[t], L[l], bad[T[t] SUBSEP L[l]]
  printf "\n"
}' "$RAW" >"$OUT"
cat "$OUT"
log "report: $OUT"
