"""k3s's packaged `traefik` chart (traefik/traefik-helm-chart v27.0.2 as k3s-charts packages it,
27.0.201+up27.0.2: templates/deployment.yaml, _podtemplate.tpl, service.yaml, ingressclass.yaml),
trimmed to what the stand-in runs: Deployment `traefik` (container `traefik`, ports `traefik` 9000,
`web` 8000, `websecure` 8443, `metrics` 9100; the chart's `--entryPoints.*` arguments, with
`forwardedHeaders.trustedIPs` and `proxyProtocol.trustedIPs` of `ports.<name>`; readiness on /ping),
Service `traefik` of `service.type` (LoadBalancer) with the exposed ports (web 80, websecure 443),
IngressClass `traefik`, the default class.

Example:
    render(Release("traefik", "kube-system", {"name": "traefik", "version": "27.0.201+up27.0.2"}, values, "v1.31.4+k3s1"))
"""

from __future__ import annotations

from typing import Any

from k3s_standin.helm.charts import Obj, Release

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


def render(release: Release) -> list[Obj]:
    values, namespace = release.values, release.namespace
    labels = {"app.kubernetes.io/name": "traefik", "app.kubernetes.io/instance": f"{release.name}-{namespace}"}
    meta_labels = dict(labels, **{"helm.sh/chart": release.chart_label})
    image = values.get("image") or {}
    registry = ((values.get("global") or {}).get("systemDefaultRegistry") or image.get("registry") or "")
    reference = "/".join(part for part in (registry, image.get("repository", "traefik")) if part)
    ports = ports_of(values)
    args = ["--global.checknewversion", "--global.sendanonymoususage", *entrypoint_args(ports),
            "--api.dashboard=true", "--ping=true", "--metrics.prometheus=true",
            "--metrics.prometheus.entrypoint=metrics", "--providers.kubernetescrd",
            "--providers.kubernetesingress",
            f"--providers.kubernetesingress.ingressendpoint.publishedservice={namespace}/{release.name}",
            *[str(arg) for arg in values.get("additionalArguments") or []]]
    deployment_values = values.get("deployment") or {}
    pod_spec: Obj = {
        "serviceAccountName": release.name, "terminationGracePeriodSeconds": 60,
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
    for key in ("priorityClassName", "tolerations", "nodeSelector", "hostNetwork", "dnsPolicy"):
        if values.get(key) not in (None, "", [], {}):
            pod_spec[key] = values[key]
    deployment = {
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": release.name, "namespace": namespace, "labels": meta_labels},
        "spec": {"replicas": int(deployment_values.get("replicas", 1)), "selector": {"matchLabels": labels},
                 "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}},
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
    ingress_class = values.get("ingressClass") or {"enabled": True, "isDefaultClass": True}
    if ingress_class.get("enabled", True):
        objects.append({"apiVersion": "networking.k8s.io/v1", "kind": "IngressClass",
                        "metadata": {"name": ingress_class.get("name") or release.name, "labels": meta_labels,
                                     "annotations": {"ingressclass.kubernetes.io/is-default-class":
                                                     str(bool(ingress_class.get("isDefaultClass", True))).lower()}},
                        "spec": {"controller": "traefik.io/ingress-controller"}})
    return objects
