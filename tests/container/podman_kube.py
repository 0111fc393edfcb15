#!/usr/bin/env python3
"""Turns the rendered sidecar manifests (kubectl kustomize deploy/kubernetes/sidecar) into what
podman 4.3's `play kube` can run here, changing only what it must, and says what it changed.

usage: podman_kube.py RENDERED.yaml|KUSTOMIZATION_DIR OUT.yaml TRIAGED_IMAGE APP_IMAGE APP_ARGS...

Given a directory instead (no kubectl here: Debian 12 packages neither kubectl nor kustomize),
its kustomization.yaml is rendered the simple way it is written: the resources, plus one
ConfigMap per configMapGenerator entry, without kustomize's content-hash suffix.

Kept as rendered: the ConfigMap (triaged.toml) and its volume mount, the triaged container's
args, probes, security context, resources and terminationGracePeriodSeconds.
Changed:
- one replica (podman runs one pod per Deployment replica, named <deployment>-pod-<n>);
- the images: triaged's is the image just built; the app placeholder becomes APP_IMAGE (a test
  upstream) with APP_ARGS, without the app's env, probe and preStop (it has no shell);
- containerPort lists are dropped: podman 4.3 publishes every containerPort on the host as if it
  were a hostPort, which needs a bridge network; the test runs the pod with --network none (its
  own loopback only). Probes that name a port by name get its number;
- the Service is dropped (podman does not implement Services).
"""

import os
import sys

import yaml


def render(directory):
    """resources + configMapGenerator (files, options.labels) of DIR/kustomization.yaml."""
    k = yaml.safe_load(open(os.path.join(directory, "kustomization.yaml")))
    docs = []
    for gen in k.get("configMapGenerator") or []:
        data = {}
        for f in gen.get("files") or []:
            key, _, path = f.rpartition("=") if "=" in f else (os.path.basename(f), "", f)
            data[key] = open(os.path.join(directory, path)).read()
        labels = (gen.get("options") or {}).get("labels") or {}
        docs.append({"apiVersion": "v1", "kind": "ConfigMap",
                     "metadata": {"name": gen["name"], "labels": labels}, "data": data})
    for r in k.get("resources") or []:
        docs += [d for d in yaml.safe_load_all(open(os.path.join(directory, r))) if d]
    return docs


def main(argv):
    if len(argv) < 5:
        print(__doc__.strip().splitlines()[2], file=sys.stderr)
        return 2
    rendered, out, triaged_image, app_image, app_args = argv[1], argv[2], argv[3], argv[4], argv[5:]
    if os.path.isdir(rendered):
        docs = render(rendered)
    else:
        docs = [d for d in yaml.safe_load_all(open(rendered)) if d]
    kept = []
    for doc in docs:
        kind = doc.get("kind")
        if kind == "Service":
            print("podman_kube: dropped Service %s" % doc["metadata"]["name"])
            continue
        if kind == "Deployment":
            doc["spec"]["replicas"] = 1
            for c in doc["spec"]["template"]["spec"]["containers"]:
                ports = {p["name"]: p["containerPort"] for p in c.pop("ports", []) if "name" in p}
                for probe in ("livenessProbe", "readinessProbe", "startupProbe"):
                    get = (c.get(probe) or {}).get("httpGet")
                    if get and get.get("port") in ports:
                        get["port"] = ports[get["port"]]
                if c["name"] == "triaged":
                    c["image"] = triaged_image
                else:
                    c["image"] = app_image
                    c["args"] = app_args
                    for key in ("env", "readinessProbe", "livenessProbe", "lifecycle"):
                        c.pop(key, None)
                print("podman_kube: container %s: image %s, containerPorts dropped"
                      % (c["name"], c["image"]))
        kept.append(doc)
    with open(out, "w") as f:
        yaml.safe_dump_all(kept, f, sort_keys=False)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
