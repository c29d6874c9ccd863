"""The packaged components' objects as k3s v1.31.4's `manifests/` templates render them (coredns.yaml,
local-storage.yaml, metrics-server/, traefik.yaml) with the images of `release.py`, trimmed to the
kinds the stand-in serves. traefik.yaml is the HelmChart pair k3s writes (`traefik-crd`, `traefik`
with its `set` and `valuesContent`).

Example:
    coredns("10.43.0.10")[-1]["spec"]["clusterIP"]   # "10.43.0.10"
"""

from __future__ import annotations

from typing import Any

from k3s_standin import release

Obj = dict[str, Any]

CRITICAL_TOLERATIONS = [{"key": "CriticalAddonsOnly", "operator": "Exists"},
                        {"key": "node-role.kubernetes.io/control-plane", "operator": "Exists", "effect": "NoSchedule"},
                        {"key": "node-role.kubernetes.io/master", "operator": "Exists", "effect": "NoSchedule"}]
COREFILE = """.:53 {
    errors
    health
    ready
    kubernetes cluster.local in-addr.arpa ip6.arpa {
      pods insecure
      fallthrough in-addr.arpa ip6.arpa
    }
    hosts /etc/coredns/NodeHosts {
      ttl 60
      reload 15s
      fallthrough
    }
    prometheus :9153
    forward . /etc/resolv.conf
    cache 30
    loop
    reload
    loadbalance
    import /etc/coredns/custom/*.override
}
import /etc/coredns/custom/*.server
"""
TRAEFIK_VALUES = """deployment:
  podAnnotations:
    prometheus.io/port: "8082"
    prometheus.io/scrape: "true"
providers:
  kubernetesIngress:
    publishedService:
      enabled: true
priorityClassName: "system-cluster-critical"
image:
  repository: "{repository}"
  tag: "{tag}"
tolerations:
- key: "CriticalAddonsOnly"
  operator: "Exists"
- key: "node-role.kubernetes.io/control-plane"
  operator: "Exists"
  effect: "NoSchedule"
- key: "node-role.kubernetes.io/master"
  operator: "Exists"
  effect: "NoSchedule"
service:
  ipFamilyPolicy: "PreferDualStack"
"""
TRAEFIK_CHART_META = {"apiVersion": "v2", "name": "traefik", "version": release.TRAEFIK_CHART_VERSION,
                      "appVersion": "v2.11.0", "kubeVersion": ">=1.22.0-0", "type": "application",
                      "description": "A Traefik based Kubernetes ingress controller"}
TRAEFIK_CRD_CHART_META = {"apiVersion": "v2", "name": "traefik-crd", "version": release.TRAEFIK_CHART_VERSION,
                          "type": "application", "description": "Installs the CRDs for traefik."}
# The chart's values.yaml as far as the renderer reads it (traefik-helm-chart v27.0.2).
TRAEFIK_DEFAULTS = {"image": {"registry": "docker.io", "repository": "traefik", "tag": "", "pullPolicy": "IfNotPresent"},
                    "deployment": {"replicas": 1}, "service": {"type": "LoadBalancer"},
                    "ingressClass": {"enabled": True, "isDefaultClass": True},
                    "ports": {"traefik": {"port": 9000, "expose": False, "exposedPort": 9000, "protocol": "TCP"},
                              "web": {"port": 8000, "expose": True, "exposedPort": 80, "protocol": "TCP"},
                              "websecure": {"port": 8443, "expose": True, "exposedPort": 443, "protocol": "TCP",
                                            "tls": {"enabled": True}},
                              "metrics": {"port": 9100, "expose": False, "exposedPort": 9100, "protocol": "TCP"}}}


def split_image(image: str) -> tuple[str, str]:
    repository, _, tag = image.rpartition(":")
    return repository, tag


def deployment(name: str, labels: dict[str, str], account: str, container: Obj, **pod: Any) -> Obj:
    return {"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": name, "namespace": "kube-system", "labels": labels},
            "spec": {"selector": {"matchLabels": labels},
                     "template": {"metadata": {"labels": labels},
                                  "spec": {"priorityClassName": "system-node-critical", "serviceAccountName": account,
                                           "tolerations": CRITICAL_TOLERATIONS,
                                           "nodeSelector": {"kubernetes.io/os": "linux"},
                                           "containers": [container], **pod}}}}


def account(name: str) -> Obj:
    return {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": name, "namespace": "kube-system"}}


def coredns(dns: str) -> list[Obj]:
    labels = {"k8s-app": "kube-dns"}
    container = {"name": "coredns", "image": release.COREDNS_IMAGE, "imagePullPolicy": "IfNotPresent",
                 "args": ["-conf", "/etc/coredns/Corefile"],
                 "ports": [{"containerPort": 53, "name": "dns", "protocol": "UDP"},
                           {"containerPort": 53, "name": "dns-tcp", "protocol": "TCP"},
                           {"containerPort": 9153, "name": "metrics", "protocol": "TCP"}],
                 "livenessProbe": {"httpGet": {"path": "/health", "port": 8080, "scheme": "HTTP"},
                                   "initialDelaySeconds": 60, "periodSeconds": 10},
                 "readinessProbe": {"httpGet": {"path": "/ready", "port": 8181, "scheme": "HTTP"},
                                    "periodSeconds": 2}}
    return [account("coredns"),
            {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "coredns", "namespace": "kube-system"},
             "data": {"Corefile": COREFILE, "NodeHosts": ""}},
            deployment("coredns", labels, "coredns", container, dnsPolicy="Default"),
            {"apiVersion": "v1", "kind": "Service",
             "metadata": {"name": "kube-dns", "namespace": "kube-system",
                          "labels": dict(labels, **{"kubernetes.io/cluster-service": "true",
                                                    "kubernetes.io/name": "CoreDNS"}),
                          "annotations": {"prometheus.io/port": "9153", "prometheus.io/scrape": "true"}},
             "spec": {"selector": labels, "clusterIP": dns, "clusterIPs": [dns],
                      "ports": [{"name": "dns", "port": 53, "protocol": "UDP"},
                                {"name": "dns-tcp", "port": 53, "protocol": "TCP"},
                                {"name": "metrics", "port": 9153, "protocol": "TCP"}]}}]


def local_storage() -> list[Obj]:
    labels = {"app": "local-path-provisioner"}
    container = {"name": "local-path-provisioner", "image": release.LOCAL_PATH_IMAGE,
                 "imagePullPolicy": "IfNotPresent",
                 "command": ["local-path-provisioner", "start", "--config", "/etc/config/config.json"],
                 "env": [{"name": "POD_NAMESPACE", "valueFrom": {"fieldRef": {"fieldPath": "metadata.namespace"}}}]}
    return [account("local-path-provisioner-service-account"),
            deployment("local-path-provisioner", labels, "local-path-provisioner-service-account", container),
            {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "local-path-config", "namespace": "kube-system"},
             "data": {"config.json": '{"nodePathMap":[{"node":"DEFAULT_PATH_FOR_NON_LISTED_NODES",'
                                     '"paths":["/var/lib/rancher/k3s/storage"]}]}'}}]


def metrics_server_deployment() -> list[Obj]:
    labels = {"k8s-app": "metrics-server"}
    container = {"name": "metrics-server", "image": release.METRICS_SERVER_IMAGE, "imagePullPolicy": "IfNotPresent",
                 "args": ["--cert-dir=/tmp", "--secure-port=10250",
                          "--kubelet-preferred-address-types=InternalIP,ExternalIP,Hostname",
                          "--kubelet-use-node-status-port", "--metric-resolution=15s"],
                 "ports": [{"containerPort": 10250, "name": "https", "protocol": "TCP"}],
                 "readinessProbe": {"httpGet": {"path": "/readyz", "port": "https", "scheme": "HTTPS"},
                                    "periodSeconds": 2, "failureThreshold": 3, "initialDelaySeconds": 2}}
    return [account("metrics-server"),
            deployment("metrics-server", labels, "metrics-server", container)]


def metrics_server_service() -> list[Obj]:
    return [{"apiVersion": "v1", "kind": "Service",
             "metadata": {"name": "metrics-server", "namespace": "kube-system",
                          "labels": {"kubernetes.io/cluster-service": "true", "kubernetes.io/name": "Metrics-server"}},
             "spec": {"selector": {"k8s-app": "metrics-server"},
                      "ports": [{"port": 443, "name": "https", "protocol": "TCP", "targetPort": "https"}]}}]


def static_chart_url(file_name: str) -> str:
    return f"https://%{{KUBERNETES_API}}%/static/charts/{file_name}"


def traefik() -> list[Obj]:
    repository, tag = split_image(release.TRAEFIK_IMAGE)
    return [{"apiVersion": "helm.cattle.io/v1", "kind": "HelmChart",
             "metadata": {"name": "traefik-crd", "namespace": "kube-system"},
             "spec": {"chart": static_chart_url(release.TRAEFIK_CRD_CHART)}},
            {"apiVersion": "helm.cattle.io/v1", "kind": "HelmChart",
             "metadata": {"name": "traefik", "namespace": "kube-system"},
             "spec": {"chart": static_chart_url(release.TRAEFIK_CHART),
                      "set": {"global.systemDefaultRegistry": ""},
                      "valuesContent": TRAEFIK_VALUES.format(repository=repository, tag=tag)}}]
