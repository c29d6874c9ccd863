"""The server's etcd member: Debian's etcd binary run as a child of `k3s server`, as k3s-io/k3s
pkg/etcd/etcd.go runs its embedded etcd.

From etcd.go: data in `<data-dir>/server/db/etcd` (mode 0700), member name `<node-name>-<8 hex>`
kept in `db/etcd/name` (`setName`), peer URL `<node-ip>:2380`, client URLs `<node-ip>:2379` and
`127.0.0.1:2379`, election timeout 5000 ms, heartbeat 500 ms (`cluster`). A data dir with a WAL is
an existing member and restarts with its own membership (`IsInitialized`); `cluster-init` starts a
new one-member cluster (`newCluster`); a server with `server:` asks that server's supervisor for the
members (`/db/info`, token-authenticated), adds itself as a learner through a member's client URL
(`MemberAddAsLearner`; etcd admits one learner at a time, so a second joiner retries every second
until the leader has promoted the first, `Start`) and starts with `initial-cluster-state existing`
(`join`, `ClientURLs`); it serves once promoted (learners.py). Difference, for a lab without etcd
PKI: plain http instead of etcd's mutual TLS. Ports come from `K3S_STANDIN_ETCD_CLIENT_PORT` /
`K3S_STANDIN_ETCD_PEER_PORT` (test infrastructure only, so several servers share one host).

The child gets SIGKILL when `k3s server` dies (PR_SET_PDEATHSIG): k3s's etcd lives in its process.

Example:
    member = Member(options, "10.213.0.101")
    member.start(join=None)      # cluster-init
    store = EtcdStore(member.local)
    ...
    member.stop()
"""

from __future__ import annotations

import ctypes
import json
import os
import signal
import ssl
import subprocess
import sys
import time
import urllib.request
import uuid
from typing import Any

from k3s_standin.etcd.gateway import EtcdError, Gateway

Obj = dict[str, Any]
ETCD_BINARY = "/usr/bin/etcd"
PR_SET_PDEATHSIG = 1
STOP_SECONDS = 10.0
TEST_SECONDS = 5.0
JOIN_RETRY_SECONDS = 1.0
# etcd.go `join`: one attempt's requests share `context.WithTimeout(ctx, 20*time.Second)`. A member add
# proposed while another's is pending is dropped by raft (raft.go stepLeader: "ignoring conf change"),
# so it waits until that deadline: "etcd cluster join failed: context deadline exceeded", and systemd
# starts k3s again.
JOIN_SECONDS = 20.0
# etcd's refusals k3s waits out (etcd.go `Start`: rpctypes.ErrTooManyLearners, ErrUnhealthy): another
# learner not promoted yet, or the leader not connected to every voting member for 5 s yet.
JOIN_RETRY_REASONS = ("etcdserver: too many learner members in cluster", "etcdserver: unhealthy cluster")


def _info(message: str) -> None:
    print(f'level=info msg="{message}"', file=sys.stderr, flush=True)


def client_port() -> int:
    return int(os.environ.get("K3S_STANDIN_ETCD_CLIENT_PORT") or 2379)


def peer_port() -> int:
    return int(os.environ.get("K3S_STANDIN_ETCD_PEER_PORT") or 2380)


def _die_with_parent() -> None:
    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)


def _left(deadline: float) -> float:
    return max(0.1, deadline - time.monotonic())


def _join_error(error: EtcdError) -> str:
    """etcd's message, or clientv3's when the join's deadline passed first."""
    cause = error.__cause__
    return "context deadline exceeded" if isinstance(getattr(cause, "reason", cause), TimeoutError) else str(error)


class JoinFailed(EtcdError):
    """etcd refused the join with an error k3s does not wait out (its message is etcd's)."""


class Member:
    """This server's etcd member and a gateway client on its local client URL."""

    def __init__(self, options: Any, address: str) -> None:
        self.options = options
        self.address = address
        self.db_dir = os.path.join(options.server_dir, "db", "etcd")
        self.peer_url = f"http://{address}:{peer_port()}"
        self.client_url = f"http://{address}:{client_port()}"
        self.local = Gateway(f"http://127.0.0.1:{client_port()}")
        self.name = self._name()
        self.process: subprocess.Popen | None = None

    def _name(self, force: bool = False) -> str:
        """etcd.go `setName`: `<node-name>-<first 8 characters of a uuid>`, kept across restarts."""
        name_file = os.path.join(self.db_dir, "name")
        if not force and os.path.exists(name_file):
            with open(name_file, encoding="utf-8") as handle:
                return handle.read().strip()
        os.makedirs(self.db_dir, mode=0o700, exist_ok=True)
        name = f"{self.options.node_name}-{str(uuid.uuid4())[:8]}"
        with open(name_file, "w", encoding="utf-8") as handle:
            handle.write(name)
        os.chmod(name_file, 0o600)
        return name

    def initialized(self) -> bool:
        """etcd.go `IsInitialized`: the member's WAL directory exists."""
        return os.path.isdir(os.path.join(self.db_dir, "member", "wal"))

    def start(self, join: Gateway | None, force_new_cluster: bool = False) -> None:
        """Start etcd: as it was (initialized), joining through `join` (a member's client URL), or as
        a new cluster; then wait until it serves quorum reads."""
        os.makedirs(self.db_dir, mode=0o700, exist_ok=True)
        os.chmod(self.db_dir, 0o700)
        flags = []
        if not self.initialized():
            if join is not None:
                cluster, state = self._join(join), "existing"
            else:
                cluster, state = f"{self.name}={self.peer_url}", "new"
            flags = [f"--initial-cluster={cluster}", f"--initial-cluster-state={state}",
                     f"--initial-advertise-peer-urls={self.peer_url}"]
        if force_new_cluster:
            flags.append("--force-new-cluster")
        client_urls = [self.client_url] + ([f"http://127.0.0.1:{client_port()}"]
                                           if self.address != "127.0.0.1" else [])
        command = [ETCD_BINARY, f"--name={self.name}", f"--data-dir={self.db_dir}",
                   f"--listen-client-urls={','.join(client_urls)}",
                   f"--advertise-client-urls={self.client_url}",
                   f"--listen-peer-urls={self.peer_url}", "--election-timeout=5000",
                   "--heartbeat-interval=500", "--logger=zap", "--log-outputs=stderr", *flags]
        self.process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=sys.stderr,
                                        stderr=sys.stderr, preexec_fn=_die_with_parent)
        self.wait_ready()

    def _join(self, join: Gateway) -> str:
        """etcd.go `join`, retried as `Start` retries it: add this member as a learner (unless listed)
        and return the initial cluster. A member not started yet has no name; etcd matches the
        initial cluster by peer URL, so it stays in as `=<peer URL>` (an unnamed one with this
        server's peer URL is this server; the stand-in compares whole peer URLs, not hosts, as test
        servers share 127.0.0.1)."""
        while True:
            cluster, add = [], True
            deadline = time.monotonic() + JOIN_SECONDS
            for member in join.members(timeout=_left(deadline)):
                name, peers = member.get("name", ""), member.get("peerURLs") or []
                if self.peer_url in peers:
                    name, add = self.name, False
                if peers:
                    cluster.append(f"{name}={peers[0]}")
            if not add:
                break
            _info(f"Adding member {self.name}={self.peer_url} to etcd cluster {cluster}")
            try:
                join.add_learner(self.peer_url, timeout=_left(deadline))
            except EtcdError as error:
                if not any(reason in str(error) for reason in JOIN_RETRY_REASONS):
                    raise JoinFailed(_join_error(error)) from error
                _info(f"Waiting for other members to finish joining etcd cluster: {error}")
                time.sleep(JOIN_RETRY_SECONDS)
                continue
            cluster.append(f"{self.name}={self.peer_url}")
            break
        _info(f"Starting etcd to join cluster with members {cluster}")
        return ",".join(cluster)

    def wait_ready(self) -> None:
        """k3s waits for its datastore before the apiserver starts (pkg/cluster/cluster.go
        `testClusterDB`, every 5 s, etcd.go `Test`): a member without quorum waits until its peers
        are back, a learner until the leader has promoted it."""
        reported = 0.0
        while True:
            if self.process is not None and self.process.poll() is not None:
                raise EtcdError(f"etcd exited with status {self.process.returncode}")
            try:
                self.local.revision()
                return
            except EtcdError as error:
                if time.monotonic() - reported > TEST_SECONDS:
                    _info(f"Failed to test data store connection: {self._not_ready(error)}")
                    reported = time.monotonic()
                time.sleep(0.5)

    def _not_ready(self, error: EtcdError) -> str:
        try:
            learner = bool(self.local.status().get("isLearner"))
        except EtcdError:
            learner = False
        return "this server has not yet been promoted from learner to voting member" if learner else str(error)

    def info(self) -> Obj:
        """etcd.go `infoHandler` (the supervisor's `/db/info`): the members, or this one alone."""
        try:
            return {"members": self.local.members()}
        except EtcdError:
            return {"members": [{"name": self.name, "peerURLs": [self.peer_url],
                                 "clientURLs": [self.client_url]}]}

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=STOP_SECONDS)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def cluster_gateway(server: str, token: str, ca_file: str, own_peer_url: str) -> Gateway:
    """A client URL of another member, from the supervisor's `/db/info` at `server` (etcd.go
    `ClientURLs`: members other than this node, learners excluded)."""
    context = ssl.create_default_context(cafile=ca_file)
    request = urllib.request.Request(f"{server.rstrip('/')}/db/info",
                                     headers={"Authorization": f"Bearer {token}"})
    with urllib.request.urlopen(request, context=context, timeout=10) as answer:
        members = json.loads(answer.read()).get("members", [])
    for member in members:
        if member.get("isLearner") or own_peer_url in (member.get("peerURLs") or []):
            continue
        for url in member.get("clientURLs") or []:
            return Gateway(url)
    raise EtcdError(f"{server}/db/info lists no etcd member to join")
