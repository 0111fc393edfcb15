# Turns bench/run.sh's raw measurements into markdown tables (POSIX awk; mawk is enough).
# Input 1, rss.tsv:  target  phase(idle|pinned|unpinned|c1)  rss_kib
# Input 2, raw.tsv:  layout size target round requests duration_us p50_us p99_us status_errors
#                    socket_errors cpu_ticks [statuses]
# Variables: hz (CLK_TCK), conns, ncpu, cl/cp (load and proxy CPU), failines.
BEGIN { FS = "\t" }
FILENAME == ARGV[1] { rss[$1, $2] = $3; next }
{
  k = $1 SUBSEP $2 SUBSEP $3
  rps = ($6 > 0) ? $5 / ($6 / 1e6) : 0
  cpu = ($5 > 0) ? $11 * 1e6 / hz / $5 : 0
  R[k] = R[k] " " rps; C[k] = C[k] " " cpu; P50[k] = P50[k] " " $7; P99[k] = P99[k] " " $8
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
function ratio(x, y) { return (y > 0 && x != "") ? sprintf("%.2fx", x / y) : "–" }
function mib(kib) { return (kib == "") ? "?" : sprintf("%.1f", kib / 1024) }
function label(t) { return (t == "origin") ? "origin (direct)" : t }
function table(layout, size, title,    t, k, kn, ko, r, rn, ro, c, cn, p50, p99, o50, o99, extra) {
  if (!((layout SUBSEP size SUBSEP "origin") in seen) && !((layout SUBSEP size SUBSEP "triaged") in seen)) return
  print "### " title ", " (size == "64" ? "64 B" : "16 KiB") " body"
  print ""
  extra = (layout == "c1")
  kn = layout SUBSEP size SUBSEP "nginx"; ko = layout SUBSEP size SUBSEP "origin"
  rn = median(R[kn]); ro = median(R[ko]); cn = median(C[kn])
  o50 = median(P50[ko]); o99 = median(P99[ko])
  printf "| target | req/s (median) | min–max | vs nginx | vs origin | p50 µs | p99 µs |%s CPU µs/req | CPU vs nginx | errors | RSS idle / after MiB |\n", extra ? " added p50 / p99 µs |" : ""
  printf "| --- | ---: | ---: | ---: | ---: | ---: | ---: |%s ---: | ---: | ---: | ---: |\n", extra ? " ---: |" : ""
  for (t = 1; t <= 4; t++) {
    k = layout SUBSEP size SUBSEP T[t]
    if (!(k in seen)) continue
    r = median(R[k]); c = median(C[k]); p50 = median(P50[k]); p99 = median(P99[k])
    printf "| %s | %.0f | %s | %s | %s | %d | %d |", label(T[t]), r, minmax(R[k]), ratio(r, rn), ratio(r, ro), p50, p99
    if (extra) printf(T[t] == "origin" ? " – |" : " %+d / %+d |", p50 - o50, p99 - o99)
    printf " %.1f | %s | %d | %s / %s |\n", c, (T[t] == "origin") ? "–" : ratio(c, cn), ERR[k], mib(rss[T[t], "idle"]), mib(rss[T[t], layout])
  }
  print ""
}
END {
  T[1] = "origin"; T[2] = "nginx"; T[3] = "haproxy"; T[4] = "triaged"
  pinned = (ncpu >= 2) ? "Pinned (wrk + origin on CPU " cl ", proxy alone on CPU " cp "; wrk -t1 -c" conns ")" : "Pinned (one CPU only: everything shares CPU " cl "; wrk -t1 -c" conns ")"
  print "## Results"
  print ""
  table("pinned", "64", pinned); table("pinned", "16k", pinned)
  table("unpinned", "64", "Unpinned (all processes on all CPUs; wrk -t1 -c" conns ")")
  table("unpinned", "16k", "Unpinned (all processes on all CPUs; wrk -t1 -c" conns ")")
  table("c1", "64", "c=1, everything on CPU " cl " (wrk -t1 -c1)")
  table("c1", "16k", "c=1, everything on CPU " cl " (wrk -t1 -c1)")

  k = "mix" SUBSEP "64" SUBSEP "triaged"
  if (k in seen) {
    kp = "pinned" SUBSEP "64" SUBSEP "triaged"
    print "### Failure mix through triaged (pinned layout, wrk -t1 -c" conns ")"
    print ""
    print "Of every 10 requests: 8 × /64 (200), 1 × /500 (the origin answers 500), 1 × /refused/x (an upstream"
    print "whose only endpoint refuses connections: triaged answers 502, or 503 while the endpoint is skipped)."
    print "Every failure is classified, counted and logged (" failines " log lines written, rate-limited per cause)."
    print ""
    print "| target | req/s (median) | min–max | p50 µs | p99 µs | CPU µs/req | vs triaged all-200 /64 | socket errors | responses by status |"
    print "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |"
    n = split(codelist, cl2, " "); st = ""
    for (i = 1; i <= n; i++) st = st (st == "" ? "" : ", ") cl2[i] ": " sprintf("%.1f%%", 100 * ST[k, cl2[i]] / (REQ[k] > 0 ? REQ[k] : 1))
    c = median(C[k])
    printf "| triaged, failure mix | %.0f | %s | %d | %d | %.1f | %s | %d | %s |\n", median(R[k]), minmax(R[k]), median(P50[k]), median(P99[k]), c, ratio(c, median(C[kp])), SE[k] + 0, st
    print ""
  }
}
