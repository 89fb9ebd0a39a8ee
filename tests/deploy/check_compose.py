#!/usr/bin/env python3
"""docker-compose.yml: valid for Debian's docker-compose (`config -q`, with and without the llm
profile), and consistent with the files and ports it wires together: every bind-mounted file
exists, Prometheus's scrape targets are the compose services on the ports they serve metrics
on, Grafana's datasource points at the Prometheus service and its dashboards are mounted where
the provisioning config looks.

Usage: check_compose.py REPOSITORY_ROOT
"""
import os
import subprocess
import sys

import yaml


def fail(message):
    sys.stderr.write("check_compose: %s\n" % message)
    sys.exit(1)


def port_of(address):
    return address.rsplit(":", 1)[1]


def main():
    root = sys.argv[1]
    compose_path = os.path.join(root, "docker-compose.yml")
    for profile in ([], ["--profile", "llm"]):
        result = subprocess.run(["docker-compose", "-f", compose_path] + profile + ["config", "-q"],
                                capture_output=True, text=True,
                                env=dict(os.environ, QUARRY_LLM_BASE_URL="", QUARRY_LLM_MODEL=""))
        if result.returncode != 0:
            fail("docker-compose %s config -q: %s" % (" ".join(profile), result.stderr))

    with open(compose_path) as f:
        compose = yaml.safe_load(f)
    services = compose["services"]

    mounts = {}  # container path -> host path, per service
    for name, service in services.items():
        for volume in service.get("volumes", []):
            source, target = volume.split(":")[:2]
            if source.startswith("./"):
                host = os.path.join(root, source[2:])
                if not os.path.exists(host):
                    fail("%s mounts %s, which does not exist" % (name, source))
                mounts[(name, target)] = host
            elif source not in compose.get("volumes", {}):
                fail("%s uses volume %s, not declared" % (name, source))

    # The two Quarry processes share the data volume.
    def data_volume(name):
        return [v for v in services[name]["volumes"] if v.endswith(":/var/lib/quarry/data")]
    if not data_volume("quarry-server") or data_volume("quarry-server") != data_volume("quarry-indexer"):
        fail("quarry-server and quarry-indexer must mount the same volume at /var/lib/quarry/data")

    # Prometheus scrapes each Quarry service on the port it serves metrics on.
    prometheus_config = mounts.get(("prometheus", "/etc/prometheus/prometheus.yml"))
    if prometheus_config is None:
        fail("prometheus does not mount deploy/prometheus/prometheus.yml")
    with open(prometheus_config) as f:
        scrape = yaml.safe_load(f)
    targets = {}
    for job in scrape["scrape_configs"]:
        for static in job["static_configs"]:
            for target in static["targets"]:
                host, port = target.rsplit(":", 1)
                targets[host] = port
    for name in ("quarry-server", "quarry-indexer"):
        if name not in targets:
            fail("prometheus.yml does not scrape %s" % name)
        service = services[name]
        address = service["environment"].get("QUARRY_METRICS_ADDRESS", "")
        if port_of(address) != targets[name]:
            fail("%s serves metrics on %r but Prometheus scrapes port %s"
                 % (name, address, targets[name]))
        if targets[name] not in [str(p) for p in service.get("expose", [])]:
            fail("%s does not expose its metrics port %s" % (name, targets[name]))
    for host in targets:
        if host not in services:
            fail("prometheus.yml scrapes %s, which is not a compose service" % host)

    # Grafana: datasource -> the prometheus service; dashboards where the provider looks.
    provisioning = mounts.get(("grafana", "/etc/grafana/provisioning"))
    if provisioning is None:
        fail("grafana does not mount deploy/grafana/provisioning")
    with open(os.path.join(provisioning, "datasources", "prometheus.yml")) as f:
        datasource = yaml.safe_load(f)["datasources"][0]
    if datasource["url"] != "http://prometheus:9090" or "9090:9090" not in services["prometheus"]["ports"]:
        fail("grafana's datasource must point at the prometheus service on 9090")
    with open(os.path.join(provisioning, "dashboards", "quarry.yml")) as f:
        provider = yaml.safe_load(f)["providers"][0]
    dashboards = mounts.get(("grafana", provider["options"]["path"]))
    if dashboards is None or not os.path.exists(os.path.join(dashboards, "quarry.json")):
        fail("grafana's dashboard provider path is not where deploy/grafana/dashboards is mounted")

    # The optional LLM server sits behind the llm profile and speaks OpenAI's API on 11434.
    if services.get("ollama", {}).get("profiles") != ["llm"]:
        fail("the ollama service must be in the llm profile")
    if "QUARRY_LLM_BASE_URL" not in services["quarry-server"]["environment"]:
        fail("quarry-server must take QUARRY_LLM_BASE_URL from the environment")
    print("docker-compose.yml: valid and consistent (%d services)" % len(services))


if __name__ == "__main__":
    main()
