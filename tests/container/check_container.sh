#!/usr/bin/env bash
# The container image, built and run for real (ctest label `container`, issue 26).
#
# 1. Base: `debootstrap --variant=minbase bookworm` from the Debian mirror apt already uses,
#    imported with `podman import` as debian:12, the name the Dockerfile's build stage uses
#    (no registry is reachable here).
# 2. The image: `podman build --isolation chroot --network host --format docker --pull=never`.
#    Checked: size (goal <= 30 MB), user 10001, labels, STOPSIGNAL, EXPOSE, HEALTHCHECK, and
#    that nothing but triaged, its libraries and its files is in it (no shell).
# 3. `podman run` read-only, as its user, with the shipped configuration, in a network namespace
#    this script creates (only its loopback: the shipped config's fixed ports 8080/9901 and its
#    upstream 127.0.0.1:8081 collide with nothing on the host). The upstream is
#    triaged_fake_upstream started inside that namespace. Checked: /healthz, /readyz, a refused
#    upstream (502, the JSON failure line in `podman logs`, the count in /metrics), a proxied
#    200, `podman healthcheck run`, and `podman stop` (SIGTERM) draining a slow in-flight
#    request, exit 0 within drain_timeout.
# 4. `podman play kube` with the rendered sidecar manifests (kubectl kustomize
#    deploy/kubernetes/sidecar), the app container replaced by the fake upstream, the pod on
#    its own loopback (--network none). Checked: the ConfigMap is the configuration in force,
#    the security context holds, the sidecar proxies to the app on the pod's loopback, and a
#    pod stop drains. What podman 4.3 does not do with these manifests is printed as notes
#    (see README.md, "Container").
#
# Everything lives in a private podman store under one temporary directory (CONTAINERS_CONF and
# CONTAINERS_STORAGE_CONF point there): containers, pods, images, the base root file system
# and the network namespaces are removed at the end, also on failure. Every wait is bounded.
#
# Needs root, podman, runc, catatonit (podman's pause image for pods), debootstrap, iproute2,
# curl, python3 with PyYAML, which scripts/setup.sh installs, and uses kubectl when there is one. Environment: TRIAGED_BUILD_DIR (the build with
# triaged_fake_upstream, default build/), TRIAGED_VERSION (CMakeLists.txt's project version).
set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
BUILD_DIR=${TRIAGED_BUILD_DIR:-$ROOT/build}
FAKE_UPSTREAM=$BUILD_DIR/triaged_fake_upstream
IMAGE=localhost/triaged:container-test
APP_IMAGE=localhost/triaged-test-upstream:container-test
NS=triaged-ct-$$
POD_NS=triaged-ct-pod-$$
START=$SECONDS

log() { printf '[%4ds] %s\n' $((SECONDS - START)) "$*"; }
failures=0
ok() { printf 'ok:   %s\n' "$*"; }
fail() {
  printf 'FAIL: %s\n' "$*"
  failures=$((failures + 1))
}
die() {
  printf 'FAIL: %s\n' "$*"
  failures=$((failures + 1))
  exit 1
}
skip() {
  printf 'skip: %s\n' "$*"
  exit 77
}

[[ $(id -u) -eq 0 ]] || skip "needs root (rootful podman, ip netns); CI runs as root"
for tool in podman runc debootstrap ip curl python3 nsenter; do
  command -v "$tool" >/dev/null || die "$tool not found: run scripts/setup.sh"
done
[[ -x $FAKE_UPSTREAM ]] || die "$FAKE_UPSTREAM not built (set TRIAGED_BUILD_DIR)"

T=$(mktemp -d "${TMPDIR:-/var/tmp}/triaged-container.XXXXXX") || die "mktemp failed"
mkdir -p "$T/tmp"
export TMPDIR=$T/tmp # podman's and buildah's scratch files too
cleanup() {
  local rc=$?
  set +e
  log "cleanup"
  # This shell's background jobs still running (the fake upstream, a client, a podman stop): by
  # PID, and only ours, never one already reaped.
  for pid in $(jobs -pr); do kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null; done
  timeout 120 podman pod rm --force --all >/dev/null 2>&1
  timeout 120 podman rm --force --all >/dev/null 2>&1
  timeout 120 podman rmi --force --all >/dev/null 2>&1
  ip netns del "$NS" 2>/dev/null
  ip netns del "$POD_NS" 2>/dev/null
  # The storage driver leaves its own mounts under the private store: unmount, deepest first.
  awk -v t="$T" '$5 == t || index($5, t "/") == 1 {print $5}' /proc/self/mountinfo | sort -r |
    while read -r m; do umount -l "$m"; done
  rm -rf "$T" || echo "cleanup: could not remove $T"
  [[ -e $T ]] && echo "cleanup: $T still exists" && rc=1
  if ((rc == 0 && failures == 0)); then
    echo "check_container: all checks passed ($((SECONDS - START)) s)"
  elif ((rc != 77)); then
    echo "check_container: $failures check(s) FAILED ($((SECONDS - START)) s)"
    rc=1
  fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

# --- a private podman store and configuration --------------------------------------------------
# Limits: this machine's root lacks CAP_SYS_RESOURCE, so no container may get a limit above the
# ones podman runs with (podman's own defaults, nofile 1048576, are refused, and nproc above
# 32768 was refused here): pass values at or below the current ones. triaged needs a few threads.
nofile=$(ulimit -Sn)
[[ $nofile == unlimited || $nofile -gt 65536 ]] && nofile=65536
nproc=$(ulimit -Su)
[[ $nproc == unlimited || $nproc -gt 4096 ]] && nproc=4096
cat >"$T/storage.conf" <<EOF
[storage]
driver = "overlay"
graphroot = "$T/storage"
runroot = "$T/run"
EOF
# runc: Debian's crun refuses this kernel's hybrid cgroup layout (issue 26).
cat >"$T/containers.conf" <<EOF
[containers]
default_ulimits = ["nofile=$nofile:$nofile", "nproc=$nproc:$nproc"]
[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
tmp_dir = "$T/libpod"
events_logger = "file"
events_logfile_path = "$T/events.log"
[network]
network_config_dir = "$T/cni"
EOF
printf 'unqualified-search-registries = []\n' >"$T/registries.conf"
export CONTAINERS_STORAGE_CONF=$T/storage.conf CONTAINERS_CONF=$T/containers.conf
export CONTAINERS_REGISTRIES_CONF=$T/registries.conf
ULIMITS=(--ulimit "nofile=$nofile:$nofile" --ulimit "nproc=$nproc:$nproc")
# Without systemd (as here) podman logs an error about healthcheck timers on every container
# start and stop; `podman healthcheck run` works regardless. Those lines are dropped.
pm() { timeout "${PM_TIMEOUT:-120}" podman "$@" 2> >(grep -v 'systemd connection' >&2); }

# Polls `cmd...` every 0.2 s until it succeeds; false after `seconds`.
wait_for() {
  local seconds=$1
  shift
  local deadline=$((SECONDS + seconds))
  until "$@" >/dev/null 2>&1; do
    ((SECONDS >= deadline)) && return 1
    sleep 0.2
  done
}
# curl inside a network namespace (loopback only), bounded.
ns_curl() {
  local ns=$1
  shift
  ip netns exec "$ns" curl -sS --max-time 15 "$@"
}
# The value of one exact sample line of a /metrics text ("" when absent).
sample() { awk -v want="$2" '$1 == want {print $2}' <<<"$1"; }
in_flight() {
  [[ $(sample "$(ns_curl "$1" http://127.0.0.1:9901/metrics)" 'triaged_requests_in_flight{upstream="app"}') == 1 ]]
}
# Starts a request to the triaged in namespace $1 whose response comes 3 s late, and waits until
# triaged counts it in flight (10 s at most). slow_answered then waits for it: true on the 200.
start_slow_request() {
  ns_curl "$1" -o "$T/slow" -w '%{http_code}' 'http://127.0.0.1:8080/slow?delay_headers=3000&body=late' \
    >"$T/slow.code" 2>&1 &
  slow_pid=$!
  wait_for 10 in_flight "$1" || fail "the slow request never showed in triaged_requests_in_flight"
}
slow_answered() {
  wait "$slow_pid"
  [[ $(cat "$T/slow.code") == 200 && $(cat "$T/slow") == late ]]
}

# --- 1. the base: debootstrap from apt's own Debian mirror --------------------------------------
log "debootstrap --variant=minbase bookworm"
mirror=$(apt-get indextargets --format '$(REPO_URI)' 'Release: bookworm' 'Identifier: Packages' |
  head -n1)
[[ -n $mirror ]] || die "no bookworm source in apt's configuration (apt-get update first?)"
if ! timeout 600 debootstrap --variant=minbase bookworm "$T/base" "$mirror" >"$T/debootstrap.log" 2>&1; then
  tail -n 20 "$T/debootstrap.log"
  die "debootstrap from $mirror failed"
fi
log "debootstrap done; podman import"
# The same suites apt uses here (security updates included), from the same mirror(s), nothing else.
apt-get indextargets --format '$(REPO_URI) $(RELEASE) $(COMPONENT)' 'Identifier: Packages' |
  awk '$2 ~ /^bookworm(-updates|-security)?$/ {print "deb " $1 " " $2 " " $3}' | sort -u \
  >"$T/base/etc/apt/sources.list"
cp "$T/base/etc/apt/sources.list" "$T/base.sources"
rm -f "$T"/base/var/cache/apt/archives/*.deb
if ! tar -C "$T/base" -c . | pm import - debian:12 >/dev/null; then die "podman import failed"; fi
rm -rf "$T/base"
ok "base debian:12 from debootstrap ($mirror); its apt sources: $(paste -sd';' "$T/base.sources")"

# --- 2. the image -----------------------------------------------------------------------------
log "podman build"
revision=$(git -C "$ROOT" rev-parse HEAD 2>/dev/null || echo unknown)
source_url=$(git -C "$ROOT" remote get-url origin 2>/dev/null || echo "file://$ROOT")
if ! PM_TIMEOUT=1200 pm build --isolation chroot --network host --format docker --pull=never \
  --build-arg "SOURCE=$source_url" --build-arg "REVISION=$revision" -t "$IMAGE" "$ROOT" \
  >"$T/build.log" 2>&1; then
  tail -n 40 "$T/build.log"
  die "podman build failed"
fi
log "built $IMAGE"

inspect() { pm image inspect --format "$1" "$IMAGE"; }
size=$(inspect '{{.Size}}')
if ((size <= 30 * 1000 * 1000)); then
  ok "image size $size bytes ($((size / 1000 / 1000)) MB uncompressed; goal <= 30 MB)"
else
  fail "image size $size bytes > 30 MB"
fi
[[ $(inspect '{{.Config.User}}') == 10001:10001 ]] && ok "USER 10001:10001" ||
  fail "USER is '$(inspect '{{.Config.User}}')'"
[[ $(inspect '{{.Config.StopSignal}}') == SIGTERM ]] && ok "STOPSIGNAL SIGTERM" ||
  fail "STOPSIGNAL is '$(inspect '{{.Config.StopSignal}}')'"
ports=$(inspect '{{range $p, $_ := .Config.ExposedPorts}}{{$p}} {{end}}')
[[ $ports == "8080/tcp 9901/tcp " ]] && ok "EXPOSE $ports" || fail "EXPOSE is '$ports'"
health=$(inspect '{{json .Config.Healthcheck.Test}}')
[[ $health == '["CMD","/usr/local/bin/triaged","health","--config","/etc/triaged/triaged.toml"]' ]] &&
  ok "HEALTHCHECK $health" || fail "HEALTHCHECK is $health"
version=$(pm run --rm --network none "${ULIMITS[@]}" "$IMAGE" --version)
label() { inspect "{{index .Labels \"org.opencontainers.image.$1\"}}"; }
if [[ $version == "triaged ${TRIAGED_VERSION:-?}" && $(label version) == "${TRIAGED_VERSION:-}" ]]; then
  ok "label version $(label version) == triaged --version in the image == CMakeLists.txt's"
else
  fail "versions differ: label '$(label version)', image '$version', CMake '${TRIAGED_VERSION:-unset}'"
fi
[[ $(label source) == "$source_url" && $(label revision) == "$revision" && -n $(label title) ]] &&
  ok "labels source=$(label source) revision=$(label revision)" || fail "labels: $(inspect '{{json .Labels}}')"
# What is in the image: exactly the binary, the loader and libraries, and a few files in /etc.
pm create --name triaged-ct-files "$IMAGE" >/dev/null
pm export triaged-ct-files | tar -t | grep -v '/$' | sort >"$T/files.txt"
pm rm triaged-ct-files >/dev/null
unexpected=$(grep -Ev '^(usr/local/bin/triaged|lib64/ld-linux[^/]*|(usr/)?lib/[^/]+-linux-gnu/lib[^/]+\.so[.0-9]*|etc/(passwd|group|nsswitch\.conf|ssl/certs/ca-certificates\.crt|triaged/triaged\.toml|triaged/hints\.toml|hosts|hostname|resolv\.conf)|run/.containerenv)$' "$T/files.txt")
if [[ -z $unexpected ]]; then
  ok "image files ($(wc -l <"$T/files.txt")): $(tr '\n' ' ' <"$T/files.txt")"
else
  fail "unexpected files in the image: $(tr '\n' ' ' <<<"$unexpected")"
fi
if pm run --rm --network none "${ULIMITS[@]}" --entrypoint /bin/sh "$IMAGE" -c true >/dev/null 2>&1; then
  fail "the image has a shell"
else
  ok "no /bin/sh in the image"
fi

# --- 3. podman run, read-only, as uid 10001, in a network namespace of our own ------------------
log "podman run in network namespace $NS"
ip netns add "$NS" || die "ip netns add $NS failed"
ip -n "$NS" link set lo up
drain=$(python3 -c 'import sys, tomllib; print(tomllib.load(open(sys.argv[1], "rb"))["server"]["drain_timeout"])' "$ROOT/deploy/docker/triaged.toml")
drain_s=${drain%s}
[[ $drain_s =~ ^[0-9]+$ ]] || die "deploy/docker/triaged.toml: drain_timeout '$drain' is not whole seconds"
pm run -d --name triaged-ct --runtime runc --network "ns:/run/netns/$NS" --read-only \
  "${ULIMITS[@]}" --health-interval disable "$IMAGE" >/dev/null || die "podman run failed"
listening() { pm logs triaged-ct 2>/dev/null | grep -q '"event":"listening"'; }
wait_for 20 listening || { pm logs triaged-ct; die "triaged did not log 'listening' within 20 s"; }
pid=$(pm inspect --format '{{.State.Pid}}' triaged-ct)
uid=$(awk '/^Uid:/ {print $2 "/" $3}' "/proc/$pid/status")
[[ $uid == 10001/10001 ]] && ok "the container's process runs as uid 10001" || fail "uid $uid"
root_opts=$(awk '$5 == "/" {print $6}' "/proc/$pid/mountinfo" | head -n1)
[[ $(pm inspect --format '{{.HostConfig.ReadonlyRootfs}}' triaged-ct) == true && $root_opts == ro,* ]] &&
  ok "root file system mounted read-only ($root_opts)" || fail "root file system: $root_opts"

for path in /healthz /readyz; do
  code=$(ns_curl "$NS" -o /dev/null -w '%{http_code}' "http://127.0.0.1:9901$path")
  [[ $code == 200 ]] && ok "GET $path -> 200" || fail "GET $path -> $code"
done

# Nothing listens on 127.0.0.1:8081 yet: the shipped config's upstream is refused.
headers=$(ns_curl "$NS" -o /dev/null -D - http://127.0.0.1:8080/billing/invoice | tr -d '\r')
if grep -q '^HTTP/1.1 502' <<<"$headers" && grep -qi '^x-triaged-cause: connect_refused' <<<"$headers"; then
  ok "refused upstream -> 502, X-Triaged-Cause: connect_refused"
else
  fail "refused upstream answered: $headers"
fi
failure_line() { pm logs triaged-ct 2>/dev/null | grep '"event":"upstream_failure"' | head -n1; }
wait_for 5 failure_line
if python3 - "$(failure_line)" <<'EOF'; then
import json, sys
line = json.loads(sys.argv[1])
want = {"event": "upstream_failure", "cause": "connect_refused", "status": 502, "upstream": "app",
        "endpoint": "127.0.0.1:8081", "errno": "ECONNREFUSED", "path": "/billing/invoice"}
bad = {k: line.get(k) for k, v in want.items() if line.get(k) != v}
if bad or not line.get("hint"):
    print("      unexpected fields: %r (hint %r)" % (bad, line.get("hint")))
    sys.exit(1)
EOF
  ok "podman logs: the JSON failure line (connect_refused, 502, app, 127.0.0.1:8081, ECONNREFUSED, a hint)"
else
  fail "no valid JSON failure line in podman logs: $(failure_line)"
fi
metrics=$(ns_curl "$NS" http://127.0.0.1:9901/metrics)
n=$(sample "$metrics" 'triaged_failures_total{upstream="app",cause="connect_refused"}')
[[ $n == 1 ]] && ok "/metrics: triaged_failures_total{upstream=\"app\",cause=\"connect_refused\"} 1" ||
  fail "/metrics connect_refused count is '$n'"

ip netns exec "$NS" "$FAKE_UPSTREAM" --listen 127.0.0.1:8081 >"$T/upstream.log" 2>&1 &
wait_for 10 grep -q LISTENING "$T/upstream.log" || die "the fake upstream did not start: $(cat "$T/upstream.log")"
code=$(ns_curl "$NS" -o "$T/body" -w '%{http_code}' 'http://127.0.0.1:8080/hello?body=proxied')
[[ $code == 200 && $(cat "$T/body") == proxied ]] && ok "proxied GET -> 200 from the upstream" ||
  fail "proxied GET -> $code $(head -c 200 "$T/body")"

if out=$(pm healthcheck run triaged-ct 2>&1); then
  ok "podman healthcheck run: ${out:-healthy} ($(pm inspect --format '{{.State.Health.Status}}' triaged-ct))"
else
  fail "podman healthcheck run: $out"
fi

# SIGTERM (podman stop sends the image's STOPSIGNAL) with a slow response in flight. podman
# kills after --time seconds: drain_timeout, so a drain that overran it would exit 137, not 0.
log "podman stop with a request in flight"
start_slow_request "$NS"
PM_TIMEOUT=$((drain_s + 30)) pm stop --time "$drain_s" triaged-ct >/dev/null &
stop_pid=$!
not_ready() { [[ $(ns_curl "$NS" -o /dev/null -w '%{http_code}' http://127.0.0.1:9901/readyz) == 503 ]]; }
wait_for 10 not_ready && ok "GET /readyz -> 503 while draining" || fail "/readyz never turned 503"
wait "$stop_pid" || fail "podman stop failed"
slow_answered && ok "the in-flight request finished: 200 after SIGTERM" ||
  fail "in-flight request: $(cat "$T/slow.code")"
exit_code=$(pm inspect --format '{{.State.ExitCode}}' triaged-ct)
[[ $exit_code == 0 ]] && ok "exit code 0 within drain_timeout ($drain)" || fail "exit code $exit_code"
logs=$(pm logs triaged-ct 2>&1)
grep -q '"event":"draining","signal":"SIGTERM"' <<<"$logs" && grep -q '"event":"stopped","reason":"drained"' <<<"$logs" &&
  ok "logs: draining on SIGTERM, stopped: drained" || fail "drain log lines missing: $(tail -n 3 <<<"$logs")"
pm rm triaged-ct >/dev/null

# --- 4. podman play kube with the sidecar manifests -------------------------------------------
log "podman play kube deploy/kubernetes/sidecar"
mkdir -p "$T/app"
bash "$ROOT/scripts/bundle_binary.sh" "$FAKE_UPSTREAM" "$T/app/root" /usr/local/bin/fake_upstream ||
  die "cannot bundle the fake upstream"
printf 'FROM scratch\nCOPY root/ /\nENTRYPOINT ["/usr/local/bin/fake_upstream"]\n' >"$T/app/Containerfile"
pm build --isolation chroot --format docker --pull=never -t "$APP_IMAGE" "$T/app" >"$T/app/build.log" 2>&1 ||
  die "test upstream image: $(tail -n 5 "$T/app/build.log")"
if command -v kubectl >/dev/null; then
  kubectl kustomize "$ROOT/deploy/kubernetes/sidecar" >"$T/sidecar.yaml" || die "kubectl kustomize failed"
  rendered=$T/sidecar.yaml
else
  echo "note: no kubectl (Debian 12 has none): podman_kube.py renders the kustomization itself"
  rendered=$ROOT/deploy/kubernetes/sidecar
fi
python3 "$ROOT/tests/container/podman_kube.py" "$rendered" "$T/pod.yaml" "$IMAGE" "$APP_IMAGE" \
  --listen 127.0.0.1:8081 || die "podman_kube.py failed"
grace=$(python3 -c 'import sys, yaml
for d in yaml.safe_load_all(open(sys.argv[1])):
    if d and d["kind"] == "Deployment": print(d["spec"]["template"]["spec"]["terminationGracePeriodSeconds"])' "$T/pod.yaml")
# From an empty directory: podman 4.3 looks for a build context named after each image in the
# working directory (ctest's is the build directory, where "triaged" is the binary), even with
# --build=false.
mkdir "$T/kube"
(cd "$T/kube" && pm play kube --network none "$T/pod.yaml") >"$T/play.log" 2>&1 ||
  { cat "$T/play.log"; die "podman play kube failed"; }
pod=app-pod-0
infra_pid=$(pm inspect --format '{{.State.Pid}}' "$(pm pod inspect --format '{{.InfraContainerID}}' "$pod")")
ip netns attach "$POD_NS" "$infra_pid" || die "cannot attach to the pod's network namespace"
ready() { [[ $(ns_curl "$POD_NS" -o /dev/null -w '%{http_code}' http://127.0.0.1:9901/readyz) == 200 ]]; }
wait_for 20 ready || { pm logs "$pod-triaged"; die "the sidecar's /readyz never answered 200"; }
ok "pod $pod: the sidecar is ready"
config=$(ns_curl "$POD_NS" http://127.0.0.1:9901/config)
if python3 - "$config" <<'EOF'; then
import json, sys
c = json.loads(sys.argv[1])
up = c["upstreams"][0]
# Values of deploy/kubernetes/sidecar/triaged.toml that differ from the image's own file.
assert c["server"]["workers"] == 1, c["server"]
assert up["keepalive_idle_timeout"] == "4s", up
EOF
  ok "the configuration in force is the ConfigMap's (workers 1, keepalive_idle_timeout 4s)"
else
  fail "/config is not the ConfigMap's: $config"
fi
tpid=$(pm inspect --format '{{.State.Pid}}' "$pod-triaged")
[[ $(awk '/^Uid:/ {print $2}' "/proc/$tpid/status") == 10001 &&
  $(pm inspect --format '{{.HostConfig.ReadonlyRootfs}} {{len .EffectiveCaps}}' "$pod-triaged") == "true 0" ]] &&
  ok "securityContext: uid 10001, read-only root, no capabilities" ||
  fail "securityContext not applied: $(pm inspect --format '{{.Config.User}} {{.HostConfig.ReadonlyRootfs}} {{.EffectiveCaps}}' "$pod-triaged")"
code=$(ns_curl "$POD_NS" -o "$T/body" -w '%{http_code}' 'http://127.0.0.1:8080/x?body=from-app')
[[ $code == 200 && $(cat "$T/body") == from-app ]] &&
  ok "sidecar -> app container on the pod's loopback: 200" || fail "through the pod: $code"
echo "note: podman 4.3 turned the livenessProbe into $(pm inspect --format '{{json .Config.Healthcheck.Test}}' "$pod-triaged"): the image has no shell and no curl to run it"
echo "note: podman 4.3 ignores readinessProbe, lifecycle.preStop and terminationGracePeriodSeconds (StopTimeout $(pm inspect --format '{{.Config.StopTimeout}}' "$pod-triaged") s)"

start_slow_request "$POD_NS"
# What Kubernetes does on a rolling update, as far as podman can: the sidecar gets SIGTERM with
# the manifest's grace period while the app keeps serving (its preStop sleeps 30 s, which podman
# would not run: `podman pod stop` signals every container at once, and the app, killed under an
# in-flight request, makes it a 502: upstream_closed_early, retried, connect_refused). Then the
# rest of the pod stops.
PM_TIMEOUT=$((grace + 30)) pm stop --time "$grace" "$pod-triaged" >/dev/null ||
  fail "podman stop $pod-triaged failed"
slow_answered && ok "sidecar stop: the in-flight request finished (200)" ||
  fail "sidecar stop: in-flight request $(cat "$T/slow.code"); $(pm logs "$pod-triaged" 2>&1 | tail -n 3)"
exit_code=$(pm inspect --format '{{.State.ExitCode}}' "$pod-triaged")
[[ $exit_code == 0 ]] && ok "sidecar stop: drained and exited 0 within the grace period (${grace}s)" ||
  fail "sidecar stop: exit code $exit_code"
pm pod stop "$pod" >/dev/null || fail "podman pod stop $pod failed"

log "done"
((failures == 0)) || exit 1
