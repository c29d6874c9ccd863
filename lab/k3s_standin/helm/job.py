"""The klipper-helm container of a `helm-install-*`/`helm-delete-*` Job's pod: k3s-io/klipper-helm's
`entry` script (tag v0.9.3-build20241008, the job image of k3s v1.31.4) run against the API, with
helm's own messages (helm v3 cmd/helm, pkg/action, pkg/repo, pkg/getter).

* `%{KUBERNETES_API}%` in CHART becomes the API's address; the values are the files of the
  mounted `chart-values-<name>` Secret (`/config/*.yaml`, in name order), the chart comes from the
  mounted `chart-content-<name>` ConfigMap (`/chart/<name>.tgz.base64`) when it holds one.
* `REPO` set: `helm repo add` cannot reach a repository from the air-gapped lab: exit 1, helm's
  `Error: looks like "<repo>" is not a valid chart repository or cannot be reached: ...` last.
* A chart URL is fetched through the API server's `/static/` (k3s pkg/server/router.go serves
  `<data-dir>/server/static` there, before authentication), with no token, as helm fetches it;
  any other host is unreachable.
* Then `helm_update`: no release -> install; deployed -> upgrade; failed -> uninstall and install
  again (FAILURE_POLICY reinstall) or exit 1 (abort); `delete` -> uninstall. Each step as helm does it:
  kubeVersion checked (`chart requires kubeVersion: ...`), objects mapped before any is created,
  release Secrets written.
The shell's `set -x` trace lines (`+ helm ...`) are in the log as klipper-helm's are.

Example:
    code, lines = run(pod, pod["spec"]["containers"][0], api)   # (1, [..., 'Error: INSTALLATION FAILED: ...'])
"""

from __future__ import annotations

import base64
import http.client
import urllib.parse
from dataclasses import dataclass, field
from typing import Any, NoReturn

import yaml

from k3s_standin.client import ApiError, Client, path
from k3s_standin.controllers import clock
from k3s_standin.helm import archive, kube, releases, semver, values
from k3s_standin.helm.charts import Release, RenderError, render

Obj = dict[str, Any]
CLUSTER_DNS = "10.43.0.10:53"


class Exit(Exception):
    def __init__(self, code: int) -> None:
        super().__init__(code)
        self.code = code


@dataclass
class Invocation:
    """The container's environment and `helm` arguments, as the entry script sees them."""

    env: dict[str, str]
    action: str
    namespace: str
    create_namespace: bool
    sets: list[tuple[str, str, bool]] = field(default_factory=list)

    @classmethod
    def of(cls, container: Obj) -> Invocation:
        env = {item["name"]: str(item.get("value", "")) for item in container.get("env") or []}
        args = list(container.get("args") or ["install"])
        invocation = cls(env, args[0], env.get("TARGET_NAMESPACE") or "default", False)
        index = 1
        while index < len(args):
            flag = args[index]
            if flag == "--namespace":
                invocation.namespace, index = args[index + 1], index + 1
            elif flag == "--create-namespace":
                invocation.create_namespace = True
            elif flag in ("--set", "--set-string"):
                key, _, text = args[index + 1].partition("=")
                invocation.sets.append((key, text, flag == "--set"))
                index += 1
            index += 1
        return invocation


class Container:
    """One run of the entry script; `log` collects what the container writes."""

    def __init__(self, pod: Obj, container: Obj, api: Client) -> None:
        self.pod, self.api = pod, api
        self.run_as = Invocation.of(container)
        self.env = self.run_as.env
        self.log: list[str] = []
        self.name = self.env.get("NAME", "")
        self.chart = self.env.get("CHART", "").replace("%{KUBERNETES_API}%", f"{api.host}:{api.port}")
        self.content: bytes | None = None

    def trace(self, command: str) -> None:
        self.log.append(f"+ {command}")

    def fail(self, message: str, code: int = 1) -> NoReturn:
        self.log += message.splitlines()
        raise Exit(code)

    def mounted(self, volume_name: str) -> Obj | None:
        """The Secret or ConfigMap behind one of the pod's volumes."""
        namespace = self.pod["metadata"]["namespace"]
        for volume in self.pod["spec"].get("volumes") or []:
            if volume.get("name") != volume_name:
                continue
            if volume.get("secret"):
                return self.api.find(path("v1", "secrets", namespace, volume["secret"]["secretName"]))
            if volume.get("configMap"):
                return self.api.find(path("v1", "configmaps", namespace, volume["configMap"]["name"]))
        return None

    def values_files(self) -> list[Obj]:
        secret = self.mounted("values") or {}
        files = []
        for key in sorted((secret.get("data") or {})):
            if key.endswith(".yaml"):
                files.append(yaml.safe_load(base64.b64decode(secret["data"][key])) or {})
        return files

    def main(self) -> None:
        if self.env.get("HELM_VERSION") == "v2":
            self.fail("Helm v2 is EOL effective 2020-11-13; upgrade your chart to helm v3", 64)
        content_map = self.mounted("content") or {}
        encoded = (content_map.get("data") or {}).get(f"{self.name}.tgz.base64")
        if encoded:
            self.trace(f"base64 -d /chart/{self.name}.tgz.base64")
            self.content = base64.b64decode(encoded)
            self.chart = f"/tmp/{self.name}.tgz"
        if self.run_as.action != "delete":
            self.repo_init()
        self.update()

    def repo_init(self) -> None:
        if "http://" in self.chart or "https://" in self.chart:
            self.log.append("chart path is a url, skipping repo update")
            self.trace("helm repo remove stable")
            self.log.append("Error: no repositories configured")
            return
        repo = self.env.get("REPO", "")
        if repo:
            self.trace(f"helm repo add {self.name.split('/')[0]} {repo}")
            self.fail(f'Error: looks like "{repo}" is not a valid chart repository or cannot be reached: '
                      f'{unreachable(repo.rstrip("/") + "/index.yaml")}')

    def update(self) -> None:
        namespace = self.run_as.namespace
        self.trace(f"helm ls --all -f '^{self.name}$' --namespace {namespace} --output json")
        current = releases.latest(self.api, self.name, namespace)
        status = (current or {}).get("info", {}).get("status", "")
        if self.run_as.action == "delete":
            if current is None:
                return
            self.trace(f"helm uninstall {self.name} --namespace {namespace} --wait")
            self.uninstall(current)
            return
        if current is None:
            self.trace(f"helm install {self.name} {self.chart}")
            self.install(None, "INSTALLATION FAILED")
            return
        if status in ("pending-install", "pending-upgrade", "pending-rollback", "uninstalling"):
            self.log.append(f"Previous helm job was interrupted, updating status from {status} to failed")
            current["info"]["status"] = status = "failed"
            releases.save(self.api, current)
        if status == "deployed":
            self.log.append(f"Already installed {self.name}")
            self.log.append(f"Upgrading {self.name}")
            self.trace(f"helm upgrade {self.name} {self.chart}")
            self.install(current, "UPGRADE FAILED")
            return
        policy = self.env.get("FAILURE_POLICY") or "reinstall"
        if policy != "reinstall":
            self.fail(f"Release status is '{status}' and failure policy is '{policy}', not 'reinstall'; "
                      "waiting for operator intervention")
        self.trace(f"helm uninstall {self.name} --namespace {namespace} --wait")
        self.uninstall(current)
        self.log.append("Deleted")
        self.trace(f"helm install {self.name} {self.chart}")
        self.install(None, "INSTALLATION FAILED")

    def load_chart(self) -> archive.Chart:
        data = self.content if self.content is not None else self.fetch(self.chart)
        return archive.load(data)

    def fetch(self, url: str) -> bytes:
        """A chart URL: only the API server's own address answers in the lab (its /static/ files).
        A reference to a repository nobody added fails as helm's chart downloader does."""
        parts = urllib.parse.urlsplit(url)
        if parts.scheme not in ("http", "https"):
            if "/" in url:
                raise kube.HelmError(f"repo {url.split('/')[0]} not found")
            raise kube.HelmError(f"non-absolute URLs should be in form of repo_name/path_to_chart, got: {url}")
        if (parts.hostname, parts.port or 443) != (self.api.host, self.api.port):
            raise kube.HelmError(unreachable(url))
        connection = self.api.connection()
        try:
            connection.request("GET", parts.path)
            answer = connection.getresponse()
            data = answer.read()
        except (OSError, http.client.HTTPException) as error:
            raise kube.HelmError(f'Get "{url}": {error}') from error
        finally:
            connection.close()
        if answer.status != 200:
            raise kube.HelmError(f"failed to fetch {url} : {answer.status} {http.client.responses.get(answer.status, '')}")
        return data

    def install(self, previous: Obj | None, failure: str) -> None:
        """`helm install` (previous None) or `helm upgrade`: the release's objects, then its record."""
        namespace = self.run_as.namespace
        revision = int(previous["version"]) + 1 if previous else 1
        record: Obj | None = None
        try:
            chart = self.load_chart()
            # helm's Capabilities.KubeVersion is the server's /version gitVersion (v1.31.4+k3s1)
            kube_version = str(self.api.get("/version").get("gitVersion", ""))
            constraint = str(chart.metadata.get("kubeVersion") or "")
            if constraint and not semver.satisfies(kube_version, constraint):
                raise kube.HelmError(f"chart requires kubeVersion: {constraint} which is incompatible with "
                                     f"Kubernetes {kube_version}")
            merged = values.merged(chart.values, self.values_files(), self.run_as.sets)
            user_values = values.merged({}, self.values_files(), self.run_as.sets)
            rendered = render(Release(self.name, namespace, chart.metadata, merged, kube_version), chart.templates)
            placed = kube.build(self.api, rendered, namespace, self.name)
            self.ensure_namespace(namespace)
            now = clock.rfc3339()
            record = {"name": self.name, "namespace": namespace, "version": revision,
                      "info": {"first_deployed": (previous or {}).get("info", {}).get("first_deployed", now),
                               "last_deployed": now, "status": "pending-upgrade" if previous else "pending-install",
                               "description": "Initial install underway" if not previous else "Preparing upgrade"},
                      "chart": {"metadata": chart.metadata}, "config": user_values,
                      "manifest": "".join(f"---\n{yaml.safe_dump(item.obj, sort_keys=False)}" for item in placed)}
            releases.save(self.api, record)
            kube.create_or_update(self.api, placed, self.name, namespace, upgrade=previous is not None)
            if previous:
                wanted = {item.url for item in placed}
                kube.delete(self.api, [item for item in self.placed_of(previous) if item.url not in wanted])
                previous["info"]["status"] = "superseded"
                releases.save(self.api, previous)
        except (kube.HelmError, archive.ChartLoadError, RenderError, semver.ConstraintError) as error:
            if record is not None:
                record["info"].update(status="failed", description=f"Release \"{self.name}\" failed: {error}")
                releases.save(self.api, record)
            self.fail(f"Error: {failure}: {error}")
        record["info"].update(status="deployed", description="Install complete" if not previous else "Upgrade complete")
        releases.save(self.api, record)
        self.log += [f"NAME: {self.name}", f"LAST DEPLOYED: {record['info']['last_deployed']}",
                     f"NAMESPACE: {namespace}", "STATUS: deployed", f"REVISION: {revision}", "TEST SUITE: None"]

    def ensure_namespace(self, namespace: str) -> None:
        if self.api.find(path("v1", "namespaces", name=namespace)) is not None:
            return
        if not self.run_as.create_namespace:
            raise kube.HelmError(f'create: failed to create: namespaces "{namespace}" not found')
        self.api.create(path("v1", "namespaces"), {"apiVersion": "v1", "kind": "Namespace",
                                                   "metadata": {"name": namespace}})

    def placed_of(self, release: Obj) -> list[kube.Placed]:
        """The objects a release recorded, mapped again; kinds no longer served are gone already."""
        objects = [doc for doc in yaml.safe_load_all(release.get("manifest") or "") if doc]
        placed = []
        for obj in objects:
            try:
                placed += kube.build(self.api, [obj], release["namespace"], release["name"])
            except kube.HelmError:
                continue
        return placed

    def uninstall(self, release: Obj) -> None:
        kube.delete(self.api, self.placed_of(release))
        releases.forget(self.api, release["name"], release["namespace"])
        self.log.append(f'release "{release["name"]}" uninstalled')


def unreachable(url: str) -> str:
    """Go's error for a host the air-gapped lab cannot reach: a name CoreDNS cannot resolve
    (no upstream), or an address with no route."""
    host = urllib.parse.urlsplit(url).hostname or ""
    if host.replace(".", "").isdigit() or ":" in host:
        return f'Get "{url}": dial tcp {host}:443: connect: network is unreachable'
    return f'Get "{url}": dial tcp: lookup {host} on {CLUSTER_DNS}: server misbehaving'


def run(pod: Obj, container_spec: Obj, api: Client) -> tuple[int, list[str]]:
    """Run the klipper-helm container of `pod` once: (exit code, log lines)."""
    container = Container(pod, container_spec, api)
    try:
        container.main()
    except Exit as done:
        return done.code, container.log
    except ApiError as error:
        container.log.append(f"Error: {error.status.get('message') or error}")
        return 1, container.log
    return 0, container.log
