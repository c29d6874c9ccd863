"""kube-apiserver's health endpoints `/healthz`, `/livez` and `/readyz`, with `?verbose`, `?exclude=<check>`
and the per-check paths (`/readyz/etcd`), over the checks the stand-in can honestly claim.

Upstream: kubernetes/kubernetes staging/src/k8s.io/apiserver pkg/server/healthz/healthz.go
(`handleRootHealth`, `adaptCheckToHandler`, `getExcludedChecks`, `formatQuoted`).

* Every check runs, in order. All passed: 200 `ok`, or with `verbose` (any value) one `[+]<name> ok`
  line per check and `<endpoint> check passed`. One failed: 500 and always the lines, a failed check as
  `[-]<name> failed: reason withheld` (the endpoint is public, the reason goes to the log only), then
  `<endpoint> check failed` (http.Error: a trailing newline). `exclude` skips a check as
  `[+]<name> excluded: ok`; names that match no check add `warn: some health checks cannot be
  excluded: no matches for "<name>"`. `/readyz/<check>` answers `ok`, or 500 `internal server
  error: <error>`.
* The checks, in kube-apiserver's order: `ping`, `log` (the process answers); `etcd` on all three
  endpoints and `etcd-readiness` on /readyz only (pkg/server/options/etcd.go `addEtcdHealthEndpoint`:
  `AddHealthChecks` / `AddReadyzChecks`); the post-start hooks whose work the stand-in does before it
  serves (`start-system-namespaces-controller`, `bootstrap-controller`: the system namespaces and the
  `default/kubernetes` Service, `bootstrap.py`); `shutdown` last on /readyz (genericapiserver.go
  `addReadyzShutdownCheck`). Not claimed: `informer-sync`, the RBAC, priority-and-fairness,
  aggregator and CRD hooks of a real kube-apiserver, which the stand-in does not run.
* `etcd` and `etcd-readiness` are two instances of pkg/storage/storagebackend/factory/etcd3.go
  `newETCD3Check`: a quorum `Get` of `/registry/health` with a 2 s timeout (storagebackend
  `DefaultHealthcheckTimeout`, `DefaultReadinessTimeout`), at most one every timeout/2 (a
  `rate.Limiter` with burst 1); a call in between gets the last error stored. The error is
  `error getting data from etcd: <cause>`; a member that cannot answer within the timeout (no
  quorum, or down) is clientv3's `context deadline exceeded`.
* With kine (k3s's sqlite datastore) kube-apiserver runs the same checks against kine's etcd API
  (kube-apiserver cannot tell kine from etcd): the `Get` answers whether or not the key exists
  (some kine releases create `/registry/health` at start for it, k3s-io/kine
  pkg/logstructured/sqllog/sql.go `SQLLog.Start`), so a sqlite server shows `[+]etcd ok` and
  `[+]etcd-readiness ok` too. The stand-in's sqlite store is in-process, so that read cannot fail.

Example:
    health = Health(operations.store)
    answer = health.answer("/readyz", "verbose")     # Answer(200, b"[+]ping ok\\n...readyz check passed\\n", ...)
"""

from __future__ import annotations

import threading
import time
import urllib.error
import urllib.parse
from collections.abc import Callable

from k3s_standin.apiserver.etcd_store import EtcdStore
from k3s_standin.apiserver.static import Answer
from k3s_standin.apiserver.store import Store
from k3s_standin.etcd.gateway import EtcdError, b64

CHECK_SECONDS = 2.0
HEALTH_KEY = "/registry/health"
TEXT = "text/plain; charset=utf-8"
ENDPOINTS = ("healthz", "livez", "readyz")
NOT_CONNECTED = "etcd client connection not yet established"
DEADLINE = "context deadline exceeded"
HOOKS = ("poststarthook/start-system-namespaces-controller", "poststarthook/bootstrap-controller")

Check = Callable[[], "str | None"]
Probe = Callable[[float], None]


def passes() -> str | None:
    """A check the serving process passes by answering at all (`ping`, `log`, finished hooks, `shutdown`)."""
    return None


def storage_probe(store: Store) -> Probe:
    """What the etcd check reads: `/registry/health` from this server's etcd member by a quorum read
    (the v3 range default), or nothing for the in-process sqlite store."""
    if not isinstance(store, EtcdStore):
        return lambda timeout: None
    etcd = store.etcd

    def read(timeout: float) -> None:
        etcd.call("/v3/kv/range", {"key": b64(HEALTH_KEY)}, timeout=timeout)
    return read


class StorageCheck:
    """One `newETCD3Check`: rate-limited to a probe every timeout/2; returns the error text or None."""

    def __init__(self, probe: Probe, timeout: float = CHECK_SECONDS) -> None:
        self.probe = probe
        self.timeout = timeout
        self._lock = threading.Lock()
        self._next_probe = 0.0
        self._last: tuple[float, str | None] = (0.0, f"error getting data from etcd: {NOT_CONNECTED}")

    def __call__(self) -> str | None:
        started = time.monotonic()
        with self._lock:
            if started < self._next_probe:
                return self._last[1]
            self._next_probe = started + self.timeout / 2
        error = self._error()
        with self._lock:
            # atomicLastError: a slow probe that ends after a newer one does not overwrite it
            if started >= self._last[0]:
                self._last = (started, error)
        return error

    def _error(self) -> str | None:
        try:
            self.probe(self.timeout)
        except EtcdError as error:
            # an answer of etcd's own (HTTP error) carries its message; anything else ran into the deadline
            cause = str(error) if isinstance(error.__cause__, urllib.error.HTTPError) else DEADLINE
            return f"error getting data from etcd: {cause}"
        return None


class Health:
    """The three endpoints' checks for one server's store."""

    def __init__(self, store: Store) -> None:
        probe = storage_probe(store)
        etcd, readiness = StorageCheck(probe), StorageCheck(probe)
        base: list[tuple[str, Check]] = [("ping", passes), ("log", passes), ("etcd", etcd)]
        hooks: list[tuple[str, Check]] = [(hook, passes) for hook in HOOKS]
        self.checks: dict[str, list[tuple[str, Check]]] = {
            "healthz": base + hooks,
            "livez": base + hooks,
            "readyz": [*base, ("etcd-readiness", readiness), *hooks, ("shutdown", passes)],
        }

    def answer(self, path: str, query: str) -> Answer | None:
        """The answer to `path` (`/readyz`, `/livez/etcd`, ...) with its raw query string, or None
        when `path` is no health path (the mux's 404 then)."""
        endpoint, _, check = path.strip("/").partition("/")
        checks = self.checks.get(endpoint)
        if checks is None:
            return None
        if check:
            return self._one(dict(checks).get(check))
        return self._all(endpoint, checks, urllib.parse.parse_qs(query, keep_blank_values=True))

    @staticmethod
    def _one(check: Check | None) -> Answer | None:
        if check is None:
            return None
        error = check()
        if error is None:
            return Answer(200, b"ok", TEXT)
        return Answer(500, f"internal server error: {error}\n".encode(), TEXT)

    @staticmethod
    def _all(endpoint: str, checks: list[tuple[str, Check]], query: dict[str, list[str]]) -> Answer:
        excluded = set(query.get("exclude", []))
        lines, failed = [], False
        for name, check in checks:
            if name in excluded:
                excluded.discard(name)
                lines.append(f"[+]{name} excluded: ok")
            elif check() is None:
                lines.append(f"[+]{name} ok")
            else:
                failed = True
                lines.append(f"[-]{name} failed: reason withheld")
        if excluded:
            quoted = ",".join(f'"{name}"' for name in sorted(excluded))
            lines.append(f"warn: some health checks cannot be excluded: no matches for {quoted}")
        body = "".join(f"{line}\n" for line in lines)
        if failed:
            return Answer(500, f"{body}{endpoint} check failed\n".encode(), TEXT)
        if "verbose" not in query:
            return Answer(200, b"ok", TEXT)
        return Answer(200, f"{body}{endpoint} check passed\n".encode(), TEXT)
