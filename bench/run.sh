#!/usr/bin/env bash
# Side-by-side benchmark: an nginx origin reached directly and through nginx, HAProxy and triaged,
# each with one worker/thread, upstream keep-alive, access logs off (triaged's failure logging is
# always on); plus triaged with workers = 2 (worker scaling) and RSS growth over 10k and 100k
# requests. See bench/README.md for what the columns mean and how to read them.
#
#   bash bench/run.sh           full run: 5 interleaved rounds, wrk -d6s (about 22 minutes)
#   bash bench/run.sh --quick   smoke run: 1 round, wrk -d3s (about 2 minutes)
#   bash bench/run.sh --tls-only   the TLS layouts alone (bench/tls.sh; about 6 minutes), which a
#                                  full run also runs at its end (BENCH_TLS=0 skips them)
#
# Environment: TRIAGED_BIN (binary to measure; default build-bench/triaged, a Release build made
# on demand), BENCH_OUT (report path; default bench/results/latest.md, quick.md with --quick), BENCH_ROUNDS,
# BENCH_DURATION (seconds), BENCH_MANY_CONNS (connections of the many-connections layout; default
# 512, 0 skips it), BENCH_KEEP_TMP=1 (keep the temp dir with configs and logs).
#
# Traffic stays on 127.0.0.1. Every process it starts is stopped by PID from a trap. It exits 0
# whatever the figures are (non-zero only when it cannot run at all).
set -uo pipefail
export PATH="$PATH:/usr/sbin:/sbin"
export LC_ALL=C

cd "$(dirname "$0")/.." || exit 1
ROOT=$(pwd)

QUICK=0
TLS_ONLY=0
for arg in "$@"; do
  case $arg in
    --quick) QUICK=1 ;;
    --tls-only) TLS_ONLY=1 ;;
    -h | --help) sed -n '2,14p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "bench: unknown argument: $arg" >&2; exit 2 ;;
  esac
done
if ((QUICK)); then DUR=${BENCH_DURATION:-3}; ROUNDS=${BENCH_ROUNDS:-1}; WARM=1
else DUR=${BENCH_DURATION:-6}; ROUNDS=${BENCH_ROUNDS:-5}; WARM=2; fi
# Five short rounds rather than three long ones, in the same time: drift on this machine comes in
# minutes-long waves, and finer interleaving plus a median of five keep one bad minute out.
CONNS=64
MANY_CONNS=${BENCH_MANY_CONNS:-512}
[[ $MANY_CONNS =~ ^[0-9]+$ ]] || { echo "bench: BENCH_MANY_CONNS must be a number" >&2; exit 2; }
# A quick run is a smoke test: it writes quick.md (ignored by git), never the full run's report.
if ((QUICK)); then OUT=${BENCH_OUT:-$ROOT/bench/results/quick.md}
else OUT=${BENCH_OUT:-$ROOT/bench/results/latest.md}; fi

log() { printf '[bench %(%H:%M:%S)T] %s\n' -1 "$*" >&2; }
die() { log "error: $*"; exit 1; }

# ---------------------------------------------------------------------------------------------
# Tools: wrk, nginx, haproxy from Debian if missing. Their system services are never started
# (a temporary policy-rc.d denies it during the install); we run them in the foreground below.
install_tools() {
  local pkgs=() sudo=()
  command -v wrk >/dev/null || pkgs+=(wrk)
  command -v nginx >/dev/null || pkgs+=(NGINX)
  command -v haproxy >/dev/null || pkgs+=(haproxy)
  command -v taskset >/dev/null || pkgs+=(util-linux)
  command -v ps >/dev/null || pkgs+=(procps)
  ((${#pkgs[@]})) || return 0
  [[ $(id -u) == 0 ]] || sudo=(sudo)
  log "installing from Debian: ${pkgs[*]}"
  "${sudo[@]}" apt-get update -qq || die "apt-get update failed"
  local policy=/usr/sbin/policy-rc.d made_policy=0
  if [[ ! -e $policy ]]; then
    printf '#!/bin/sh\nexit 101\n' | "${sudo[@]}" tee "$policy" >/dev/null && "${sudo[@]}" chmod 755 "$policy" && made_policy=1
  fi
  local p list=()
  for p in "${pkgs[@]}"; do
    if [[ $p == NGINX ]]; then
      if apt-cache show nginx-light >/dev/null 2>&1; then list+=(nginx-light); else list+=(nginx); fi
    else list+=("$p"); fi
  done
  DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq --no-install-recommends \
    -o Dpkg::Options::=--force-confold "${list[@]}" >/dev/null
  local rc=$?
  ((made_policy)) && "${sudo[@]}" rm -f "$policy"
  ((rc == 0)) || die "apt-get install ${list[*]} failed"
}
install_tools
for t in wrk nginx haproxy taskset getconf ps timeout; do
  command -v "$t" >/dev/null || die "$t not found"
done

# triaged: a Release build (LTO) in build-bench/ unless TRIAGED_BIN says otherwise. TRIAGED_WERROR
# is off there: a warning of another compiler must not stop a measurement.
if [[ -z ${TRIAGED_BIN:-} ]]; then
  TRIAGED_BIN=$ROOT/build-bench/triaged
  # Always through the (incremental) build, so a binary left from an older checkout is never the
  # one measured.
  log "building a Release triaged into build-bench/"
  BUILD_DIR=build-bench BUILD_TYPE=Release bash scripts/build.sh -DTRIAGED_BUILD_TESTS=OFF \
    -DTRIAGED_WERROR=OFF --target triaged >&2 || log "Release build failed"
  if [[ ! -x $TRIAGED_BIN ]]; then
    TRIAGED_BIN=$ROOT/build/triaged
    [[ -x $TRIAGED_BIN ]] || BUILD_DIR=build bash scripts/build.sh --target triaged >&2
  fi
fi
[[ -x $TRIAGED_BIN ]] || die "no triaged binary ($TRIAGED_BIN)"
if ((TLS_ONLY)); then
  TRIAGED_BIN=$TRIAGED_BIN exec bash "$ROOT/bench/tls.sh" $( ((QUICK)) && echo --quick)
fi
TRIAGED_BUILD_TYPE=$(sed -n 's/^CMAKE_BUILD_TYPE:STRING=//p' "$(dirname "$TRIAGED_BIN")/CMakeCache.txt" 2>/dev/null)

# Each proxy holds a client and an upstream socket per connection: at c=512 that is over the
# usual soft limit of 1024 descriptors, which the processes started below inherit.
if (($(ulimit -n) < 4 * MANY_CONNS + 256)); then
  ulimit -n $((4 * MANY_CONNS + 256)) 2>/dev/null || ulimit -n "$(ulimit -Hn)" 2>/dev/null
  (($(ulimit -n) >= 2 * MANY_CONNS + 64)) || log "warning: only $(ulimit -n) file descriptors; the c=$MANY_CONNS layout may fail"
fi

NCPU=$(nproc)
CLK_TCK=$(getconf CLK_TCK)
if ((NCPU >= 2)); then CPU_LOAD=0; CPU_PROXY=1; ALL_CPUS="0-$((NCPU - 1))"
else CPU_LOAD=0; CPU_PROXY=0; ALL_CPUS=0; log "only one CPU: the pinned layout shares it"; fi

# ---------------------------------------------------------------------------------------------
# Process bookkeeping: every PID we start goes into PIDS; the trap stops them by PID.
TMP=$(mktemp -d /tmp/triaged-bench.XXXXXX) || die "mktemp failed"
chmod 755 "$TMP"
PIDS=()  # "pid:starttime" of every process we started; the start time guards against PID reuse
proc_start() { local s; s=$(<"/proc/$1/stat") 2>/dev/null || return 1; s=${s##*) }; set -- $s; echo "${20}"; }
track() { local st; st=$(proc_start "$1") && PIDS+=("$1:$st"); }
ours() { [[ $(proc_start "${1%%:*}" 2>/dev/null) == "${1#*:}" ]]; }
signal_ours() {  # signal_ours SIG: every tracked process still alive and still ours
  local e
  for e in "${PIDS[@]}"; do ours "$e" && kill "-$1" "${e%%:*}" 2>/dev/null; done
}
cleanup() {
  local e alive i
  trap - EXIT INT TERM
  signal_ours TERM
  for i in $(seq 1 50); do
    alive=0
    for e in "${PIDS[@]}"; do ours "$e" && alive=1; done
    ((alive)) || break
    sleep 0.1
  done
  signal_ours KILL
  wait 2>/dev/null
  if [[ ${BENCH_KEEP_TMP:-0} == 1 ]]; then log "kept $TMP"; else rm -rf "$TMP"; fi
}
trap cleanup EXIT
trap 'log "interrupted"; exit 130' INT TERM

USED_PORTS=" "
# free_port VAR: a loopback port nothing listens on or uses, not handed out before.
free_port() {
  local p i
  for i in $(seq 1 500); do
    p=$((20000 + RANDOM % 30000))
    [[ $USED_PORTS == *" $p "* ]] && continue
    (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null && continue
    if command -v ss >/dev/null && [[ -n $(ss -Htan "( sport = :$p or dport = :$p )" 2>/dev/null) ]]; then continue; fi
    USED_PORTS+="$p "
    printf -v "$1" '%s' "$p"
    return 0
  done
  die "no free port found"
}
wait_port() {  # wait_port PORT PID NAME
  local i
  for i in $(seq 1 100); do
    kill -0 "$2" 2>/dev/null || die "$3 exited during startup (logs in $TMP)"
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
    sleep 0.1
  done
  die "$3 did not listen on 127.0.0.1:$1"
}
children() { ps -o pid= --ppid "$1" 2>/dev/null | tr -d ' '; }

free_port P_ORIGIN; free_port P_NGINX; free_port P_HAPROXY; free_port P_TRIAGED
free_port P_ADMIN; free_port P_CLOSED; free_port P_TRIAGED2; free_port P_ADMIN2; free_port P_RELAY
free_port P_TUNED; free_port P_ADMIN3; free_port P_FLOOR

# ---------------------------------------------------------------------------------------------
# Configs.
mkdir -p "$TMP/www" "$TMP/origin" "$TMP/nginx"
head -c 63 /dev/zero | tr '\0' 'a' >"$TMP/www/64" && echo >>"$TMP/www/64"
head -c 16383 /dev/zero | tr '\0' 'b' >"$TMP/www/16k" && echo >>"$TMP/www/16k"
chmod -R a+rX "$TMP/www"
NGINX_USER=""
[[ $(id -u) == 0 ]] && NGINX_USER="user root;"

cat >"$TMP/origin/nginx.conf" <<EOF
$NGINX_USER
worker_processes 1;
pid $TMP/origin/nginx.pid;
error_log $TMP/origin/error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  default_type application/octet-stream;
  sendfile on;
  tcp_nodelay on;
  keepalive_timeout 300s;
  keepalive_requests 100000000;
  open_file_cache max=16;
  client_body_temp_path $TMP/origin/body;
  proxy_temp_path $TMP/origin/proxy;
  server {
    listen 127.0.0.1:$P_ORIGIN backlog=4096;
    root $TMP/www;
    location = /500 { return 500 "origin error\n"; }
    location / { }
  }
}
EOF

cat >"$TMP/nginx/nginx.conf" <<EOF
$NGINX_USER
worker_processes 1;
pid $TMP/nginx/nginx.pid;
error_log $TMP/nginx/error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  tcp_nodelay on;
  keepalive_timeout 300s;
  keepalive_requests 100000000;
  client_body_temp_path $TMP/nginx/body;
  proxy_temp_path $TMP/nginx/proxy;
  upstream origin {
    server 127.0.0.1:$P_ORIGIN;
    keepalive 1024;
    keepalive_requests 100000000;
    keepalive_timeout 60s;
  }
  server {
    listen 127.0.0.1:$P_NGINX backlog=4096;
    location / {
      proxy_pass http://origin;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
    }
  }
}
EOF

cat >"$TMP/haproxy.cfg" <<EOF
global
    nbthread 1
    maxconn 8192
defaults
    mode http
    option http-keep-alive
    http-reuse always
    timeout connect 5s
    timeout client 60s
    timeout server 60s
    timeout http-keep-alive 300s
frontend fe
    bind 127.0.0.1:$P_HAPROXY
    default_backend origin
backend origin
    http-reuse always
    server o1 127.0.0.1:$P_ORIGIN
EOF

# The relay: HAProxy in TCP mode, one server connection per client connection, bytes passed on
# unread. It does the socket work every proxy here must do (recv and send on both legs, epoll)
# and none of the HTTP work: the floor of proxy CPU per request on this machine, in the pinned
# tables only.
cat >"$TMP/relay.cfg" <<EOF
global
    nbthread 1
    maxconn 8192
defaults
    mode tcp
    timeout connect 5s
    timeout client 60s
    timeout server 60s
frontend fe
    bind 127.0.0.1:$P_RELAY
    default_backend origin
backend origin
    server o1 127.0.0.1:$P_ORIGIN
EOF

# The floor: bench/floor_relay.c, a relay that does the socket work and nothing else (no scheduler,
# no buffers to manage, no HTTP): what proxy CPU per request cannot go below in this layout.
# Built here with the system's C compiler; without one the pinned tables go without it.
FLOOR_BIN=$TMP/floor_relay
if ! cc -O2 -o "$FLOOR_BIN" "$ROOT/bench/floor_relay.c" 2>"$TMP/floor_build.log"; then
  log "warning: cannot build bench/floor_relay.c (see $TMP/floor_build.log): no floor row"
  FLOOR_BIN=""
fi

# triaged_config PORT ADMIN_PORT WORKERS [UPSTREAM_KEYS]: the triaged config. "triaged" runs with
# its defaults (addresses only: what an operator starts with, and what these figures are about);
# "triaged-tuned" adds the settings an earlier version needed to be fast, as a row of its own in
# the pinned layouts, to show the defaults need no tuning.
triaged_config() {
  cat <<EOF
[server]
listen = "127.0.0.1:$1"
admin_listen = "127.0.0.1:$2"
workers = $3

[[upstream]]
name = "origin"
endpoints = ["127.0.0.1:$P_ORIGIN"]
${4:-}

[[upstream]]
name = "refused"
endpoints = ["127.0.0.1:$P_CLOSED"]

[[route]]
prefix = "/"
upstream = "origin"

[[route]]
prefix = "/refused/"
upstream = "refused"
EOF
}
TUNED_KEYS=$'max_connections = 1024\nmax_idle_connections = 1024\nkeepalive_idle_timeout = "60s"'
# Three instances: "triaged" (defaults, workers = 1, in every layout), "triaged-w2" (defaults,
# workers = 2, worker scaling only) and "triaged-tuned" (workers = 1, tuned, pinned layouts only).
triaged_config "$P_TRIAGED" "$P_ADMIN" 1 >"$TMP/triaged.toml"
triaged_config "$P_TRIAGED2" "$P_ADMIN2" 2 >"$TMP/triaged-w2.toml"
triaged_config "$P_TUNED" "$P_ADMIN3" 1 "$TUNED_KEYS" >"$TMP/triaged-tuned.toml"
for t in triaged triaged-w2 triaged-tuned; do
  "$TRIAGED_BIN" --check-config --config "$TMP/$t.toml" >/dev/null || die "triaged rejects $TMP/$t.toml"
done

# ---------------------------------------------------------------------------------------------
# Start everything in the pinned layout: origin on CPU_LOAD, proxies on CPU_PROXY.
declare -A TPIDS  # target -> the PIDs whose CPU and RSS count for it
log "starting origin, nginx, haproxy, the relay (haproxy mode tcp), the floor relay, triaged (workers = 1 and 2) in $TMP"
taskset -c "$CPU_LOAD" nginx -e "$TMP/origin/error.log" -p "$TMP/origin" -c "$TMP/origin/nginx.conf" -g 'daemon off;' \
  >"$TMP/origin/stdout.log" 2>&1 &
ORIGIN_PID=$!; track "$ORIGIN_PID"
taskset -c "$CPU_PROXY" nginx -e "$TMP/nginx/error.log" -p "$TMP/nginx" -c "$TMP/nginx/nginx.conf" -g 'daemon off;' \
  >"$TMP/nginx/stdout.log" 2>&1 &
NGINX_PID=$!; track "$NGINX_PID"
taskset -c "$CPU_PROXY" haproxy -db -f "$TMP/haproxy.cfg" >"$TMP/haproxy.log" 2>&1 &
HAPROXY_PID=$!; track "$HAPROXY_PID"
taskset -c "$CPU_PROXY" haproxy -db -f "$TMP/relay.cfg" >"$TMP/relay.log" 2>&1 &
RELAY_PID=$!; track "$RELAY_PID"
if [[ -n $FLOOR_BIN ]]; then
  taskset -c "$CPU_PROXY" "$FLOOR_BIN" "$P_FLOOR" "$P_ORIGIN" >"$TMP/floor.log" 2>&1 &
  FLOOR_PID=$!; track "$FLOOR_PID"
fi
for t in triaged triaged-w2 triaged-tuned; do
  taskset -c "$CPU_PROXY" "$TRIAGED_BIN" --config "$TMP/$t.toml" >"$TMP/$t.log" 2>&1 &
  TPIDS[$t]=$!; track "${TPIDS[$t]}"
done
TRIAGED_PID=${TPIDS[triaged]}

wait_port "$P_ORIGIN" "$ORIGIN_PID" origin
wait_port "$P_NGINX" "$NGINX_PID" nginx
wait_port "$P_HAPROXY" "$HAPROXY_PID" haproxy
wait_port "$P_RELAY" "$RELAY_PID" relay
[[ -n $FLOOR_BIN ]] && wait_port "$P_FLOOR" "$FLOOR_PID" floor
wait_port "$P_TRIAGED" "$TRIAGED_PID" triaged
wait_port "$P_TRIAGED2" "${TPIDS[triaged-w2]}" triaged-w2
wait_port "$P_TUNED" "${TPIDS[triaged-tuned]}" triaged-tuned
for t in triaged triaged-w2 triaged-tuned; do
  grep -q '"event":"listening"' "$TMP/$t.log" || log "warning: no listening event in $t's log"
done
sleep 0.3
ORIGIN_KIDS=$(children "$ORIGIN_PID"); NGINX_KIDS=$(children "$NGINX_PID")
for pid in $ORIGIN_KIDS $NGINX_KIDS; do track "$pid"; done
TPIDS[origin]="$ORIGIN_PID $ORIGIN_KIDS"
TPIDS[nginx]="$NGINX_PID $NGINX_KIDS"
TPIDS[haproxy]=$HAPROXY_PID
TPIDS[relay]=$RELAY_PID
declare -A TPORT=([origin]=$P_ORIGIN [nginx]=$P_NGINX [haproxy]=$P_HAPROXY [triaged]=$P_TRIAGED [triaged-w2]=$P_TRIAGED2
  [relay]=$P_RELAY [triaged-tuned]=$P_TUNED [floor]=$P_FLOOR)
declare -A TADMIN=([triaged]=$P_ADMIN [triaged-w2]=$P_ADMIN2 [triaged-tuned]=$P_ADMIN3)
TARGETS=(origin nginx haproxy triaged)  # the main tables; triaged-w2 joins only the scaling runs
# relay, floor and triaged-tuned join only the pinned tables
ALL_TARGETS=("${TARGETS[@]}" triaged-w2 relay triaged-tuned)
PINNED_EXTRA=(relay triaged-tuned)
if [[ -n $FLOOR_BIN ]]; then
  TPIDS[floor]=$FLOOR_PID
  ALL_TARGETS+=(floor)
  PINNED_EXTRA+=(floor)
fi
PROXIES=(nginx haproxy triaged)

# cpu_ticks PID...: "utime+stime utime" of the given PIDs, in clock ticks; a process's stat sums
# all its threads.
cpu_ticks() {
  local pid s f total=0 user=0
  for pid in "$@"; do
    s=$(<"/proc/$pid/stat") || continue
    s=${s##*) }
    read -ra f <<<"$s"
    total=$((total + f[11] + f[12]))
    user=$((user + f[11]))
  done
  echo "$total $user"
}
# blocks PID...: voluntary context switches summed over all threads: how often the process ran out
# of work and slept (in epoll_wait, for a proxy). Each sleep costs a wake-up later.
blocks() {
  local pid f n total=0
  for pid in "$@"; do
    for f in /proc/"$pid"/task/*/status; do
      n=$(awk '/^voluntary_ctxt_switches:/ {print $2}' "$f" 2>/dev/null)
      total=$((total + ${n:-0}))
    done
  done
  echo "$total"
}
rss_kib() {
  local pid v total=0
  for pid in "$@"; do
    v=$(awk '/^VmRSS:/ {print $2}' "/proc/$pid/status" 2>/dev/null)
    total=$((total + ${v:-0}))
  done
  echo "$total"
}
set_affinity() {  # set_affinity CPUS: every process of the bench (all threads)
  local t pid
  for t in "${ALL_TARGETS[@]}"; do
    for pid in ${TPIDS[$t]}; do
      taskset -a -p -c "$1" "$pid" >/dev/null 2>&1 || log "warning: taskset $1 $pid failed"
    done
  done
}
pin_layout() {  # pin_layout ORIGIN_CPUS PROXY_CPUS
  local t pid cpus
  for t in "${ALL_TARGETS[@]}"; do
    cpus=$2; [[ $t == origin ]] && cpus=$1
    for pid in ${TPIDS[$t]}; do taskset -a -p -c "$cpus" "$pid" >/dev/null 2>&1; done
  done
}
# metrics_total ADMIN_PORT: triaged's own request count, its triaged_requests_total samples
# summed (empty when the admin endpoint does not answer). Bash's /dev/tcp, HTTP/1.0.
metrics_total() {
  local fd line lines=""
  { exec {fd}<>"/dev/tcp/127.0.0.1/$1"; } 2>/dev/null || return 0
  printf 'GET /metrics HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n' >&"$fd"
  while IFS= read -r -t 5 line <&"$fd"; do
    [[ $line == triaged_requests_total[{\ ]* ]] && lines+="$line"$'\n'
  done
  exec {fd}<&-
  [[ -n $lines ]] && awk '{ s += $NF } END { printf "%.0f\n", s }' <<<"${lines%$'\n'}"
}

RAW=$TMP/raw.tsv
RSSF=$TMP/rss.tsv
: >"$RAW"; : >"$RSSF"
for t in "${ALL_TARGETS[@]}"; do printf '%s\tidle\t%s\n' "$t" "$(rss_kib ${TPIDS[$t]})" >>"$RSSF"; done

cat >"$TMP/report.lua" <<'EOF'
-- One RESULT line per run: requests, duration (us), p50 and p99 (us), non-2xx/3xx, socket
-- errors, then whatever `extra` a script built on this one adds.
result = function(summary, latency, extra)
  local e = summary.errors
  io.write(string.format("RESULT %d %d %d %d %d %d%s\n", summary.requests, summary.duration,
    latency:percentile(50), latency:percentile(99), e.status,
    e.connect + e.read + e.write + e.timeout, extra))
end
done = function(summary, latency, requests) result(summary, latency, "") end
EOF
# mix.lua: report.lua with a mix of requests, and the count of each status at the end of the line.
{ cat "$TMP/report.lua"; cat <<'EOF'
-- 8 of 10 requests succeed (/64), 1 gets the origin's 500, 1 goes to an upstream whose only
-- endpoint refuses connections (502 from the proxy).
local paths = {"/64", "/64", "/64", "/500", "/64", "/64", "/64", "/64", "/refused/x", "/64"}
local n, i = #paths, 0
counts = {}
request = function()
  i = i % n + 1
  return wrk.format("GET", paths[i])
end
response = function(status, headers, body)
  counts[status] = (counts[status] or 0) + 1
end
local threads = {}
setup = function(thread) table.insert(threads, thread) end
done = function(summary, latency, requests)
  local agg = {}
  for _, t in ipairs(threads) do
    for k, v in pairs(t:get("counts")) do agg[k] = (agg[k] or 0) + v end
  end
  local keys = {}
  for k in pairs(agg) do table.insert(keys, k) end
  table.sort(keys)
  local parts = {}
  for _, k in ipairs(keys) do table.insert(parts, k .. ":" .. agg[k]) end
  result(summary, latency, " " .. table.concat(parts, ","))
end
EOF
} >"$TMP/mix.lua"
# count.lua: report.lua plus a stop after N responses (wrk has no request-count option). Args after
# "--": N and a flag file, created when the Nth response arrives; the thread then stops and
# count_wrk interrupts wrk's main thread, which otherwise sleeps the whole -d.
{ cat "$TMP/report.lua"; cat <<'EOF'
local limit, n, flag = 0, 0, nil
init = function(args) limit = tonumber(args[1]) or 0; flag = args[2] end
response = function(status, headers, body)
  n = n + 1
  if n == limit then
    local f = io.open(flag, "w")
    if f then f:close() end
    wrk.thread:stop()
  end
end
EOF
} >"$TMP/count.lua"

# start_wrk SECONDS CPUS CONNS ARGS...: wrk -t1 in the background, output in $TMP/wrk.out. It is
# tracked (WRK_PID) only until wait_wrk, as its PID may be reused after.
start_wrk() {
  local secs=$1 cpus=$2 conns=$3
  shift 3
  taskset -c "$cpus" timeout -k 5 $((secs + 30)) wrk -t1 -c"$conns" -d"${secs}s" "$@" >"$TMP/wrk.out" 2>&1 &
  WRK_PID=$!
  track "$WRK_PID"
}
wait_wrk() {
  wait "$WRK_PID"
  unset 'PIDS[${#PIDS[@]}-1]'
}
# wrk_result LABEL: the RESULT line of the last wrk run into WRK_RESULT; 1 (and a log line) if none.
wrk_result() {
  WRK_RESULT=$(sed -n 's/^RESULT //p' "$TMP/wrk.out")
  [[ -n $WRK_RESULT ]] && return 0
  log "wrk gave no result for $1: $(tr '\n' ' ' <"$TMP/wrk.out" | cut -c1-200)"
  return 1
}
# run_wrk LAYOUT SIZE TARGET ROUND WRK_CPUS CONNS [PATH] [LUA]: one measured wrk run.
run_wrk() {
  local layout=$1 size=$2 target=$3 round=$4 cpus=$5 conns=$6 path=${7:-/$2} lua=${8:-$TMP/report.lua}
  local before after
  read -r -a before <<<"$(cpu_ticks ${TPIDS[$target]}) $(blocks ${TPIDS[$target]})"
  start_wrk "$DUR" "$cpus" "$conns" --timeout 5s --latency -s "$lua" "http://127.0.0.1:${TPORT[$target]}$path"
  wait_wrk
  read -r -a after <<<"$(cpu_ticks ${TPIDS[$target]}) $(blocks ${TPIDS[$target]})"
  wrk_result "$layout $size $target" || return
  set -- $WRK_RESULT
  local ticks=$((after[0] - before[0])) user=$((after[1] - before[1])) slept=$((after[2] - before[2]))
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$layout" "$size" "$target" "$round" \
    "$1" "$2" "$3" "$4" "$5" "$6" "$ticks" "${7:-}" "$user" "$slept" >>"$RAW"
  awk -v r="$1" -v d="$2" -v p50="$3" -v p99="$4" -v t="$ticks" -v u="$user" -v hz="$CLK_TCK" -v b="$slept" \
    -v lbl="$layout $size $target round $round" -v st="${7:-}" -v e="$(($5 + $6))" 'BEGIN {
      printf "[bench]   %-34s %9.0f req/s  p50 %6d us  p99 %6d us  cpu %6.1f us/req (user %4.1f)  sleeps/req %.2f  err %d %s\n",
        lbl, r / (d / 1e6), p50, p99, (r ? t * 1e6 / hz / r : 0), (r ? u * 1e6 / hz / r : 0), (r ? b / r : 0), e, st }' >&2
}
warm_up() {  # warm_up [CONNS [TARGET...]]: every target (default all) and size, briefly
  local conns=${1:-$CONNS} t s
  shift $(($# ? 1 : 0))
  local targets=("$@")
  ((${#targets[@]})) || targets=("${ALL_TARGETS[@]}")
  for t in "${targets[@]}"; do
    for s in 64 16k; do
      start_wrk "$WARM" "$CPU_LOAD" "$conns" "http://127.0.0.1:${TPORT[$t]}/$s"
      wait_wrk
    done
  done
}
# run_layout NAME WRK_CPUS CONNS [TARGET...]: ROUNDS rounds of the targets (default TARGETS) in
# turn, both body sizes, then RSS.
run_layout() {
  local name=$1 cpus=$2 conns=$3 r s t
  shift 3
  local targets=("$@")
  ((${#targets[@]})) || targets=("${TARGETS[@]}")
  log "layout $name: $ROUNDS round(s) x ${#targets[@]} targets (${targets[*]}) x 2 sizes x ${DUR}s, wrk -t1 -c$conns on CPU $cpus"
  for r in $(seq 1 "$ROUNDS"); do
    for s in 64 16k; do
      for t in "${targets[@]}"; do run_wrk "$name" "$s" "$t" "$r" "$cpus" "$conns"; done
    done
  done
  for t in "${targets[@]}"; do printf '%s\t%s\t%s\n' "$t" "$name" "$(rss_kib ${TPIDS[$t]})" >>"$RSSF"; done
}
# count_wrk TARGET N: exactly N responses of /64 through TARGET (wrk -t1 -c$CONNS, count.lua);
# adds the responses wrk counted to COUNTED.
count_wrk() {
  local flag=$TMP/count.flag st
  rm -f "$flag"
  start_wrk 120 "$CPU_LOAD" "$CONNS" --timeout 5s -s "$TMP/count.lua" "http://127.0.0.1:${TPORT[$1]}/64" -- "$2" "$flag"
  while [[ ! -e $flag ]]; do  # until the flag, or wrk (here timeout, its parent) has exited
    st=$(<"/proc/$WRK_PID/stat") 2>/dev/null || break
    st=${st##*) }
    [[ ${st:0:1} == Z ]] && break
    sleep 0.05
  done
  [[ -e $flag ]] && kill -INT "$WRK_PID" 2>/dev/null  # timeout passes it on to wrk
  wait_wrk
  wrk_result "memory $1 $2" || return
  set -- $WRK_RESULT
  COUNTED=$((COUNTED + $1))
}
# measure_memory TARGET: VmRSS (and requests served) after 10k and after 100k requests, cumulative.
# triaged's count is its own counter; the others' is wrk's (requests in flight when wrk stops are
# not in it). Rows in RSSF: TARGET mem10k|mem100k RSS_KIB REQUESTS counter|wrk.
measure_memory() {
  local t=$1 n label served src rss
  COUNTED=0
  [[ -n ${TADMIN[$t]:-} ]] && metrics_total "${TADMIN[$t]}" >/dev/null  # the first scrape's memory counts as idle
  for n in 10000 90000; do
    count_wrk "$t" "$n"
    sleep 0.2  # let the proxy finish what was in flight
    rss=$(rss_kib ${TPIDS[$t]})
    served=""; src=wrk
    [[ -n ${TADMIN[$t]:-} ]] && served=$(metrics_total "${TADMIN[$t]}") && [[ -n $served ]] && src=counter
    [[ -n $served ]] || served=$COUNTED
    label=$([[ $n == 10000 ]] && echo 10k || echo 100k)
    printf '%s\tmem%s\t%s\t%s\t%s\n' "$t" "$label" "$rss" "$served" "$src" >>"$RSSF"
    log "  memory $t after $label: $served requests ($src), VmRSS $rss KiB"
  done
}

LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg)
T0=$SECONDS

# Layout 1: pinned. Origin + wrk on CPU_LOAD, each proxy alone on CPU_PROXY.
pin_layout "$CPU_LOAD" "$CPU_PROXY"

# Memory first, from a fresh start: 10k then 90k more requests through each proxy.
log "memory: VmRSS after 10k and 100k requests of /64 through ${PROXIES[*]}, wrk -t1 -c$CONNS on CPU $CPU_LOAD"
for t in "${PROXIES[@]}"; do measure_memory "$t"; done

log "warming up"
warm_up
run_layout pinned "$CPU_LOAD" "$CONNS" "${TARGETS[@]}" "${PINNED_EXTRA[@]}"

# Failure mix, triaged only, still pinned.
log "failure mix through triaged: $ROUNDS round(s) x ${DUR}s"
for r in $(seq 1 "$ROUNDS"); do
  run_wrk mix 64 triaged "$r" "$CPU_LOAD" "$CONNS" /64 "$TMP/mix.lua"
done

# Many connections, still pinned: per-request cost when hundreds of clients are connected at once
# (each proxy's pool then holds as many upstream connections; none of them has to churn).
if ((MANY_CONNS > 0)); then
  warm_up "$MANY_CONNS" "${TARGETS[@]}" triaged-tuned
  run_layout many "$CPU_LOAD" "$MANY_CONNS" "${TARGETS[@]}" triaged-tuned
  # What of the peak's memory each proxy gives back once the load is gone (triaged trims every 10 s).
  sleep 12
  for t in "${PROXIES[@]}"; do printf '%s\t%s\t%s\n' "$t" manysettled "$(rss_kib ${TPIDS[$t]})" >>"$RSSF"; done
fi

# Layout 2: unpinned, with triaged workers = 2 interleaved for the worker scaling table.
set_affinity "$ALL_CPUS"
run_layout unpinned "$ALL_CPUS" "$CONNS" "${TARGETS[@]}" triaged-w2

# Worker scaling, second variant: wrk on CPU_LOAD only, the origin and triaged on all CPUs.
run_layout wrk0 "$CPU_LOAD" "$CONNS" triaged triaged-w2

# Layout 3: c=1, everything on one core.
set_affinity "$CPU_LOAD"
run_layout c1 "$CPU_LOAD" 1

# Layout 4, last (an nginx reload replaces its workers, whose CPU the layouts above count):
# requests/s and latency while the configuration is reloaded every second, against the same
# target without reloads, pinned, 64 B. triaged: SIGHUP (the file read, validated, a snapshot
# built and swapped into its worker); nginx: SIGHUP to its master, what `nginx -s reload` sends
# (new workers started, the old ones finish their connections and exit).
if [[ ${BENCH_RELOAD:-1} == 1 ]]; then
  pin_layout "$CPU_LOAD" "$CPU_PROXY"
  TPORT[triaged-reload]=$P_TRIAGED; TPIDS[triaged-reload]=${TPIDS[triaged]}
  TPORT[nginx-reload]=$P_NGINX; TPIDS[nginx-reload]=$NGINX_PID
  log "reload: $ROUNDS round(s) x triaged and nginx, with and without a reload every second"
  for r in $(seq 1 "$ROUNDS"); do
    for t in triaged nginx; do
      run_wrk reload 64 "$t" "$r" "$CPU_LOAD" "$CONNS"
      ( end=$((SECONDS + DUR)); while ((SECONDS < end)); do sleep 1; kill -HUP "${TPIDS[$t]%% *}" 2>/dev/null; done ) &
      reloader=$!
      run_wrk reload 64 "$t-reload" "$r" "$CPU_LOAD" "$CONNS"
      wait "$reloader" 2>/dev/null
    done
  done
  RELOADS_OK=$(grep -c '"event":"config_reloaded"' "$TMP/triaged.log")
fi
LOAD_END=$(cut -d' ' -f1-3 /proc/loadavg)
ELAPSED=$((SECONDS - T0))

# The failure mix's log lines: all but the listening event and the client aborts that every wrk
# stop leaves (the memory runs stop with 63 requests in flight).
FAIL_LINES=$(grep -v -e '"event":"listening"' -e '"event":"config_reloaded"' "$TMP/triaged.log" 2>/dev/null | grep -vc '"cause":"client_aborted"')
for t in "${ALL_TARGETS[@]}"; do
  pid=${TPIDS[$t]%% *}
  kill -0 "$pid" 2>/dev/null || log "warning: $t (process $pid) died during the run (logs in $TMP)"
done

# ---------------------------------------------------------------------------------------------
# Report.
cpu_model=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)
[[ -n $cpu_model ]] || cpu_model=$(uname -m)
commit=$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)
[[ -n $(git -C "$ROOT" status --porcelain --untracked-files=no 2>/dev/null) ]] && commit+=" (work tree modified)"
mkdir -p "$(dirname "$OUT")"
{
  echo "# triaged benchmark: latest run"
  echo
  echo "Generated by \`bash bench/run.sh$( ((QUICK)) && echo ' --quick')\` on $(date -u '+%Y-%m-%d %H:%M UTC')."
  echo "Only ratios within this run mean anything; see bench/README.md for the columns and caveats."
  echo
  echo "| machine | |"
  echo "| --- | --- |"
  echo "| CPUs (nproc) | $NCPU |"
  echo "| CPU model | $cpu_model |"
  echo "| kernel | $(uname -sr) |"
  echo "| nginx | $(nginx -v 2>&1 | sed 's/^nginx version: //') |"
  echo "| HAProxy | $(haproxy -v 2>&1 | head -1 | awk '{print $3}') |"
  echo "| wrk | $(wrk -v 2>&1 | head -1 | awk '{print $2}') |"
  echo "| triaged | commit $commit, $("$TRIAGED_BIN" --version 2>&1 | head -1), build ${TRIAGED_BUILD_TYPE:-unknown} |"
  echo "| run | $( ((QUICK)) && echo quick || echo full): $ROUNDS round(s), wrk -t1 -d${DUR}s, interleaved origin nginx haproxy triaged (+ the relay, the floor relay and triaged tuned in the pinned layouts, triaged workers = 2 in the unpinned and wrk0 layouts); ${ELAPSED}s of measuring |"
  echo "| triaged configuration | its defaults: addresses only (triaged-tuned: $(tr '\n' ';' <<<"$TUNED_KEYS")) |"
  echo "| load average (1/5/15 min) | start $LOAD_START, end $LOAD_END |"
  echo
  awk -F'\t' -v hz="$CLK_TCK" -v conns="$CONNS" -v many="$MANY_CONNS" -v ncpu="$NCPU" -v cl="$CPU_LOAD" -v cp="$CPU_PROXY" \
    -v allc="$ALL_CPUS" -v failines="$FAIL_LINES" -v reloads="${RELOADS_OK:-0}" \
    -f "$ROOT/bench/report.awk" "$RSSF" "$RAW"
} >"$OUT.tmp" && mv "$OUT.tmp" "$OUT"
# The per-run figures beside the report: latest.md -> latest-raw.tsv, /tmp/q.md -> /tmp/q-raw.tsv.
cp "$RAW" "${OUT%.md}-raw.tsv" 2>/dev/null
cat "$OUT"
log "report written to ${OUT#"$ROOT"/}"
if [[ ${BENCH_TLS:-1} != 0 ]]; then
  # The TLS layouts, in their own report (bench/results/tls.md), after the others' processes
  # are stopped: the same machine, a few minutes later.
  cleanup
  TRIAGED_BIN=$TRIAGED_BIN bash "$ROOT/bench/tls.sh" $( ((QUICK)) && echo --quick) || log "TLS layouts failed"
fi
exit 0
