"""helm-controller (k3s's HelmChart controller): each `helm.cattle.io/v1` HelmChart gets an install
Job `helm-install-<name>` in its namespace and `status.jobName`. The lab is air-gapped, so the chart
`rancher` (from a repo or `chartContent`) is "installed" by rendering it here; any other chart's Job
fails with a message saying why. A changed HelmChart spec re-runs the install; releases whose
HelmChart is gone are uninstalled, as helm-controller's helm-delete job does.

Example:
    HelmController(api).reconcile()
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import re
import tarfile
from typing import Any

import yaml

from k3s_standin.client import ApiError, Client, path
from k3s_standin.controllers import clock, conditions, events, log, names, rancher_chart

Obj = dict[str, Any]

API = "helm.cattle.io/v1"
JOB_IMAGE = "rancher/klipper-helm:v0.9.3-build20241008"
CONFIG_HASH = "helmcharts.helm.cattle.io/configHash"
CHART_LABEL = "helmcharts.helm.cattle.io/chart"
MANAGED = "app.kubernetes.io/managed-by=Helm"
RELEASE_NAME = "meta.helm.sh/release-name"
RELEASE_NAMESPACE = "meta.helm.sh/release-namespace"
RELEASE_KINDS = [("apps/v1", "deployments"), ("v1", "services"), ("v1", "secrets"), ("v1", "serviceaccounts")]


class ChartError(Exception):
    """The install job fails with this message."""


def chart_identity(spec: Obj) -> tuple[str, str]:
    """(chart name, version) from `chartContent` (its Chart.yaml) or `spec.chart`."""
    if spec.get("chartContent"):
        try:
            data = base64.b64decode(spec["chartContent"])
            with tarfile.open(fileobj=io.BytesIO(data), mode="r:*") as archive:
                member = next(m for m in archive.getmembers() if re.fullmatch(r"[^/]+/Chart\.yaml", m.name))
                meta = yaml.safe_load(archive.extractfile(member).read()) or {}
        except (ValueError, tarfile.TarError, StopIteration, yaml.YAMLError) as error:
            raise ChartError(f"chartContent is not a chart archive: {error or 'no Chart.yaml'}") from error
        return str(meta.get("name", "")), str(meta.get("version") or spec.get("version") or "")
    chart = str(spec.get("chart") or "")
    base = chart.rstrip("/").rsplit("/", 1)[-1].removesuffix(".tgz")
    match = re.fullmatch(r"(.+?)-v?(\d+\.\d+\.\d+[\w.+-]*)", base)
    if match:
        return match.group(1), match.group(2)
    return base, str(spec.get("version") or "")


def values_of(spec: Obj) -> Obj:
    """valuesContent YAML with `set` entries over it, as helm-controller merges them."""
    try:
        values = yaml.safe_load(spec.get("valuesContent") or "") or {}
    except yaml.YAMLError as error:
        raise ChartError(f"valuesContent is not valid YAML: {str(error).splitlines()[0]}") from error
    if not isinstance(values, dict):
        raise ChartError("valuesContent is not a mapping")
    for key, value in (spec.get("set") or {}).items():
        values[key] = value
    return values


def config_hash(spec: Obj) -> str:
    return "SHA256=" + hashlib.sha256(json.dumps(spec, sort_keys=True).encode()).hexdigest().upper()


def install_job(chart: Obj, chart_name: str, version: str) -> Obj:
    meta, spec = chart["metadata"], chart["spec"]
    name = meta["name"]
    target = spec.get("targetNamespace") or meta["namespace"]
    env = [{"name": "NAME", "value": name}, {"name": "VERSION", "value": version},
           {"name": "REPO", "value": spec.get("repo", "")}, {"name": "HELM_DRIVER", "value": "secret"},
           {"name": "CHART_NAMESPACE", "value": meta["namespace"]}, {"name": "CHART", "value": spec.get("chart", "")},
           {"name": "TARGET_NAMESPACE", "value": target},
           {"name": "CREATE_NAMESPACE", "value": str(bool(spec.get("createNamespace"))).lower()}]
    labels = {CHART_LABEL: name}
    return {"apiVersion": "batch/v1", "kind": "Job",
            "metadata": {"name": f"helm-install-{name}", "namespace": meta["namespace"], "labels": labels,
                         "annotations": {CONFIG_HASH: config_hash(spec)},
                         "ownerReferences": [names.owner_reference(API, "HelmChart", chart)]},
            "spec": {"backoffLimit": 1000,
                     "template": {"metadata": {"labels": labels},
                                  "spec": {"restartPolicy": "OnFailure", "serviceAccountName": f"helm-{name}",
                                           "containers": [{"name": "helm", "image": JOB_IMAGE, "args": ["install"],
                                                           "env": env}]}}}}


def job_status(failure: str, now: str) -> Obj:
    """A finished Job's status: Complete, or Failed with the reason in the condition message."""
    status: Obj = {"startTime": now, "completionTime": now, "active": 0}
    if failure:
        status.update(failed=1)
        conditions.set_condition(status, "FailureTarget", "True", "BackoffLimitExceeded", failure, now,
                                 update_stamp="lastProbeTime")
        conditions.set_condition(status, "Failed", "True", "BackoffLimitExceeded", failure, now,
                                 update_stamp="lastProbeTime")
        status.pop("completionTime")
    else:
        status.update(succeeded=1)
        conditions.set_condition(status, "SuccessCriteriaMet", "True", "CompletionsReached",
                                 "Reached expected number of succeeded pods", now, update_stamp="lastProbeTime")
        conditions.set_condition(status, "Complete", "True", "CompletionsReached",
                                 "Reached expected number of succeeded pods", now, update_stamp="lastProbeTime")
    return status


class HelmController:
    def __init__(self, api: Client) -> None:
        self.api = api

    def reconcile(self) -> None:
        charts = self.api.list(path(API, "helmcharts"))
        for chart in charts:
            if not chart["metadata"].get("deletionTimestamp"):
                self.sync(chart)
        self.uninstall_orphans({(c["metadata"]["name"], (c.get("spec") or {}).get("targetNamespace")
                                 or c["metadata"]["namespace"]) for c in charts})

    def sync(self, chart: Obj) -> None:
        meta, spec = chart["metadata"], chart.get("spec") or {}
        job_url = path("batch/v1", "jobs", meta["namespace"], f"helm-install-{meta['name']}")
        job = self.api.find(job_url)
        if job is not None and (job["metadata"].get("annotations") or {}).get(CONFIG_HASH) == config_hash(spec):
            self.write_chart_status(chart, job)
            return
        if job is not None:
            self.api.delete(job_url)
        failure = ""
        chart_name, version = "", ""
        try:
            chart_name, version = chart_identity(spec)
            if chart_name != rancher_chart.CHART:
                raise ChartError(f'chart "{chart_name or spec.get("chart", "")}" not available in the air-gapped lab')
            self.install(chart, values_of(spec), version or rancher_chart.DEFAULT_VERSION)
        except (ChartError, ValueError) as error:
            failure = str(error)
        except ApiError as error:
            failure = error.status.get("message") or str(error)
        job = self.api.create(path("batch/v1", "jobs", meta["namespace"]), install_job(chart, chart_name, version))
        job = self.api.update(job_url + "/status", dict(job, status=job_status(failure, clock.rfc3339())))
        events.record(self.api, "HelmChart", dict(chart, apiVersion=API), "Warning" if failure else "Normal",
                      "HelmInstallFailed" if failure else "ApplyJob",
                      failure or f"Applying HelmChart using Job {meta['namespace']}/helm-install-{meta['name']}",
                      "helm-controller")
        log.info(f"HelmChart {meta['namespace']}/{meta['name']}: install job "
                 f"{'failed: ' + failure if failure else 'succeeded'}")
        self.write_chart_status(chart, job)

    def install(self, chart: Obj, values: Obj, version: str) -> None:
        meta, spec = chart["metadata"], chart.get("spec") or {}
        target = spec.get("targetNamespace") or meta["namespace"]
        if self.api.find(path("v1", "namespaces", name=target)) is None:
            if not spec.get("createNamespace"):
                raise ChartError(f'namespaces "{target}" not found')
            self.api.create(path("v1", "namespaces"), {"apiVersion": "v1", "kind": "Namespace",
                                                       "metadata": {"name": target}})
        for api, resource, obj in rancher_chart.render(values, meta["name"], target, version):
            url = path(api, resource, target, obj["metadata"]["name"])
            current = self.api.find(url)
            if current is None:
                self.api.create(path(api, resource, target), obj)
                continue
            obj["metadata"] = dict(current["metadata"], labels=obj["metadata"]["labels"],
                                   annotations=obj["metadata"]["annotations"])
            if "status" in current:
                obj["status"] = current["status"]
            if resource == "services":
                obj["spec"]["clusterIP"] = current["spec"].get("clusterIP")
                obj["spec"]["clusterIPs"] = current["spec"].get("clusterIPs")
            self.api.update(url, obj)

    def write_chart_status(self, chart: Obj, job: Obj) -> None:
        job_status_now = job.get("status") or {}
        failed = next((c for c in job_status_now.get("conditions") or []
                       if c.get("type") == "Failed" and c.get("status") == "True"), None)
        job_name = job["metadata"]["name"]

        def write(obj: Obj) -> bool:
            status = obj.setdefault("status", {})
            before = json.dumps(status, sort_keys=True)
            status["jobName"] = job_name
            now = clock.rfc3339()
            conditions.set_condition(status, "JobCreated", "True", "", "Applying HelmChart using Job "
                                     f"{obj['metadata']['namespace']}/{job_name}", now, update_stamp="")
            conditions.set_condition(status, "Failed", "True" if failed else "False",
                                     "Error" if failed else "", failed["message"] if failed else "", now,
                                     update_stamp="")
            return json.dumps(status, sort_keys=True) != before

        meta = chart["metadata"]
        self.api.mutate(path(API, "helmcharts", meta["namespace"], meta["name"], "status"), write)

    def uninstall_orphans(self, releases: set[tuple[str, str]]) -> None:
        for api, resource in RELEASE_KINDS:
            for obj in self.api.list(path(api, resource), labelSelector=MANAGED):
                annotations = obj["metadata"].get("annotations") or {}
                release = (annotations.get(RELEASE_NAME), annotations.get(RELEASE_NAMESPACE))
                if release[0] and release not in releases:
                    self.api.delete(path(api, resource, obj["metadata"]["namespace"], obj["metadata"]["name"]))
                    log.info(f"helm uninstall {release[0]}: deleted {resource} "
                             f"{obj['metadata']['namespace']}/{obj['metadata']['name']}")
