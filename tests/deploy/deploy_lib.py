#!/usr/bin/env python3
"""Helpers for tests/deploy/check_deploy.sh (one subcommand per check).

Every subcommand prints one line per thing it checked ("ok: ..." / "FAIL: ...") and exits 1
when anything failed, 2 on a usage or environment error. Needs PyYAML (Debian: python3-yaml).
"""
import json
import os
import re
import sys

try:
    import yaml
except ImportError:  # pragma: no cover - depends on the machine
    print("FAIL: python3 has no 'yaml' module: install python3-yaml "
          "(apt-get install python3-yaml) or PyYAML for " + sys.executable)
    sys.exit(2)

try:
    import tomllib  # Python 3.11+
except ImportError:  # pragma: no cover
    tomllib = None

FAILED = []


def ok(msg):
    print("ok:   " + msg)


def fail(msg):
    FAILED.append(msg)
    print("FAIL: " + msg)


def load_stream(path):
    with open(path, encoding="utf-8") as f:
        return [d for d in yaml.safe_load_all(f) if d is not None]


# ---------------------------------------------------------------------------------------------
# Kubernetes objects

WORKLOADS = {"Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job", "Pod", "CronJob"}
_SUFFIX = {
    "m": 1e-3, "": 1, "k": 1e3, "M": 1e6, "G": 1e9, "T": 1e12, "P": 1e15, "E": 1e18,
    "Ki": 2 ** 10, "Mi": 2 ** 20, "Gi": 2 ** 30, "Ti": 2 ** 40, "Pi": 2 ** 50, "Ei": 2 ** 60,
}


def quantity(v):
    """Kubernetes resource quantity -> float ("250m" -> 0.25, "64Mi" -> 67108864)."""
    m = re.fullmatch(r"\s*([0-9]*\.?[0-9]+(?:[eE][-+]?[0-9]+)?)\s*([a-zA-Z]*)\s*", str(v))
    if not m or m.group(2) not in _SUFFIX:
        raise ValueError("bad quantity %r" % (v,))
    return float(m.group(1)) * _SUFFIX[m.group(2)]


def pod_spec(obj):
    kind = obj.get("kind")
    spec = obj.get("spec") or {}
    if kind == "Pod":
        return spec
    if kind == "CronJob":
        return (((spec.get("jobTemplate") or {}).get("spec") or {}).get("template") or {}).get("spec")
    return (spec.get("template") or {}).get("spec")


def duration_seconds(s):
    total = 0.0
    for num, unit in re.findall(r"([0-9]*\.?[0-9]+)(ms|s|m|h)", s):
        total += float(num) * {"ms": 0.001, "s": 1, "m": 60, "h": 3600}[unit]
    return total


def toml_drain_timeout(text):
    if tomllib is not None:
        return duration_seconds(str(tomllib.loads(text).get("server", {}).get("drain_timeout", "10s")))
    m = re.search(r'^\s*drain_timeout\s*=\s*"([^"]+)"', text, re.M)
    return duration_seconds(m.group(1) if m else "10s")


def prestop_sleep(container):
    pre = ((container.get("lifecycle") or {}).get("preStop") or {})
    if "sleep" in pre:
        return float(pre["sleep"].get("seconds", 0))
    cmd = " ".join((pre.get("exec") or {}).get("command") or [])
    m = re.search(r"\bsleep\s+([0-9.]+)", cmd)
    return float(m.group(1)) if m else 0.0


def check_triaged_container(where, c, spec, configs):
    """The issue's rules for a triaged container: probes, drain, security context."""
    def probe(name, path):
        p = (c.get(name) or {}).get("httpGet") or {}
        if p.get("path") == path and p.get("port") in ("admin", 9901):
            ok("%s: %s GET %s on the admin port" % (where, name, path))
        else:
            fail("%s: %s must be httpGet %s on port admin/9901, got %r" % (where, name, path, p))
    probe("livenessProbe", "/healthz")
    probe("readinessProbe", "/readyz")

    sc = c.get("securityContext") or {}
    psc = spec.get("securityContext") or {}
    want = {
        "runAsNonRoot": sc.get("runAsNonRoot", psc.get("runAsNonRoot")) is True,
        "runAsUser 10001": sc.get("runAsUser", psc.get("runAsUser")) == 10001,
        "readOnlyRootFilesystem": sc.get("readOnlyRootFilesystem") is True,
        "allowPrivilegeEscalation false": sc.get("allowPrivilegeEscalation") is False,
        "capabilities drop ALL": "ALL" in ((sc.get("capabilities") or {}).get("drop") or []),
    }
    bad = [k for k, v in want.items() if not v]
    if bad:
        fail("%s: securityContext lacks %s" % (where, ", ".join(bad)))
    else:
        ok("%s: non-root, read-only, no privilege escalation, capabilities dropped" % where)

    # The image is FROM scratch: no shell, no sleep, nothing to exec but triaged itself.
    for name, handler in ((c.get("lifecycle") or {}).items()):
        argv = ((handler or {}).get("exec") or {}).get("command") or []
        if argv and argv[0] != "/usr/local/bin/triaged":
            fail("%s: lifecycle %s runs %r, but the triaged image has no shell and no programs "
                 "but /usr/local/bin/triaged (use `sleep: {seconds: N}`)" % (where, name, argv[0]))
    for name in ("livenessProbe", "readinessProbe", "startupProbe"):
        argv = ((c.get(name) or {}).get("exec") or {}).get("command") or []
        if argv and argv[0] != "/usr/local/bin/triaged":
            fail("%s: %s runs %r, which the triaged image does not have" % (where, name, argv[0]))

    # drain: preStop + drain_timeout < terminationGracePeriodSeconds
    cfg_text = None
    for vm in c.get("volumeMounts") or []:
        for vol in spec.get("volumes") or []:
            if vol.get("name") == vm.get("name") and "configMap" in vol:
                cm = vol["configMap"].get("name")
                for cm_name, text in configs.items():
                    if cm_name == cm or re.fullmatch(re.escape(cm) + r"-[a-z0-9]{10}", cm_name) \
                            or re.fullmatch(re.escape(cm_name) + r"-[a-z0-9]{10}", cm):
                        cfg_text = text
    grace = spec.get("terminationGracePeriodSeconds", 30)
    sleep = prestop_sleep(c)
    if cfg_text is None:
        fail("%s: no triaged.toml found in a mounted ConfigMap (cannot check the drain timing)" % where)
        return
    drain = toml_drain_timeout(cfg_text)
    if sleep > 0 and grace > sleep + drain:
        ok("%s: preStop %gs + drain_timeout %gs < terminationGracePeriodSeconds %gs"
           % (where, sleep, drain, grace))
    else:
        fail("%s: need a preStop sleep and terminationGracePeriodSeconds (%s) > preStop (%g) + "
             "drain_timeout (%g)" % (where, grace, sleep, drain))


def cmd_objects(args):
    """objects [--config-dir DIR] [--as NAME] FILE...: every document is a Kubernetes object with apiVersion,
    kind and metadata.name; every container has requests == limits; triaged containers follow
    the probe/drain/security rules."""
    config_dir = shown = None
    while args and args[0] in ("--config-dir", "--as"):
        if args[0] == "--config-dir":
            config_dir = args[1]
        else:
            shown = args[1]
        args = args[2:]
    docs = []
    for path in args:
        try:
            docs += [(path, d) for d in load_stream(path)]
        except yaml.YAMLError as e:
            fail("%s: not valid YAML: %s" % (path, e))
    # triaged configs: from rendered ConfigMaps, or from the directory's triaged.toml files
    configs = {}
    for _, d in docs:
        if isinstance(d, dict) and d.get("kind") == "ConfigMap":
            for key, text in (d.get("data") or {}).items():
                if key.endswith(".toml"):
                    configs[(d.get("metadata") or {}).get("name", "")] = text
    if config_dir is not None:
        kust = os.path.join(config_dir, "kustomization.yaml")
        gens = []
        if os.path.exists(kust):
            gens = (load_stream(kust) or [{}])[0].get("configMapGenerator") or []
        for g in gens:
            for f in g.get("files") or []:
                f = f.split("=", 1)[-1]
                if f.endswith(".toml"):
                    with open(os.path.join(config_dir, f), encoding="utf-8") as fh:
                        configs[g["name"]] = fh.read()
    for path, d in docs:
        if not isinstance(d, dict):
            fail("%s: a document is not a mapping" % path)
            continue
        name = (d.get("metadata") or {}).get("name")
        what = "%s %s/%s" % (shown or path, d.get("kind"), name)
        missing = [k for k, v in (("apiVersion", d.get("apiVersion")), ("kind", d.get("kind")),
                                  ("metadata.name", name)) if not v]
        if missing:
            fail("%s: missing %s" % (what, ", ".join(missing)))
            continue
        ok("%s: apiVersion %s, kind, metadata.name" % (what, d["apiVersion"]))
        if d["kind"] not in WORKLOADS:
            continue
        spec = pod_spec(d) or {}
        containers = (spec.get("initContainers") or []) + (spec.get("containers") or [])
        if not containers:
            fail("%s: no containers" % what)
        for c in containers:
            where = "%s container %s" % (what, c.get("name"))
            res = c.get("resources") or {}
            req, lim = res.get("requests") or {}, res.get("limits") or {}
            try:
                if not req or not lim:
                    fail("%s: needs both resources.requests and resources.limits" % where)
                elif set(req) != set(lim) or any(quantity(req[k]) != quantity(lim[k]) for k in req):
                    fail("%s: requests %r != limits %r" % (where, req, lim))
                elif not {"cpu", "memory"} <= set(req):
                    fail("%s: requests/limits must set cpu and memory, got %r" % (where, req))
                else:
                    ok("%s: requests == limits %s" % (where, json.dumps(req, sort_keys=True)))
            except ValueError as e:
                fail("%s: %s" % (where, e))
            if str(c.get("image", "")).split("/")[-1].startswith("triaged:"):
                check_triaged_container(where, c, spec, configs)


def cmd_rules_equal(args):
    """rules-equal PROMETHEUSRULE RULESFILE: spec.groups == groups."""
    pr_path, rules_path = args
    pr = [d for d in load_stream(pr_path) if d.get("kind") == "PrometheusRule"]
    rules = load_stream(rules_path)[0]
    if len(pr) != 1:
        fail("%s: expected exactly one PrometheusRule, found %d" % (pr_path, len(pr)))
        return
    a, b = (pr[0].get("spec") or {}).get("groups"), rules.get("groups")
    if a and a == b:
        n = sum(len(g.get("rules") or []) for g in a)
        ok("%s spec.groups == %s groups (%d groups, %d rules)" % (pr_path, rules_path, len(a), n))
        return
    fail("%s spec.groups differ from %s groups" % (pr_path, rules_path))
    ra = {r.get("alert") or r.get("record"): r for g in a or [] for r in g.get("rules") or []}
    rb = {r.get("alert") or r.get("record"): r for g in b or [] for r in g.get("rules") or []}
    for k in sorted(set(ra) | set(rb)):
        if ra.get(k) != rb.get(k):
            print("      differs: %s" % k)


def cmd_strip_annotations(args):
    """strip-annotations IN OUT: the rules without annotations (for promtool test rules)."""
    src, dst = args
    d = load_stream(src)[0]
    for g in d.get("groups") or []:
        for r in g.get("rules") or []:
            r.pop("annotations", None)
    with open(dst, "w", encoding="utf-8") as f:
        yaml.safe_dump(d, f, sort_keys=False)


def cmd_prom_config_without_k8s(args):
    """prom-config-without-k8s IN OUT: drop kubernetes_sd_configs (for promtool builds without
    Kubernetes discovery, such as Debian's); the jobs keep their relabeling, with a static
    target so the job remains valid."""
    src, dst = args
    d = load_stream(src)[0]
    for job in d.get("scrape_configs") or []:
        if job.pop("kubernetes_sd_configs", None) is not None:
            job.setdefault("static_configs", [{"targets": ["192.0.2.1:9901"]}])
    with open(dst, "w", encoding="utf-8") as f:
        yaml.safe_dump(d, f, sort_keys=False)


def dashboard_exprs(dash):
    """Every PromQL string of a dashboard: panel targets (rows included) and query variables."""
    out = []

    def panels(ps):
        for p in ps or []:
            for t in p.get("targets") or []:
                if t.get("expr"):
                    out.append(("panel %r" % p.get("title"), t["expr"]))
            panels(p.get("panels"))
    panels(dash.get("panels"))
    for v in (dash.get("templating") or {}).get("list") or []:
        if v.get("type") == "query":
            q = v.get("query")
            q = q.get("query") if isinstance(q, dict) else q
            if q:
                out.append(("variable %r" % v.get("name"), q))
    return out


def cmd_dashboard(args):
    """dashboard JSON RULES_OUT: structure checks; writes the panel queries as recording rules
    (Grafana variables replaced) so promtool can check their PromQL syntax."""
    path, rules_out = args
    with open(path, encoding="utf-8") as f:
        dash = json.load(f)
    variables = {v.get("name"): v for v in (dash.get("templating") or {}).get("list") or []}
    ds = [v for v in variables.values() if v.get("type") == "datasource" and v.get("query") == "prometheus"]
    if ds and "DS_PROMETHEUS" in variables:
        ok("%s: datasource variable DS_PROMETHEUS (prometheus)" % path)
    else:
        fail("%s: needs a prometheus datasource variable named DS_PROMETHEUS" % path)
    up = variables.get("upstream") or {}
    q = up.get("query")
    q = q.get("query") if isinstance(q, dict) else q
    if q and re.sub(r"\s", "", q) == "label_values(triaged_requests_total,upstream)":
        ok("%s: variable upstream = label_values(triaged_requests_total, upstream)" % path)
    else:
        fail("%s: needs variable upstream = label_values(triaged_requests_total, upstream), got %r" % (path, q))
    exprs = dashboard_exprs(dash)
    text = "\n".join(e for _, e in exprs)
    for want in ("triaged_requests_total", "triaged_failures_total", "triaged_retries_total",
                 "triaged_requests_in_flight", "triaged_upstream_connections",
                 "triaged_downstream_connections",
                 "histogram_quantile(0.99, sum by (le, upstream) (rate(triaged_request_duration_seconds_bucket",
                 "histogram_quantile(0.99, sum by (le, upstream) (rate(triaged_upstream_header_duration_seconds_bucket",
                 # the Fleet row: top causes across instances, and the blast radius
                 "namespace_upstream_cause:triaged_failures:rate5m",
                 "namespace_upstream_cause:triaged_instances_failing:ratio5m"):
        if want in text:
            ok("%s: a panel queries %s" % (path, want))
        else:
            fail("%s: no panel queries %s" % (path, want))
    rules = []
    for i, (where, e) in enumerate(exprs):
        if e.startswith("label_values("):
            continue
        e = e.replace("$__rate_interval", "5m").replace("$__interval", "1m").replace("$__range", "1h")
        e = re.sub(r"\$\{?([A-Za-z_][A-Za-z0-9_]*)\}?", ".*", e)
        rules.append({"record": "dashboard:query_%d" % i, "expr": e})
    with open(rules_out, "w", encoding="utf-8") as f:
        yaml.safe_dump({"groups": [{"name": "dashboard", "rules": rules}]}, f, sort_keys=False)


NAME_RE = re.compile(r"\b(?:triaged|process)_[a-z_]+")
# A recording rule's name (level:metric:operations): the only metric names with a colon.
RECORDED_RE = re.compile(r"\b[a-zA-Z_][a-zA-Z0-9_]*:[a-zA-Z0-9_:]*[a-zA-Z0-9_]")
SUFFIXES = ("_bucket", "_sum", "_count")


def base_name(n):
    for s in SUFFIXES:
        if n.endswith(s):
            return n[: -len(s)]
    return n


def cmd_metric_names(args):
    """metric-names NAMES_FILE FILE...: every metric name in the alert and recording rule
    expressions (rules files) and dashboard queries (JSON) is one that NAMES_FILE (a /metrics
    scrape, or a list) has, or a recording rule that a rules file among FILE... defines."""
    names_file, files = args[0], args[1:]
    with open(names_file, encoding="utf-8") as f:
        known = {base_name(n) for n in NAME_RE.findall(f.read())}
    if not known:
        fail("%s: no triaged_*/process_* names in it" % names_file)
        return
    by_file, recorded = {}, set()
    for path in files:
        if path.endswith(".json"):
            with open(path, encoding="utf-8") as f:
                by_file[path] = dashboard_exprs(json.load(f))
            continue
        exprs = []
        for d in load_stream(path):
            groups = d.get("groups") or (d.get("spec") or {}).get("groups") or []
            for g in groups:
                for r in g.get("rules") or []:
                    if r.get("record"):
                        recorded.add(r["record"])
                    exprs.append(("rule %s" % (r.get("alert") or r.get("record")), str(r.get("expr", ""))))
        by_file[path] = exprs
    for path, exprs in by_file.items():
        used, rules_used = {}, {}
        for where, e in exprs:
            for n in RECORDED_RE.findall(e):
                rules_used.setdefault(n, set()).add(where)
            for n in NAME_RE.findall(RECORDED_RE.sub(" ", e)):
                used.setdefault(base_name(n), set()).add(where)
        unknown = sorted(n for n in used if n not in known)
        undefined = sorted(n for n in rules_used if n not in recorded)
        if not exprs:
            fail("%s: no expressions found" % path)
            continue
        for n in unknown:
            fail("%s: %s (used by %s) is not exported by triaged (%s)"
                 % (path, n, ", ".join(sorted(used[n])), names_file))
        for n in undefined:
            fail("%s: %s (used by %s) is not a recording rule of %s"
                 % (path, n, ", ".join(sorted(rules_used[n])), " ".join(f for f in files if f != path)))
        if not unknown and not undefined:
            ok("%s: all %d metric names of %d expressions are in %s: %s%s"
               % (path, len(used), len(exprs), names_file, " ".join(sorted(used)),
                  "; recording rules used, all defined: " + " ".join(sorted(rules_used)) if rules_used else ""))


def main():
    cmds = {
        "objects": cmd_objects,
        "rules-equal": cmd_rules_equal,
        "strip-annotations": cmd_strip_annotations,
        "prom-config-without-k8s": cmd_prom_config_without_k8s,
        "dashboard": cmd_dashboard,
        "metric-names": cmd_metric_names,
    }
    if len(sys.argv) < 2 or sys.argv[1] not in cmds:
        print("usage: deploy_lib.py {%s} ARGS..." % "|".join(cmds))
        sys.exit(2)
    try:
        cmds[sys.argv[1]](sys.argv[2:])
    except (OSError, ValueError, KeyError, TypeError, yaml.YAMLError, json.JSONDecodeError) as e:
        fail("%s: %s: %s" % (sys.argv[1], type(e).__name__, e))
    sys.exit(1 if FAILED else 0)


if __name__ == "__main__":
    main()
