"""k3s's packaged `traefik` chart (traefik/traefik-helm-chart traefik/templates/deployment.yaml,
_podtemplate.tpl, service.yaml, ingressclass.yaml, poddisruptionbudget.yaml at v27.0.2, as
k3s-io/k3s-charts packages/traefik/package.yaml packages it, 27.0.201+up27.0.2), trimmed to what the stand-in runs: Deployment `traefik`
(`deployment.replicas`, default 1, more than one refused with an ACME argument; `updateStrategy`,
default RollingUpdate maxUnavailable 0 / maxSurge 1; container `traefik`, ports `traefik` 9000,
`web` 8000, `websecure` 8443, `metrics` 9100; the chart's `--entryPoints.*` arguments, with
`forwardedHeaders.trustedIPs` and `proxyProtocol.trustedIPs` of `ports.<name>`; readiness on /ping;
`deployment.terminationGracePeriodSeconds`, default 60; `affinity` and `topologySpreadConstraints`
as given: the chart passes them through `tpl`, the stand-in takes them literally),
Service `traefik` of `service.type` (LoadBalancer) with the exposed ports (web 80, websecure 443),
IngressClass `traefik`, the default class, and with `podDisruptionBudget.enabled` a policy/v1
PodDisruptionBudget `traefik` over the pods' selector labels with `minAvailable` and/or
`maxUnavailable` (each only when set and not 0: the template's `if`).

Example:
    render(Release("traefik", "kube-system", {"name": "traefik", "version": "27.0.201+up27.0.2"}, values, "v1.31.4+k3s1"))
"""

from __future__ import annotations

from typing import Any

from k3s_standin.helm.charts import Obj, Release, RenderError

DEFAULT_PORTS: dict[str, Obj] = {
    "traefik": {"port": 9000, "expose": False, "exposedPort": 9000, "protocol": "TCP"},
    "web": {"port": 8000, "expose": True, "exposedPort": 80, "protocol": "TCP"},
    "websecure": {"port": 8443, "expose": True, "exposedPort": 443, "protocol": "TCP",
                  "tls": {"enabled": True}},
    "metrics": {"port": 9100, "expose": False, "exposedPort": 9100, "protocol": "TCP"},
}


def ports_of(values: Obj) -> dict[str, Obj]:
    configured = values.get("ports") or {}
    return {name: dict(DEFAULT_PORTS.get(name, {}), **(configured.get(name) or {}))
            for name in dict.fromkeys([*DEFAULT_PORTS, *configured]) if configured.get(name, {}) is not None}


def entrypoint_args(ports: dict[str, Obj]) -> list[str]:
    """`_podtemplate.tpl`'s arguments per entry point."""
    args = []
    for name, port in ports.items():
        args.append(f"--entryPoints.{name}.address=:{port['port']}/{str(port.get('protocol', 'TCP')).lower()}")
    for name, port in ports.items():
        for option in ("forwardedHeaders", "proxyProtocol"):
            trusted = (port.get(option) or {}).get("trustedIPs")
            if trusted:
                args.append(f"--entryPoints.{name}.{option}.trustedIPs={','.join(trusted)}")
            if (port.get(option) or {}).get("insecure"):
                args.append(f"--entryPoints.{name}.{option}.insecure")
        if (port.get("tls") or {}).get("enabled"):
            args.append(f"--entrypoints.{name}.http.tls=true")
    return args


DEFAULT_STRATEGY = {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 0, "maxSurge": 1}}


def disruption_budget(release: Release, selector: dict[str, str], labels: dict[str, str]) -> Obj | None:
    """poddisruptionbudget.yaml, when `podDisruptionBudget.enabled`."""
    settings = release.values.get("podDisruptionBudget") or {}
    if not settings.get("enabled"):
        return None
    spec: Obj = {"selector": {"matchLabels": dict(selector)}}
    for key in ("minAvailable", "maxUnavailable"):
        if settings.get(key):
            spec[key] = settings[key]
    return {"apiVersion": "policy/v1", "kind": "PodDisruptionBudget",
            "metadata": {"name": release.name, "namespace": release.namespace, "labels": labels}, "spec": spec}


def replicas_of(values: Obj) -> int:
    """`default 1 .Values.deployment.replicas`, refused above one with ACME (deployment.yaml's `fail`)."""
    replicas = int((values.get("deployment") or {}).get("replicas") or 1)
    if replicas > 1 and any(".acme." in str(arg) for arg in values.get("additionalArguments") or []):
        raise RenderError("execution error at (traefik/templates/deployment.yaml): "
                          "You can not enable acme if you set more than one traefik replica")
    return replicas


def render(release: Release) -> list[Obj]:
    values, namespace = release.values, release.namespace
    labels = {"app.kubernetes.io/name": "traefik", "app.kubernetes.io/instance": f"{release.name}-{namespace}"}
    meta_labels = dict(labels, **{"helm.sh/chart": release.chart_label})
    image = values.get("image") or {}
    registry = ((values.get("global") or {}).get("systemDefaultRegistry") or image.get("registry") or "")
    reference = "/".join(part for part in (registry, image.get("repository", "traefik")) if part)
    ports = ports_of(values)
    deployment_values = values.get("deployment") or {}
    args = ["--global.checknewversion", "--global.sendanonymoususage", *entrypoint_args(ports),
            "--api.dashboard=true", "--ping=true", "--metrics.prometheus=true",
            "--metrics.prometheus.entrypoint=metrics", "--providers.kubernetescrd",
            "--providers.kubernetesingress",
            f"--providers.kubernetesingress.ingressendpoint.publishedservice={namespace}/{release.name}",
            *[str(arg) for arg in values.get("additionalArguments") or []]]
    pod_spec: Obj = {
        "serviceAccountName": release.name,
        "terminationGracePeriodSeconds": int(deployment_values.get("terminationGracePeriodSeconds") or 60),
        "containers": [{
            "name": "traefik", "image": f"{reference}:{image.get('tag') or release.app_version}",
            "imagePullPolicy": image.get("pullPolicy", "IfNotPresent"), "args": args,
            "ports": [{"name": name, "containerPort": int(port["port"]), "protocol": port.get("protocol", "TCP")}
                      for name, port in ports.items()],
            "readinessProbe": {"httpGet": {"path": "/ping", "port": int(ports["traefik"]["port"]),
                                           "scheme": "HTTP"},
                               "initialDelaySeconds": 2, "periodSeconds": 10, "failureThreshold": 1},
            "livenessProbe": {"httpGet": {"path": "/ping", "port": int(ports["traefik"]["port"]),
                                          "scheme": "HTTP"},
                              "initialDelaySeconds": 2, "periodSeconds": 10, "failureThreshold": 3}}],
    }
    for key in ("priorityClassName", "tolerations", "nodeSelector", "hostNetwork", "dnsPolicy", "affinity",
                "topologySpreadConstraints"):
        if values.get(key) not in (None, "", [], {}):
            pod_spec[key] = values[key]
    deployment = {
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": release.name, "namespace": namespace, "labels": meta_labels},
        "spec": {"replicas": replicas_of(values), "selector": {"matchLabels": labels},
                 "strategy": values.get("updateStrategy") or DEFAULT_STRATEGY,
                 "template": {"metadata": {"labels": meta_labels,
                                           "annotations": dict(deployment_values.get("podAnnotations") or {})},
                              "spec": pod_spec}}}
    service_values = values.get("service") or {}
    service_spec: Obj = {
        "type": service_values.get("type", "LoadBalancer"), "selector": labels,
        "ports": [{"name": name, "port": int(port["exposedPort"]), "targetPort": name,
                   "protocol": port.get("protocol", "TCP")} for name, port in ports.items() if port.get("expose")]}
    if service_values.get("ipFamilyPolicy"):
        service_spec["ipFamilyPolicy"] = service_values["ipFamilyPolicy"]
    service = {"apiVersion": "v1", "kind": "Service",
               "metadata": {"name": release.name, "namespace": namespace, "labels": meta_labels,
                            "annotations": dict(service_values.get("annotations") or {})},
               "spec": service_spec}
    account = {"apiVersion": "v1", "kind": "ServiceAccount",
               "metadata": {"name": release.name, "namespace": namespace, "labels": meta_labels}}
    objects: list[Any] = [account, service, deployment]
    budget = disruption_budget(release, labels, meta_labels)
    if budget is not None:
        objects.append(budget)
    ingress_class = values.get("ingressClass") or {"enabled": True, "isDefaultClass": True}
    if ingress_class.get("enabled", True):
        objects.append({"apiVersion": "networking.k8s.io/v1", "kind": "IngressClass",
                        "metadata": {"name": ingress_class.get("name") or release.name, "labels": meta_labels,
                                     "annotations": {"ingressclass.kubernetes.io/is-default-class":
                                                     str(bool(ingress_class.get("isDefaultClass", True))).lower()}},
                        "spec": {"controller": "traefik.io/ingress-controller"}})
    return objects
