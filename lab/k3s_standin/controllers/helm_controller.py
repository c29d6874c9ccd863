"""helm-controller as k3s v1.31.4 ships it (k3s-io/helm-controller v0.16.5,
pkg/controllers/chart/chart.go): each `helm.cattle.io/v1` HelmChart gets, owned by it,

* Secret `chart-values-<name>` (`values-01_HelmChart.yaml` = valuesContent, and
  `values-10_HelmChartConfig.yaml` = the valuesContent of the HelmChartConfig of the same name),
* ConfigMap `chart-content-<name>` (`<name>.tgz.base64` = chartContent),
* ServiceAccount `helm-<name>` (its ClusterRoleBinding is left out: the stand-in serves no RBAC),
* Job `helm-install-<name>`: klipper-helm image, args `install [--namespace T] [--create-namespace]
  [--version V] [--set k=v]...`, env NAME/VERSION/REPO/HELM_DRIVER/CHART_NAMESPACE/CHART/HELM_VERSION/
  TARGET_NAMESPACE/AUTH_PASS_CREDENTIALS/INSECURE_SKIP_TLS_VERIFY/PLAIN_HTTP/FAILURE_POLICY,
  backoffLimit 1000, restartPolicy OnFailure, the Secret at /config and the ConfigMap at /chart,
  the pod template annotated `helmcharts.helm.cattle.io/configHash` (SHA256 of their data). A changed
  Job (spec, values, config) is deleted and created again (the controller's jobPatcher).

Status: `jobName` and conditions JobCreated=True ("Job created", "Applying HelmChart using Job
<ns>/<job>") and Failed=False; an ApplyJob event. The install itself runs in the Job's pod
(`k3s_standin.helm.job`). A HelmChart being deleted (finalizer `wrangler.cattle.io/on-helm-chart-remove`)
gets Job `helm-delete-<name>` (args `delete`); once it succeeded, a RemoveJob event, the chart's
objects are removed and the finalizer released.

Example:
    HelmController(api).reconcile()
"""

from __future__ import annotations

import base64
import copy
import hashlib
from typing import Any

from k3s_standin.client import Client, path
from k3s_standin.controllers import conditions, events, log, names
from k3s_standin.controllers.job import delete_with_pods
from k3s_standin.release import HELM_JOB_IMAGE

Obj = dict[str, Any]

API = "helm.cattle.io/v1"
CONFIG_HASH = "helmcharts.helm.cattle.io/configHash"
CHART_LABEL = "helmcharts.helm.cattle.io/chart"
FINALIZER = "wrangler.cattle.io/on-helm-chart-remove"
COMPONENT = "helm-controller"
BACKOFF_LIMIT = 1000


def target_namespace(chart: Obj) -> str:
    return (chart.get("spec") or {}).get("targetNamespace") or chart["metadata"]["namespace"]


def typed(value: Any) -> bool:
    """helm-controller's `typedVal`: ints, booleans and null go through --set, the rest --set-string."""
    return isinstance(value, (bool, int)) or str(value).lower() in ("true", "false", "null")


def args(chart: Obj) -> list[str]:
    if chart["metadata"].get("deletionTimestamp"):
        return ["delete"]
    spec = chart.get("spec") or {}
    result = ["install"]
    if spec.get("targetNamespace"):
        result += ["--namespace", spec["targetNamespace"]]
    if spec.get("createNamespace"):
        result.append("--create-namespace")
    if spec.get("version"):
        result += ["--version", str(spec["version"])]
    for key in sorted(spec.get("set") or {}):
        value = spec["set"][key]
        text = str(value).lower() if isinstance(value, bool) else str(value)
        result += ["--set", f"{key}={text}"] if typed(value) else ["--set-string", f"{key}={text.replace(',', chr(92) + ',')}"]
    return result


def values_secret(chart: Obj, config: Obj | None) -> Obj:
    spec, meta = chart.get("spec") or {}, chart["metadata"]
    data = {}
    if spec.get("valuesContent"):
        data["values-01_HelmChart.yaml"] = spec["valuesContent"]
    if spec.get("repoCA"):
        data["ca-file.pem"] = spec["repoCA"]
    if config and (config.get("spec") or {}).get("valuesContent"):
        data["values-10_HelmChartConfig.yaml"] = config["spec"]["valuesContent"]
    return {"apiVersion": "v1", "kind": "Secret", "type": "Opaque",
            "metadata": {"name": f"chart-values-{meta['name']}", "namespace": meta["namespace"]},
            "data": {key: base64.b64encode(value.encode()).decode() for key, value in data.items()}}


def content_config_map(chart: Obj) -> Obj:
    spec, meta = chart.get("spec") or {}, chart["metadata"]
    data = {f"{meta['name']}.tgz.base64": spec["chartContent"]} if spec.get("chartContent") else {}
    return {"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": f"chart-content-{meta['name']}", "namespace": meta["namespace"]}, "data": data}


def config_hash(*objects: Obj) -> str:
    """`hashObjects`: SHA256 over the sorted keys and values of each object's data."""
    digest = hashlib.sha256()
    for obj in objects:
        for key in sorted(obj.get("data") or {}):
            digest.update(key.encode())
            digest.update(str(obj["data"][key]).encode())
    return "SHA256=" + digest.hexdigest().upper()


def memory_volume(name: str) -> Obj:
    return {"name": name, "emptyDir": {"medium": "Memory"}}


def job(chart: Obj, config: Obj | None) -> tuple[Obj, Obj, Obj]:
    """(Job, values Secret, content ConfigMap) as helm-controller's `job()` builds them."""
    meta, spec = chart["metadata"], chart.get("spec") or {}
    name = meta["name"]
    action = "delete" if meta.get("deletionTimestamp") else "install"
    chart_ref = f"{name}/{spec.get('chart', '')}" if spec.get("repo") else str(spec.get("chart") or "")
    failure_policy = (config or {}).get("spec", {}).get("failurePolicy") or spec.get("failurePolicy") or "reinstall"
    env = [("NAME", name), ("VERSION", str(spec.get("version") or "")), ("REPO", spec.get("repo") or ""),
           ("HELM_DRIVER", "secret"), ("CHART_NAMESPACE", meta["namespace"]), ("CHART", chart_ref),
           ("HELM_VERSION", spec.get("helmVersion") or ""), ("TARGET_NAMESPACE", target_namespace(chart)),
           ("AUTH_PASS_CREDENTIALS", str(bool(spec.get("authPassCredentials"))).lower()),
           ("INSECURE_SKIP_TLS_VERIFY", str(bool(spec.get("insecureSkipTLSVerify"))).lower()),
           ("PLAIN_HTTP", str(bool(spec.get("plainHTTP"))).lower()), ("FAILURE_POLICY", failure_policy)]
    secret, config_map = values_secret(chart, config), content_config_map(chart)
    labels = {CHART_LABEL: name}
    mounts = [{"name": "klipper-helm", "mountPath": "/home/klipper-helm/.helm"},
              {"name": "klipper-cache", "mountPath": "/home/klipper-helm/.cache"},
              {"name": "klipper-config", "mountPath": "/home/klipper-helm/.config"},
              {"name": "tmp", "mountPath": "/tmp"},
              {"name": "values", "mountPath": "/config"}, {"name": "content", "mountPath": "/chart"}]
    volumes = [memory_volume(volume) for volume in ("klipper-helm", "klipper-cache", "klipper-config", "tmp")]
    volumes += [{"name": "values", "secret": {"secretName": secret["metadata"]["name"]}},
                {"name": "content", "configMap": {"name": config_map["metadata"]["name"]}}]
    body = {
        "apiVersion": "batch/v1", "kind": "Job",
        "metadata": {"name": f"helm-{action}-{name}", "namespace": meta["namespace"], "labels": labels},
        "spec": {"backoffLimit": int(spec.get("backOffLimit") or BACKOFF_LIMIT),
                 "template": {
                     "metadata": {"labels": labels, "annotations": {CONFIG_HASH: config_hash(config_map, secret)}},
                     "spec": {"restartPolicy": "OnFailure", "serviceAccountName": f"helm-{name}",
                              "nodeSelector": {"kubernetes.io/os": "linux"},
                              "securityContext": {"runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}},
                              "containers": [{
                                  "name": "helm", "image": spec.get("jobImage") or HELM_JOB_IMAGE,
                                  "imagePullPolicy": "IfNotPresent", "args": args(chart),
                                  "env": [{"name": key, "value": value} for key, value in env],
                                  "securityContext": {"allowPrivilegeEscalation": False, "readOnlyRootFilesystem": True,
                                                      "capabilities": {"drop": ["ALL"]}},
                                  "volumeMounts": mounts}],
                              "volumes": volumes}}}}
    return body, secret, config_map


def service_account(chart: Obj) -> Obj:
    meta = chart["metadata"]
    return {"apiVersion": "v1", "kind": "ServiceAccount", "automountServiceAccountToken": True,
            "metadata": {"name": f"helm-{meta['name']}", "namespace": meta["namespace"]}}


RESOURCES = {"Secret": ("v1", "secrets"), "ConfigMap": ("v1", "configmaps"),
             "ServiceAccount": ("v1", "serviceaccounts"), "Job": ("batch/v1", "jobs")}


def url_of(obj: Obj) -> str:
    api, resource = RESOURCES[obj["kind"]]
    return path(api, resource, obj["metadata"]["namespace"], obj["metadata"]["name"])


def job_changed(current: Obj, wanted: Obj) -> bool:
    """The jobPatcher's trigger: the containers (image, args, env), backoffLimit or config hash differ."""
    def shape(job_obj: Obj) -> tuple:
        template = (job_obj.get("spec") or {}).get("template") or {}
        containers = [[container.get(key) for key in ("image", "args", "env")]
                      for container in (template.get("spec") or {}).get("containers") or []]
        config = ((template.get("metadata") or {}).get("annotations") or {}).get(CONFIG_HASH)
        return containers, (job_obj.get("spec") or {}).get("backoffLimit"), config

    return shape(current) != shape(wanted)


def succeeded(job_obj: Obj | None) -> bool:
    return job_obj is not None and int((job_obj.get("status") or {}).get("succeeded", 0)) > 0


class HelmController:
    def __init__(self, api: Client) -> None:
        self.api = api

    def reconcile(self) -> None:
        configs = {(c["metadata"]["namespace"], c["metadata"]["name"]): c
                   for c in self.api.list(path(API, "helmchartconfigs"))}
        for chart in self.api.list(path(API, "helmcharts")):
            config = configs.get((chart["metadata"]["namespace"], chart["metadata"]["name"]))
            if chart["metadata"].get("deletionTimestamp"):
                if FINALIZER in (chart["metadata"].get("finalizers") or []):
                    self.remove(chart, config)
            elif FINALIZER not in (chart["metadata"].get("finalizers") or []):
                self.api.mutate(path(API, "helmcharts", chart["metadata"]["namespace"], chart["metadata"]["name"]),
                                lambda obj: obj["metadata"].setdefault("finalizers", []).append(FINALIZER) is None)
            else:
                self.sync(chart, config)

    def apply(self, chart: Obj, objects: list[Obj]) -> bool:
        """Create or update each object, owned by the chart; True when the Job was (re)created."""
        created = False
        for obj in objects:
            obj = copy.deepcopy(obj)
            obj["metadata"]["ownerReferences"] = [dict(names.owner_reference(API, "HelmChart", chart),
                                                       blockOwnerDeletion=False)]
            current = self.api.find(url_of(obj))
            if current is not None and obj["kind"] == "Job":
                if not job_changed(current, obj):
                    continue
                delete_with_pods(self.api, current)
                current = None
            if current is None:
                api, resource = RESOURCES[obj["kind"]]
                self.api.create(path(api, resource, obj["metadata"]["namespace"]), obj)
                created = created or obj["kind"] == "Job"
            elif any(current.get(key) != obj.get(key) for key in ("data", "automountServiceAccountToken")):
                self.api.update(url_of(obj), dict(obj, metadata=dict(current["metadata"],
                                                                    ownerReferences=obj["metadata"]["ownerReferences"])))
        return created

    def delete_job(self, namespace: str, name: str) -> None:
        found = self.api.find(path("batch/v1", "jobs", namespace, name))
        if found is not None:
            delete_with_pods(self.api, found)

    def sync(self, chart: Obj, config: Obj | None) -> None:
        meta = chart["metadata"]
        install, secret, config_map = job(chart, config)
        self.delete_job(meta["namespace"], f"helm-delete-{meta['name']}")
        if self.apply(chart, [secret, config_map, service_account(chart), install]):
            message = f"Applying HelmChart using Job {meta['namespace']}/{install['metadata']['name']}"
            events.record(self.api, "HelmChart", dict(chart, apiVersion=API), "Normal", "ApplyJob", message, COMPONENT)
            log.info(f"HelmChart {meta['namespace']}/{meta['name']}: {message}")
        self.write_status(chart, install["metadata"]["name"])

    def write_status(self, chart: Obj, job_name: str) -> None:
        meta = chart["metadata"]

        def write(obj: Obj) -> bool:
            status = obj.setdefault("status", {})
            before = copy.deepcopy(status)
            status["jobName"] = job_name
            message = f"Applying HelmChart using Job {meta['namespace']}/{job_name}"
            conditions.set_condition(status, "JobCreated", "True", "Job created", message, "", update_stamp="")
            conditions.set_condition(status, "Failed", "False", "", "", "", update_stamp="")
            for item in status["conditions"]:
                item.pop("lastTransitionTime", None)
            return status != before

        self.api.mutate(path(API, "helmcharts", meta["namespace"], meta["name"], "status"), write)

    def remove(self, chart: Obj, config: Obj | None) -> None:
        """OnRemove: the delete Job, then (once it succeeded) the chart's objects and the finalizer."""
        meta = chart["metadata"]
        delete, secret, config_map = job(chart, config)
        self.delete_job(meta["namespace"], f"helm-install-{meta['name']}")
        self.apply(chart, [secret, config_map, service_account(chart), delete])
        if not succeeded(self.api.find(url_of(delete))):
            return
        events.record(self.api, "HelmChart", dict(chart, apiVersion=API), "Normal", "RemoveJob",
                      f"Uninstalled HelmChart using Job {meta['namespace']}/{delete['metadata']['name']}, "
                      "removing resources", COMPONENT)
        self.delete_job(meta["namespace"], delete["metadata"]["name"])
        for obj in (secret, config_map, service_account(chart)):
            self.api.delete(url_of(obj))

        def release(obj: Obj) -> bool:
            obj["metadata"]["finalizers"] = [item for item in obj["metadata"].get("finalizers") or []
                                             if item != FINALIZER]
            return True

        self.api.mutate(path(API, "helmcharts", meta["namespace"], meta["name"]), release)
        log.info(f"HelmChart {meta['namespace']}/{meta['name']} uninstalled by {delete['metadata']['name']}")
