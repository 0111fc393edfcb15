# Turns bench/run.sh's raw measurements into markdown tables (POSIX awk; mawk is enough).
# Input 1, rss.tsv:  target  phase(idle|mem10k|mem100k|pinned|many|manysettled|unpinned|wrk0|c1)  rss_kib
#                    [requests_served  counter|wrk]   (the last two on the mem* rows only)
# Input 2, raw.tsv:  layout size target round requests duration_us p50_us p99_us status_errors
#                    socket_errors cpu_ticks [statuses] user_ticks [voluntary_context_switches]
# Variables: hz (CLK_TCK), conns, many (the many layout's connections), ncpu, cl/cp (load and proxy CPU), allc (all CPUs), failines.
BEGIN { FS = "\t" }
FILENAME == ARGV[1] { rss[$1, $2] = $3; if ($4 != "") { served[$1, $2] = $4; src[$1, $2] = $5 } next }
{
  k = $1 SUBSEP $2 SUBSEP $3
  rps = ($6 > 0) ? $5 / ($6 / 1e6) : 0
  cpu = ($5 > 0) ? $11 * 1e6 / hz / $5 : 0
  usr = ($5 > 0) ? $13 * 1e6 / hz / $5 : 0
  if ($14 != "" && $5 > 0) B[k] = B[k] " " $14 / $5
  R[k] = R[k] " " rps; C[k] = C[k] " " cpu; U[k] = U[k] " " usr; P50[k] = P50[k] " " $7; P99[k] = P99[k] " " $8
  ERR[k] += $9 + $10; SE[k] += $10; REQ[k] += $5
  if ($12 != "") {
    n = split($12, parts, ",")
    for (i = 1; i <= n; i++) { split(parts[i], kv, ":"); ST[k, kv[1]] += kv[2]; if (!(kv[1] in codes)) { codes[kv[1]] = 1; codelist = codelist " " kv[1] } }
  }
  seen[k] = 1
}
function sortnum(list, a,    n, i, j, t) {
  n = split(list, a, " ")
  for (i = 2; i <= n; i++) { t = a[i] + 0; for (j = i - 1; j >= 1 && a[j] + 0 > t; j--) a[j + 1] = a[j]; a[j + 1] = t }
  return n
}
function median(list,    a, n) {
  n = sortnum(list, a)
  if (n == 0) return ""
  return (n % 2) ? a[(n + 1) / 2] + 0 : (a[n / 2] + a[n / 2 + 1]) / 2
}
function minmax(list,    a, n) {
  n = sortnum(list, a)
  return (n == 0) ? "" : sprintf("%.0f–%.0f", a[1], a[n])
}
function minof(list,    a, n) {
  n = sortnum(list, a)
  return (n == 0) ? "" : a[1] + 0
}
function per(list,    m) { m = median(list); return (m == "") ? "–" : sprintf("%.2f", m) }
function ratio(x, y) { return (y > 0 && x != "") ? sprintf("%.2fx", x / y) : "–" }
function mib(kib) { return (kib == "") ? "?" : sprintf("%.1f", kib / 1024) }
function label(t) { return (t == "origin") ? "origin (direct)" : (t == "relay") ? "relay (HAProxy mode tcp, no HTTP)" : (t == "floor") ? "floor (bench/floor_relay.c)" : (t == "triaged") ? "triaged (defaults)" : (t == "triaged-tuned") ? "triaged, tuned" : t }
function body(size) { return (size == "64") ? "64 B" : "16 KiB" }
# One row of the worker scaling table: triaged workers = 1 vs workers = 2 in LAYOUT, SIZE.
function scaling_row(layout, size, name,    k1, k2, r1, r2, c1, c2) {
  k1 = layout SUBSEP size SUBSEP "triaged"; k2 = layout SUBSEP size SUBSEP "triaged-w2"
  if (!(k1 in seen) || !(k2 in seen)) return
  r1 = median(R[k1]); r2 = median(R[k2]); c1 = median(C[k1]); c2 = median(C[k2])
  printf "| %s | %s | %.0f | %.0f | %s | %s / %s | %d / %d | %d / %d | %.1f / %.1f | %s | %d / %d |\n", name, body(size),
    r1, r2, ratio(r2, r1), minmax(R[k1]), minmax(R[k2]), median(P50[k1]), median(P50[k2]),
    median(P99[k1]), median(P99[k2]), c1, c2, ratio(c2, c1), ERR[k1], ERR[k2]
}
function scaling(    lu, lw) {
  if (!(("unpinned" SUBSEP "64" SUBSEP "triaged-w2") in seen) && !(("wrk0" SUBSEP "64" SUBSEP "triaged-w2") in seen)) return
  lu = "unpinned: wrk, origin, triaged on CPUs " allc
  lw = "wrk0: wrk on CPU " cl " only; origin, triaged on CPUs " allc
  print "### Worker scaling: triaged workers = 1 vs workers = 2 (wrk -t1 -c" conns ", " ncpu " CPUs)"
  print ""
  print "Same config but `workers`; the two instances run in turn in the same rounds. Ratios are workers = 2 over workers = 1."
  print ""
  print "| layout | body | req/s w=1 | req/s w=2 | req/s w=2 / w=1 | min–max w=1 / w=2 | p50 µs w=1 / w=2 | p99 µs w=1 / w=2 | CPU µs/req w=1 / w=2 | CPU w=2 / w=1 | errors w=1 / w=2 |"
  print "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
  scaling_row("unpinned", "64", lu); scaling_row("unpinned", "16k", lu)
  scaling_row("wrk0", "64", lw); scaling_row("wrk0", "16k", lw)
  print ""
  printf "RSS idle: workers = 1 %s MiB, workers = 2 %s MiB.\n", mib(rss["triaged", "idle"]), mib(rss["triaged-w2", "idle"])
  print ""
}
function memory(    t, p, a, b) {
  if (!(("triaged" SUBSEP "mem100k") in rss)) return
  print "### Memory: VmRSS from a fresh start through 10k and 100k requests (64 B body, keep-alive, wrk -t1 -c" conns ")"
  print ""
  print "| target | RSS idle KiB | RSS after 10k KiB | RSS after 100k KiB | growth 10k→100k KiB | requests served at 10k / 100k |"
  print "| --- | ---: | ---: | ---: | ---: | ---: |"
  for (t = 2; t <= 4; t++) {
    p = T[t]
    if (!((p SUBSEP "mem100k") in rss)) continue
    a = rss[p, "mem10k"]; b = rss[p, "mem100k"]
    printf "| %s | %d | %d | %d | %+d | %s / %s (%s) |\n", p, rss[p, "idle"], a, b, b - a, served[p, "mem10k"], served[p, "mem100k"],
      (src[p, "mem100k"] == "counter") ? "its triaged_requests_total" : "responses wrk counted"
  }
  print ""
  print "wrk stops after 10,000 responses, then after 90,000 more on new connections; nginx is master + worker. A proxy's own"
  print "counter includes the requests still in flight when wrk stopped (up to " (conns - 1) "), which wrk does not count."
  print ""
}
function table(layout, size, title,    t, k, kn, ko, r, rn, ro, c, cn, p50, p99, o50, o99, extra) {
  if (!((layout SUBSEP size SUBSEP "origin") in seen) && !((layout SUBSEP size SUBSEP "triaged") in seen)) return
  print "### " title ", " body(size) " body"
  print ""
  extra = (layout == "c1")
  kn = layout SUBSEP size SUBSEP "nginx"; ko = layout SUBSEP size SUBSEP "origin"
  rn = median(R[kn]); ro = median(R[ko]); cn = median(C[kn])
  o50 = median(P50[ko]); o99 = median(P99[ko])
  printf "| target | req/s (median) | min–max | vs nginx | vs origin | p50 µs | p99 µs |%s CPU µs/req | of it user | sleeps/req | CPU vs nginx | errors | RSS idle / after MiB |\n", extra ? " added p50 / p99 µs | p99 µs, quietest round (added) |" : ""
  printf "| --- | ---: | ---: | ---: | ---: | ---: | ---: |%s ---: | ---: | ---: | ---: | ---: | ---: |\n", extra ? " ---: | ---: |" : ""
  for (t = 1; t <= 7; t++) {
    k = layout SUBSEP size SUBSEP T[t]
    if (!(k in seen)) continue
    r = median(R[k]); c = median(C[k]); p50 = median(P50[k]); p99 = median(P99[k])
    printf "| %s | %.0f | %s | %s | %s | %d | %d |", label(T[t]), r, minmax(R[k]), ratio(r, rn), ratio(r, ro), p50, p99
    if (extra) {
      printf(T[t] == "origin" ? " – |" : " %+d / %+d |", p50 - o50, p99 - o99)
      printf(T[t] == "origin" ? " %d |" : " %d (%+d) |", minof(P99[k]), minof(P99[k]) - minof(P99[ko]))
    }
    printf " %.1f | %.1f | %s | %s | %d | %s / %s |\n", c, median(U[k]), per(B[k]), (T[t] == "origin") ? "–" : ratio(c, cn), ERR[k], mib(rss[T[t], "idle"]), mib(rss[T[t], layout])
  }
  print ""
}
END {
  T[1] = "origin"; T[2] = "nginx"; T[3] = "haproxy"; T[4] = "triaged"; T[5] = "triaged-tuned"; T[6] = "relay"; T[7] = "floor"
  pinned = (ncpu >= 2) ? "Pinned (wrk + origin on CPU " cl ", proxy alone on CPU " cp "; wrk -t1 -c" conns ")" : "Pinned (one CPU only: everything shares CPU " cl "; wrk -t1 -c" conns ")"
  print "## Results"
  print ""
  table("pinned", "64", pinned); table("pinned", "16k", pinned)
  if (("pinned" SUBSEP "64" SUBSEP "relay") in seen) {
    print "The relay is HAProxy in TCP mode: one origin connection per client connection, bytes passed on unread:"
    print "no HTTP work, but HAProxy's scheduler, streams and buffers for every transfer."
    if (("pinned" SUBSEP "64" SUBSEP "floor") in seen) {
      print "The floor (bench/floor_relay.c) does the same with none of that: one thread, epoll registered once per"
      print "socket, recv and send on both legs. Its CPU per request is almost all kernel time, what every proxy"
      print "above pays too; a proxy's distance above it is, to the noise, its own (user) time."
    }
    print ""
  }
  manyt = (ncpu >= 2) ? "Pinned, many connections (as above with wrk -t1 -c" many ")" : "Pinned, many connections (one CPU; wrk -t1 -c" many ")"
  table("many", "64", manyt); table("many", "16k", manyt)
  if (("many" SUBSEP "64" SUBSEP "triaged") in seen) {
    print "With " many " client connections each proxy keeps as many upstream connections: nginx's keepalive is set"
    print "to 1024 for this, HAProxy's idle pool has no limit by default, and triaged's pool is sized from demand"
    print "with its defaults (max_connections 256 per upstream: the other requests wait for a connection)."
    print "Per-request CPU rises with the connection count for every target (more sockets and connection state"
    print "in the caches); the ratios are what to compare."
    print ""
    if (("triaged" SUBSEP "manysettled") in rss)
      printf "RSS right after these runs and 12 s later, MiB: nginx %s → %s, HAProxy %s → %s, triaged %s → %s.\n\n", mib(rss["nginx", "many"]), mib(rss["nginx", "manysettled"]), mib(rss["haproxy", "many"]), mib(rss["haproxy", "manysettled"]), mib(rss["triaged", "many"]), mib(rss["triaged", "manysettled"])
  }
  table("unpinned", "64", "Unpinned (all processes on all CPUs; wrk -t1 -c" conns ")")
  table("unpinned", "16k", "Unpinned (all processes on all CPUs; wrk -t1 -c" conns ")")
  table("c1", "64", "c=1, everything on CPU " cl " (wrk -t1 -c1)")
  table("c1", "16k", "c=1, everything on CPU " cl " (wrk -t1 -c1)")
  if (("c1" SUBSEP "64" SUBSEP "origin") in seen) {
    print "At c=1 one request is in flight, so a millisecond for which the host takes the vCPU away lands in p99: in"
    print "a disturbed round even the direct origin shows a p99 of milliseconds, and the median of the rounds' p99 can"
    print "then say little. The last latency column is each target's quietest round (its lowest p99), with what it"
    print "adds to the origin's quietest: the tail a proxy causes itself."
    print ""
  }

  k = "mix" SUBSEP "64" SUBSEP "triaged"
  if (k in seen) {
    kp = "pinned" SUBSEP "64" SUBSEP "triaged"
    print "### Failure mix through triaged (pinned layout, wrk -t1 -c" conns ")"
    print ""
    print "Of every 10 requests: 8 × /64 (200), 1 × /500 (the origin answers 500), 1 × /refused/x (an upstream"
    print "whose only endpoint refuses connections: triaged answers 502 connect_refused; marked down, it is still tried)."
    print "Every failure is classified, counted and logged (" failines " log lines for these causes, rate-limited per cause;"
    print "the client aborts logged when wrk stops a run are not in that count)."
    print ""
    print "| target | req/s (median) | min–max | p50 µs | p99 µs | CPU µs/req | vs triaged all-200 /64 | socket errors | responses by status |"
    print "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |"
    n = split(codelist, cl2, " "); st = ""
    for (i = 1; i <= n; i++) st = st (st == "" ? "" : ", ") cl2[i] ": " sprintf("%.1f%%", 100 * ST[k, cl2[i]] / (REQ[k] > 0 ? REQ[k] : 1))
    c = median(C[k])
    printf "| triaged, failure mix | %.0f | %s | %d | %d | %.1f | %s | %d | %s |\n", median(R[k]), minmax(R[k]), median(P50[k]), median(P99[k]), c, ratio(c, median(C[kp])), SE[k] + 0, st
    print ""
  }
  scaling()
  memory()
  reload_table()
}
function reload_row(t, name,    k0, k1, r0, r1) {
  k0 = "reload" SUBSEP "64" SUBSEP t; k1 = "reload" SUBSEP "64" SUBSEP t "-reload"
  if (!(k0 in seen) || !(k1 in seen)) return
  r0 = median(R[k0]); r1 = median(R[k1])
  printf "| %s | %.0f | %.0f | %s | %d / %d | %d / %d | %d / %d |\n", name, r0, r1, ratio(r1, r0), median(P50[k0]), median(P50[k1]), median(P99[k0]), median(P99[k1]), ERR[k0], ERR[k1]
}
function reload_table() {
  if (!(("reload" SUBSEP "64" SUBSEP "triaged-reload") in seen)) return
  print "### Reload every second under load (pinned, 64 B, wrk -t1 -c" conns ")"
  print ""
  print "Each target without reloads, then with its configuration reloaded every second, in the same rounds:"
  print "triaged by SIGHUP (" reloads " config_reloaded lines in the run), nginx by SIGHUP to its master (`nginx -s reload`)."
  print ""
  print "| target | req/s | req/s reloading | reloading / not | p50 µs not / reloading | p99 µs not / reloading | errors not / reloading |"
  print "| --- | ---: | ---: | ---: | ---: | ---: | ---: |"
  reload_row("triaged", "triaged (defaults)"); reload_row("nginx", "nginx")
  print ""
}
