#!/usr/bin/env python3
"""deploy/k8s: the manifests parse, and their references agree (no cluster or kubeconform
here, so this checks what those would not: that the pieces fit together).

- kustomization.yaml lists every manifest, and only those;
- Deployment selectors match their pod labels; every Service selects a Deployment's pods and
  targets ports those pods declare; probes use declared ports;
- the indexer is one replica with the Recreate strategy; the servers probe gRPC health;
- every pod mounts the ReadWriteMany claim that exists;
- QUARRY_ADDRESS / QUARRY_METRICS_ADDRESS listen on the declared container ports, and the
  prometheus.io/port annotations name the metrics port;
- the ServiceMonitor selects Services that have its endpoint port.

Usage: check_k8s.py REPOSITORY_ROOT
"""
import glob
import os
import sys

import yaml

errors = []


def check(condition, message):
    if not condition:
        errors.append(message)


def container_ports(pod_spec):
    """name -> number and number -> number for every container port of a pod."""
    ports = {}
    for container in pod_spec["containers"]:
        for port in container.get("ports", []):
            ports[port["containerPort"]] = port["containerPort"]
            if "name" in port:
                ports[port["name"]] = port["containerPort"]
    return ports


def env_of(container):
    return {e["name"]: e.get("value") for e in container.get("env", [])}


def main():
    directory = os.path.join(sys.argv[1], "deploy", "k8s")
    files = sorted(os.path.basename(p) for p in glob.glob(os.path.join(directory, "*.yaml")))
    documents = {}
    for name in files:
        with open(os.path.join(directory, name)) as f:
            documents[name] = [d for d in yaml.safe_load_all(f) if d is not None]
    kustomization = documents.pop("kustomization.yaml")[0]
    check(sorted(kustomization["resources"]) == sorted(documents),
          "kustomization.yaml resources %s != manifests %s"
          % (sorted(kustomization["resources"]), sorted(documents)))

    objects = [d for docs in documents.values() for d in docs]
    by_kind = {}
    for obj in objects:
        by_kind.setdefault(obj["kind"], {})[obj["metadata"]["name"]] = obj

    claims = by_kind.get("PersistentVolumeClaim", {})
    deployments = by_kind.get("Deployment", {})
    services = by_kind.get("Service", {})
    check(set(deployments) == {"quarry-server", "quarry-indexer"},
          "expected Deployments quarry-server and quarry-indexer, got %s" % sorted(deployments))

    for name, deployment in deployments.items():
        spec = deployment["spec"]
        labels = spec["template"]["metadata"]["labels"]
        selector = spec["selector"]["matchLabels"]
        check(selector.items() <= labels.items(),
              "%s: selector %s does not match its pod labels %s" % (name, selector, labels))
        pod = spec["template"]["spec"]
        ports = container_ports(pod)
        for container in pod["containers"]:
            for probe_kind in ("readinessProbe", "livenessProbe", "startupProbe"):
                probe = container.get(probe_kind)
                if probe is None:
                    continue
                for handler in ("grpc", "httpGet", "tcpSocket"):
                    if handler in probe:
                        check(probe[handler]["port"] in ports,
                              "%s: %s port %r is not a container port" %
                              (name, probe_kind, probe[handler]["port"]))
            env = env_of(container)
            for variable, port_name in (("QUARRY_ADDRESS", "grpc"),
                                        ("QUARRY_METRICS_ADDRESS", "metrics")):
                if variable in env:
                    check(ports.get(port_name) == int(env[variable].rsplit(":", 1)[1]),
                          "%s: %s=%s but container port %r is %r"
                          % (name, variable, env[variable], port_name, ports.get(port_name)))
            check("QUARRY_METRICS_ADDRESS" in env, "%s: no QUARRY_METRICS_ADDRESS" % name)
            mounts = {m["name"]: m["mountPath"] for m in container.get("volumeMounts", [])}
            check(mounts.get("data") == env.get("QUARRY_DATA_DIR") == "/var/lib/quarry/data",
                  "%s: the data volume must be mounted at QUARRY_DATA_DIR" % name)
        for volume in pod.get("volumes", []):
            claim = volume.get("persistentVolumeClaim", {}).get("claimName")
            if claim is not None:
                check(claim in claims, "%s: claim %s does not exist" % (name, claim))
                check("ReadWriteMany" in claims.get(claim, {}).get("spec", {}).get("accessModes", []),
                      "%s: claim %s must be ReadWriteMany" % (name, claim))
        annotations = spec["template"]["metadata"].get("annotations", {})
        if annotations.get("prometheus.io/scrape") == "true":
            check(int(annotations.get("prometheus.io/port", 0)) == ports.get("metrics"),
                  "%s: prometheus.io/port is not the metrics port" % name)

    server = deployments["quarry-server"]["spec"]
    server_container = server["template"]["spec"]["containers"][0]
    check(server_container.get("readinessProbe", {}).get("grpc", {}).get("port") == 50051,
          "quarry-server: readiness must be the gRPC health probe on 50051")
    check("livenessProbe" in server_container, "quarry-server: no liveness probe")
    indexer = deployments["quarry-indexer"]["spec"]
    check(indexer.get("replicas") == 1, "quarry-indexer: must be a single replica")
    check(indexer.get("strategy", {}).get("type") == "Recreate",
          "quarry-indexer: strategy must be Recreate (never two indexers during a rollout)")

    for name, service in services.items():
        selector = service["spec"]["selector"]
        targets = [d for d in deployments.values()
                   if selector.items() <= d["spec"]["template"]["metadata"]["labels"].items()]
        check(len(targets) == 1, "Service %s selects %d Deployments" % (name, len(targets)))
        for target in targets:
            ports = container_ports(target["spec"]["template"]["spec"])
            for port in service["spec"]["ports"]:
                check(port.get("targetPort", port["port"]) in ports,
                      "Service %s: targetPort %r is not a port of %s"
                      % (name, port.get("targetPort"), target["metadata"]["name"]))
    check(services.get("quarry-server-headless", {}).get("spec", {}).get("clusterIP") == "None",
          "quarry-server-headless must be headless (clusterIP: None)")

    for name, monitor in by_kind.get("ServiceMonitor", {}).items():
        selector = monitor["spec"]["selector"]["matchLabels"]
        selected = [s for s in services.values()
                    if selector.items() <= s["metadata"].get("labels", {}).items()]
        check({s["metadata"]["name"] for s in selected} == {"quarry-server", "quarry-indexer"},
              "ServiceMonitor %s selects %s" % (name, [s["metadata"]["name"] for s in selected]))
        for endpoint in monitor["spec"]["endpoints"]:
            for service in selected:
                check(endpoint["port"] in [p["name"] for p in service["spec"]["ports"]],
                      "ServiceMonitor %s: Service %s has no port %s"
                      % (name, service["metadata"]["name"], endpoint["port"]))

    if errors:
        sys.stderr.write("deploy/k8s is inconsistent:\n  " + "\n  ".join(errors) + "\n")
        sys.exit(1)
    print("deploy/k8s: %d objects, references consistent" % len(objects))


if __name__ == "__main__":
    main()
