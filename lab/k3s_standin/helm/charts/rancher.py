"""The Rancher chart (rancher/rancher `chart/templates` of 2.10: deployment.yaml, service.yaml,
ingress.yaml, issuer-rancher.yaml, issuer-letsEncrypt.yaml, secret.yaml, serviceAccount.yaml), trimmed
to the kinds the stand-in serves (no RBAC objects):

* Deployment `rancher` (`replicas`, default 3; rolling update maxSurge 1 and maxUnavailable 0 for one
  replica, else 1; pod anti-affinity on its own `app` label over `topologyKey` (default
  kubernetes.io/hostname), preferred with weight 100 or, with `antiAffinity: required`, required; node
  affinity `kubernetes.io/os NotIn [windows]`; image `rancherImage:rancherImageTag`, default tag the chart's appVersion;
  args `--http-listen-port=80 --https-listen-port=443 --add-local`, `--no-cacerts` with
  `tls: external`; ports http 80 / https 443; startup/readiness/liveness on `/healthz` port 80; with
  `privateCA: true` the `tls-ca` Secret mounted at /etc/rancher/ssl/cacerts.pem, so the pod waits for it),
* Service `rancher` 80 -> 80 (http), 443 -> 444 (https-internal),
* Ingress `rancher` for `hostname` (backend rancher:80; `tls` section with
  `ingress.tls.secretName`, default `tls-rancher-ingress`, unless `tls: external`; in `rancher` and
  `letsEncrypt` modes the `cert-manager.io/issuer: rancher` annotations),
* Issuer `rancher` (cert-manager.io/v1): CA issuer on `tls-rancher` in `rancher` mode, ACME in
  `letsEncrypt` mode, so without cert-manager's CRDs the install fails,
* Secret `bootstrap-secret` (bootstrapPassword), ServiceAccount `rancher`.

No PodDisruptionBudget: no released chart has one (2.10.1 up to the 2.15 tags; a pull request's
`templates/podDisruptionBudget.yaml`, rancher/rancher 936d223837, was never merged).

`CATTLE_SERVER_URL` is set from `hostname` for the stand-in's Rancher container, which names its
certificate after it (the real Rancher reads its server-url setting instead).

Example:
    chart = {"name": "rancher", "version": "2.10.1", "appVersion": "v2.10.1"}
    render(Release("rancher", "cattle-system", chart, {"hostname": "r.lab"}, "v1.31.4+k3s1"))
"""

from __future__ import annotations

import base64

from k3s_standin.helm.charts import Obj, Release, RenderError

LETS_ENCRYPT_SERVERS = {"production": "https://acme-v02.api.letsencrypt.org/directory",
                        "staging": "https://acme-staging-v02.api.letsencrypt.org/directory"}


def metadata(release: Release, name: str) -> Obj:
    """The chart's metadata: no namespace (helm installs into the release's)."""
    return {"name": name,
            "labels": {"app": release.name, "chart": release.chart_label, "heritage": "Helm",
                       "release": release.name}}


def probe(period: int, timeout: int, failures: int | None = None) -> Obj:
    result: Obj = {"httpGet": {"path": "/healthz", "port": 80}, "timeoutSeconds": timeout,
                   "periodSeconds": period}
    if failures is not None:
        result["failureThreshold"] = failures
    return result


def affinity(release: Release) -> Obj:
    """deployment.yaml's `affinity`: anti-affinity on the pods' `app` label, Linux nodes only
    (`_helpers.tpl` linux-node-selector-terms)."""
    values = release.values
    term = {"labelSelector": {"matchExpressions": [{"key": "app", "operator": "In", "values": [release.name]}]},
            "topologyKey": values.get("topologyKey") or "kubernetes.io/hostname"}
    if values.get("antiAffinity", "preferred") == "required":
        anti: Obj = {"requiredDuringSchedulingIgnoredDuringExecution": [term]}
    else:
        anti = {"preferredDuringSchedulingIgnoredDuringExecution": [{"weight": 100, "podAffinityTerm": term}]}
    return {"podAntiAffinity": anti,
            "nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [
                {"matchExpressions": [{"key": "kubernetes.io/os", "operator": "NotIn", "values": ["windows"]}]}]}}}


def deployment(release: Release, tls: str) -> Obj:
    values, name = release.values, release.name
    replicas = int(values.get("replicas", 3))
    image = f"{values.get('rancherImage') or 'rancher/rancher'}:{values.get('rancherImageTag') or release.app_version}"
    args = ["--http-listen-port=80", "--https-listen-port=443",
            f"--add-local={str(values.get('addLocal', 'true')).lower()}"]
    if tls == "external":
        args.append("--no-cacerts")
    env = [{"name": "CATTLE_NAMESPACE", "value": release.namespace},
           {"name": "CATTLE_PEER_SERVICE", "value": name},
           {"name": "CATTLE_BOOTSTRAP_PASSWORD",
            "valueFrom": {"secretKeyRef": {"name": "bootstrap-secret", "key": "bootstrapPassword"}}},
           {"name": "IMPERSONATION_SA_NAMESPACE", "value": "cattle-impersonation-system"}]
    if values.get("hostname"):
        env.append({"name": "CATTLE_SERVER_URL", "value": f"https://{values['hostname']}"})
    container: Obj = {
        "name": name, "image": image, "imagePullPolicy": values.get("rancherImagePullPolicy", "IfNotPresent"),
        "args": args, "env": env,
        "ports": [{"containerPort": 80, "protocol": "TCP"}],
        "startupProbe": probe(10, 5, int((values.get("startupProbe") or {}).get("failureThreshold", 12))),
        "livenessProbe": probe(30, 5, 5), "readinessProbe": probe(30, 5, 5)}
    pod: Obj = {"serviceAccountName": name, "priorityClassName": values.get("priorityClassName", "rancher-critical"),
                "affinity": affinity(release),
                "tolerations": [{"key": "cattle.io/os", "value": "linux", "effect": "NoSchedule",
                                 "operator": "Equal"}],
                "containers": [container]}
    if values.get("privateCA"):
        container["volumeMounts"] = [{"mountPath": "/etc/rancher/ssl/cacerts.pem", "name": "tls-ca-volume",
                                      "subPath": "cacerts.pem", "readOnly": True}]
        pod["volumes"] = [{"name": "tls-ca-volume", "secret": {"defaultMode": 0o400, "secretName": "tls-ca"}}]
    labels = {"app": name}
    meta = metadata(release, name)
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": meta,
            "spec": {"replicas": replicas, "selector": {"matchLabels": labels},
                     "strategy": {"type": "RollingUpdate",
                                  "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0 if replicas == 1 else 1}},
                     "template": {"metadata": {"labels": dict(labels, release=name)}, "spec": pod}}}


def ingress(release: Release, tls: str, source: str) -> Obj:
    values, name = release.values, release.name
    settings = values.get("ingress") or {}
    annotations: Obj = {}
    if tls == "external":
        annotations["nginx.ingress.kubernetes.io/ssl-redirect"] = "false"
    elif source != "secret":
        annotations.update({"cert-manager.io/issuer": name, "cert-manager.io/issuer-kind": "Issuer"})
    annotations.update(settings.get("extraAnnotations") or {})
    spec: Obj = {"rules": [{"host": values.get("hostname"), "http": {"paths": [{
        "backend": {"service": {"name": name, "port": {"number": int(settings.get("servicePort", 80))}}},
        "pathType": "ImplementationSpecific"}]}}]}
    if settings.get("ingressClassName"):
        spec["ingressClassName"] = settings["ingressClassName"]
    if tls == "ingress":
        spec["tls"] = [{"hosts": [values.get("hostname")],
                        "secretName": (settings.get("tls") or {}).get("secretName") or "tls-rancher-ingress"}]
    return {"apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
            "metadata": dict(metadata(release, name), annotations=annotations), "spec": spec}


def issuer(release: Release, source: str) -> Obj | None:
    values = release.values
    if source == "rancher":
        spec: Obj = {"ca": {"secretName": "tls-rancher"}}
    elif source == "letsEncrypt":
        acme = values.get("letsEncrypt") or {}
        environment = acme.get("environment", "production")
        spec = {"acme": {"server": LETS_ENCRYPT_SERVERS.get(environment, environment),
                         "email": acme.get("email", ""),
                         "privateKeySecretRef": {"name": f"letsencrypt-{environment}"},
                         "solvers": [{"http01": {"ingress": {"class": (acme.get("ingress") or {}).get("class", "")}}}]}}
    else:
        return None
    meta = metadata(release, release.name)
    meta["labels"]["app"] = release.name
    return {"apiVersion": "cert-manager.io/v1", "kind": "Issuer", "metadata": meta, "spec": spec}


def render(release: Release) -> list[Obj]:
    values, name = release.values, release.name
    if not values.get("hostname"):
        raise RenderError('execution error at (rancher/templates/ingress.yaml): A valid .Values.hostname is required')
    if int(values.get("replicas", 3)) < 1 and values.get("replicas") != -1:
        raise RenderError(f"replicas must be >= 1, got {values.get('replicas')}")
    tls = str(values.get("tls", "ingress"))
    source = str(((values.get("ingress") or {}).get("tls") or {}).get("source", "rancher"))
    password = str(values.get("bootstrapPassword") or "")
    objects: list[Obj] = [
        {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": metadata(release, name)},
        {"apiVersion": "v1", "kind": "Secret", "type": "Opaque",
         "metadata": metadata(release, "bootstrap-secret"),
         "data": {"bootstrapPassword": base64.b64encode(password.encode()).decode()}},
        {"apiVersion": "v1", "kind": "Service", "metadata": metadata(release, name),
         "spec": {"selector": {"app": name},
                  "ports": [{"name": "http", "port": 80, "targetPort": 80, "protocol": "TCP"},
                            {"name": "https-internal", "port": 443, "targetPort": 444, "protocol": "TCP"}]}},
        deployment(release, tls),
    ]
    if (values.get("ingress") or {}).get("enabled", True):
        objects.append(ingress(release, tls, source))
    found = issuer(release, source) if tls == "ingress" else None
    if found:
        objects.append(found)
    return objects
