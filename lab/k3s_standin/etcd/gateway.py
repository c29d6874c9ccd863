"""A client of etcd's v3 API through its HTTP/JSON gRPC gateway (`/v3/...`, base64 keys and values;
etcd 3.4 serves it on every client URL): range, compare-and-swap transactions, watch, cluster members.

Upstream: etcd-io/etcd api/etcdserverpb/rpc.proto, served as JSON by etcd's gRPC gateway (/v3/...).

The gateway is etcd's own (go.etcd.io/etcd api/v3 etcdserverpb rpc.proto, `google.api.http` options),
so the requests are what clientv3 sends over gRPC; stdlib only, as the stand-in is a zipapp.

Example:
    etcd = Gateway("http://127.0.0.1:2379")
    revision = etcd.revision()
    for event in etcd.watch("/registry/", revision + 1): ...
"""

from __future__ import annotations

import base64
import http.client
import json
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any

Obj = dict[str, Any]
REQUEST_SECONDS = 30.0
ALL_KEYS = "AA=="  # key "\0" with range_end "\0": the whole keyspace (clientv3.WithFromKey)


class EtcdError(Exception):
    """etcd answered an error (its gRPC message, e.g. "etcdserver: request timed out") or is unreachable."""


def b64(text: str | bytes) -> str:
    return base64.b64encode(text.encode() if isinstance(text, str) else text).decode()


def unb64(text: str) -> bytes:
    return base64.b64decode(text or "")


def prefix_end(prefix: str) -> str:
    """clientv3.GetPrefixRangeEnd: the prefix with its last byte incremented."""
    raw = bytearray(prefix.encode())
    raw[-1] += 1
    return b64(bytes(raw))


class Gateway:
    """One etcd client URL (`http://host:port`)."""

    def __init__(self, endpoint: str) -> None:
        self.endpoint = endpoint.rstrip("/")

    def call(self, path: str, body: Obj, timeout: float = REQUEST_SECONDS) -> Obj:
        request = urllib.request.Request(f"{self.endpoint}{path}", data=json.dumps(body).encode(),
                                         headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=timeout) as answer:
                return json.loads(answer.read() or b"{}")
        except urllib.error.HTTPError as error:
            raise EtcdError(_message(error.read()) or f"etcd answered {error.code}") from error
        except (OSError, http.client.HTTPException, ValueError) as error:
            raise EtcdError(_unreachable(self.endpoint, error)) from error

    def revision(self) -> int:
        """The cluster's current revision by a linearizable (quorum) read, as kube-apiserver's
        consistent reads get it (k8s.io/apiserver pkg/storage/etcd3/store.go GetCurrentResourceVersion)."""
        answer = self.call("/v3/kv/range", {"key": b64("/registry/health"), "count_only": True})
        return int(answer["header"]["revision"])

    def range_prefix(self, prefix: str) -> tuple[list[Obj], int]:
        answer = self.call("/v3/kv/range", {"key": b64(prefix), "range_end": prefix_end(prefix)})
        return answer.get("kvs", []), int(answer["header"]["revision"])

    def txn(self, compare: list[Obj], success: list[Obj], failure: list[Obj]) -> Obj:
        return self.call("/v3/kv/txn", {"compare": compare, "success": success, "failure": failure})

    def put(self, key: str, value: bytes) -> int:
        return int(self.call("/v3/kv/put", {"key": b64(key), "value": b64(value)})["header"]["revision"])

    def members(self, timeout: float = REQUEST_SECONDS) -> list[Obj]:
        return self.call("/v3/cluster/member/list", {}, timeout=timeout).get("members", [])

    def add_learner(self, peer_url: str, timeout: float = REQUEST_SECONDS) -> Obj:
        """clientv3 `MemberAddAsLearner`: a member that receives the log but does not vote."""
        return self.call("/v3/cluster/member/add", {"peerURLs": [peer_url], "isLearner": True}, timeout=timeout)

    def promote(self, member_id: str) -> Obj:
        """clientv3 `MemberPromote`: a learner in sync with the leader becomes a voting member."""
        return self.call("/v3/cluster/member/promote", {"ID": member_id})

    def status(self, timeout: float = 2.0) -> Obj:
        return self.call("/v3/maintenance/status", {}, timeout=timeout)

    def snapshot(self, handle: Any) -> int:
        """Stream the backend database (`/v3/maintenance/snapshot`, as clientv3 Maintenance.Snapshot and
        `etcdctl snapshot save`: the db followed by its sha256) into `handle`; returns the size."""
        request = urllib.request.Request(f"{self.endpoint}/v3/maintenance/snapshot", data=b"{}",
                                         headers={"Content-Type": "application/json"})
        size = 0
        try:
            with urllib.request.urlopen(request, timeout=REQUEST_SECONDS) as stream:
                for line in stream:
                    answer = json.loads(line)
                    if "error" in answer:
                        raise EtcdError(_message(line))
                    blob = unb64((answer.get("result") or {}).get("blob", ""))
                    handle.write(blob)
                    size += len(blob)
        except (OSError, http.client.HTTPException, ValueError) as error:
            raise EtcdError(_unreachable(self.endpoint, error)) from error
        return size

    def watch(self, prefix: str, start_revision: int) -> Iterator[Obj]:
        """Events (`{"type": "PUT"|"DELETE", "kv": ..., "prev_kv": ...}`) under `prefix` ("" is every key) from
        `start_revision` on, until the stream breaks (raises EtcdError) or etcd cancels it (compaction)."""
        key, end = (b64(prefix), prefix_end(prefix)) if prefix else (ALL_KEYS, ALL_KEYS)
        body = {"create_request": {"key": key, "range_end": end,
                                   "start_revision": str(start_revision), "prev_kv": True}}
        request = urllib.request.Request(f"{self.endpoint}/v3/watch", data=json.dumps(body).encode(),
                                         headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=None) as stream:
                for line in stream:
                    result = json.loads(line).get("result") or {}
                    if result.get("canceled"):
                        raise EtcdError(result.get("cancel_reason") or "watch canceled")
                    yield from result.get("events", [])
        except (OSError, http.client.HTTPException, ValueError) as error:
            raise EtcdError(_unreachable(self.endpoint, error)) from error


def _message(raw: bytes) -> str:
    try:
        answer = json.loads(raw)
    except ValueError:
        return raw.decode(errors="replace").strip()
    return str(answer.get("error") or answer.get("message") or "")


def _unreachable(endpoint: str, error: Exception) -> str:
    reason = getattr(error, "reason", error)
    return f"dial tcp {endpoint.split('://', 1)[-1]}: {getattr(reason, 'strerror', None) or reason}"
