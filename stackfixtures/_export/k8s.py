"""`stack export k8s`: Deployments or StatefulSets and Services, with probes, stop policy and
start order (init containers that wait for each dependency's Service)."""

from __future__ import annotations

import math
import re
from typing import Any

from .._define.container import Container, ContainerProbe
from .._engine.probes.registry import k8s_action
from .._project import Project
from .containers import containers

WAIT_IMAGE = "busybox:1.36"


def k8s_name(name: str) -> str:
    """A DNS-1123 name: lower case, dashes for underscores."""
    return re.sub(r"[^a-z0-9-]", "-", name.lower()).strip("-")[:63] or "service"


def _probe(p: ContainerProbe) -> dict[str, Any]:
    return {
        **k8s_action(p),
        "periodSeconds": max(1, math.ceil(p.period)),
        "timeoutSeconds": max(1, math.ceil(p.timeout)),
        "failureThreshold": p.failures,
    }


def _pre_stop(c: Container) -> dict[str, Any]:
    """Kubernetes always sends SIGTERM; a service stopped by another signal gets it first."""
    if c.stop.signal.name != "SIGTERM":
        sig = c.stop.signal.name.removeprefix("SIG")
        return {"exec": {"command": ["sh", "-c", f"kill -{sig} 1; sleep {int(c.stop.grace)}"]}}
    return {"exec": {"command": ["sh", "-c", "sleep 1"]}}  # let endpoints drop it first


def objects(proj: Project) -> dict[str, list[dict[str, Any]]]:
    """Per service, its Kubernetes objects (Service and Deployment or StatefulSet)."""
    items = containers(proj, namer=k8s_name)
    ports = {c.name: c.port for c in items}
    out: dict[str, list[dict[str, Any]]] = {}
    for c in items:
        name = k8s_name(c.name)
        labels = {"app.kubernetes.io/name": name, "app.kubernetes.io/part-of": k8s_name(proj.label)}
        container: dict[str, Any] = {"name": name, "image": c.image}
        if c.entrypoint:
            container["command"] = c.entrypoint
        if c.command:
            container["args"] = c.command
        if c.workdir:
            container["workingDir"] = c.workdir
        if c.env:
            container["env"] = [{"name": k, "value": v} for k, v in c.env.items()]
        if c.port:
            container["ports"] = [{"containerPort": c.port, "name": "main"}]
        if c.ready is not None:
            container["readinessProbe"] = _probe(c.ready)
        live = c.live or c.ready
        if live is not None:
            container["livenessProbe"] = {
                **_probe(live),
                "initialDelaySeconds": max(1, math.ceil(c.start_period)),
            }
        container["lifecycle"] = {"preStop": _pre_stop(c)}
        waits = [
            {
                "name": f"wait-for-{k8s_name(dep)}"[:63],
                "image": WAIT_IMAGE,
                "command": [
                    "sh",
                    "-c",
                    f"until nc -z {k8s_name(dep)} {ports[dep]}; do "
                    f"echo waiting for {k8s_name(dep)}; sleep 1; done",
                ],
            }
            for dep, _edge in c.depends_on
            if ports.get(dep)
        ]
        pod: dict[str, Any] = {
            "terminationGracePeriodSeconds": max(1, math.ceil(c.stop.grace)),
            "containers": [container],
        }
        if waits:
            pod["initContainers"] = waits
        spec: dict[str, Any] = {
            "replicas": c.replicas,
            "selector": {"matchLabels": {"app.kubernetes.io/name": name}},
            "template": {"metadata": {"labels": dict(labels)}, "spec": pod},
        }
        if c.volume:
            container["volumeMounts"] = [{"name": "data", "mountPath": c.volume}]
            spec["serviceName"] = name
            spec["volumeClaimTemplates"] = [
                {
                    "metadata": {"name": "data"},
                    "spec": {
                        "accessModes": ["ReadWriteOnce"],
                        "resources": {"requests": {"storage": "1Gi"}},
                    },
                }
            ]
            kind = "StatefulSet"
        else:
            kind = "Deployment"
        docs: list[dict[str, Any]] = []
        if c.port:
            docs.append(
                {
                    "apiVersion": "v1",
                    "kind": "Service",
                    "metadata": {"name": name, "labels": dict(labels)},
                    "spec": {
                        "selector": {"app.kubernetes.io/name": name},
                        "ports": [{"name": "main", "port": c.port, "targetPort": c.port}],
                    },
                }
            )
        docs.append(
            {
                "apiVersion": "apps/v1",
                "kind": kind,
                "metadata": {"name": name, "labels": dict(labels)},
                "spec": spec,
            }
        )
        out[name] = docs
    return out
