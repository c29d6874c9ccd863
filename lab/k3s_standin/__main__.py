"""`k3s` command line: `server`, `agent`, `kubectl`, `etcd-snapshot`, `scale-nodes`, `--version`.

Example:
    k3s server --node-ip 10.213.0.101 --disable servicelb
    k3s agent --server https://10.213.0.101:6443 --token-file /etc/rancher/k3s/token
    k3s kubectl get nodes
"""

from __future__ import annotations

import os
import shutil
import signal
import sys
import threading
from collections.abc import Sequence
from typing import NoReturn

from k3s_standin import K3S_VERSION, release

USAGE = """NAME:
   k3s - Kubernetes, but small and simple (lab stand-in)

USAGE:
   k3s [global options] command [command options] [arguments...]

COMMANDS:
   server         Run management server
   agent          Run node agent
   kubectl        Run kubectl
   etcd-snapshot  Save or list etcd snapshots (save, ls)
   scale-nodes    Register N simulated nodes (stand-in only)
   ctr            Run ctr (images ls, images import)
   crictl         Run crictl (images)
"""


def _fatal(message: str) -> int:
    print(f'level=fatal msg="{message}"', file=sys.stderr)
    return 1


def _info(message: str) -> None:
    print(f'level=info msg="{message}"', file=sys.stderr, flush=True)


def _exit_on_sigterm() -> None:
    """systemd stops k3s with SIGTERM; unwind normally so the datastore is closed."""
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(0))


RESET_DONE = ("Managed etcd cluster membership has been reset, restart without --cluster-reset flag now. "
              "Backup and delete ${datadir}/server/db on each peer etcd server and rejoin the nodes")


def server(argv: Sequence[str]) -> int:
    from k3s_standin import apiserver, certs, packaged
    from k3s_standin.controllers import manager as controllers
    from k3s_standin.etcd.member import JoinFailed
    from k3s_standin.node import agent as node
    from k3s_standin.options import parse
    from k3s_standin.systemd_notify import notify_ready

    options = parse("server", argv)
    _info(f"Starting k3s {K3S_VERSION} (standin)")
    address = apiserver.advertised_address(options)
    if options.cluster_reset:
        return cluster_reset(options, address)
    if options.embedded_etcd and options.server:
        error = _bootstrap_from(options)
        if error:
            return _fatal(error)
    pki = certs.ensure_pki(options, address)
    try:
        token = certs.ensure_token(options, pki)
    except certs.TokenMismatch as error:
        return _fatal(str(error))
    certs.write_kubeconfig(options, pki)
    _info(f"Wrote kubeconfig {options.write_kubeconfig}")
    member = store = supervisor = None
    if options.embedded_etcd:
        try:
            member, store, supervisor = _start_etcd(options, pki, address)
        except JoinFailed as error:
            return _fatal(f"etcd cluster join failed: {error}")
        except Exception as error:  # noqa: BLE001 - any etcd start failure is fatal, as in k3s
            return _fatal(f"starting kubernetes: preparing server: start managed database: {error}")
    try:
        try:
            api = apiserver.start(options, pki, token, address, store, supervisor)
        except OSError as error:
            return _fatal(f"kube-apiserver exited: listen tcp {options.bind_address}:"
                          f"{options.https_listen_port}: {error.strerror}")
        _info(f"Running kube-apiserver on https://{options.bind_address}:{options.https_listen_port}")
        _exit_on_sigterm()
        for written in packaged.stage(options):
            _info(f"Writing manifest: {written}" if "/manifests/" in written else f"Writing static file: {written}")
        try:
            controllers.start(options)
            _info("k3s is up and running")
            notify_ready()
            return node.run(options)
        finally:
            api.stop_serving()
            api.operations.store.close()
    finally:
        if member is not None:
            member.stop()


def _bootstrap_from(options) -> str:
    """A joining server takes the cluster's CAs from `server:` (k3s pkg/cluster/bootstrap.go)."""
    from k3s_standin.etcd.bootstrap import fetch_bootstrap

    if not options.token:
        return "--token is required"
    try:
        fetch_bootstrap(options.server, options.token, os.path.join(options.server_dir, "tls"))
    except OSError as error:
        return f"starting kubernetes: preparing server: failed to bootstrap cluster data: {error}"
    return ""


def _start_etcd(options, pki, address):
    """Embedded etcd (k3s pkg/etcd/etcd.go `Start`): the member, its store and the supervisor routes;
    every server runs the leader's learner promotion (`manageLearners`). A join that fails is fatal
    as "etcd cluster join failed: <etcd's error>" (etcd.go `Start`)."""
    from k3s_standin.apiserver.etcd_store import EtcdStore
    from k3s_standin.etcd.bootstrap import BOOTSTRAP_PATH, bootstrap_files
    from k3s_standin.etcd.learners import manage_learners
    from k3s_standin.etcd.member import Member, cluster_gateway

    member = Member(options, address)
    join = None
    if options.server and not member.initialized():
        join = cluster_gateway(options.server, options.token, pki.server_ca, member.peer_url)
    _info(f"Starting etcd member {member.name} ({member.peer_url})")
    threading.Thread(target=manage_learners, args=(member.local,), name="manage-learners", daemon=True).start()
    member.start(join)
    try:
        store = EtcdStore(member.local)
    except BaseException:
        member.stop()
        raise
    supervisor = {"/db/info": member.info, BOOTSTRAP_PATH: lambda: bootstrap_files(pki)}
    return member, store, supervisor


def cluster_reset(options, address: str) -> int:
    """`k3s server --cluster-reset [--cluster-reset-restore-path=FILE]` (k3s pkg/etcd/etcd.go `Reset`):
    restore the snapshot if given, start this member alone with --force-new-cluster, wait until it
    serves, print k3s's message and exit 0."""
    from k3s_standin.etcd import snapshot
    from k3s_standin.etcd.member import Member

    member = Member(options, address)
    if options.cluster_reset_restore_path:
        try:
            snapshot.restore(options.cluster_reset_restore_path, member.db_dir, member.name, member.peer_url)
        except (snapshot.RestoreError, OSError) as error:
            return _fatal(str(error))
    elif not member.initialized():
        return _fatal("starting kubernetes: preparing server: etcd: cluster-reset needs an existing etcd data dir")
    try:
        member.start(None, force_new_cluster=True)
        _info(RESET_DONE)
    finally:
        member.stop()
    return 0


def etcd_snapshot(argv: Sequence[str]) -> int:
    """`k3s etcd-snapshot save [--name N]` / `k3s etcd-snapshot ls` (k3s pkg/cli/etcdsnapshot)."""
    from k3s_standin.etcd import snapshot
    from k3s_standin.etcd.gateway import EtcdError, Gateway
    from k3s_standin.etcd.member import client_port
    from k3s_standin.options import parse

    args = list(argv)
    subcommand = args.pop(0) if args and not args[0].startswith("-") else "save"
    name = snapshot.DEFAULT_NAME
    for flag in ("--name", "--etcd-snapshot-name"):
        if flag in args:
            index = args.index(flag)
            name = args[index + 1] if index + 1 < len(args) else name
            del args[index:index + 2]
    options = parse("server", args)
    if subcommand in ("ls", "list"):
        print("\n".join(snapshot.listing(options)))
        return 0
    if subcommand != "save":
        return _fatal(f"unknown etcd-snapshot command {subcommand!r}")
    try:
        path = snapshot.save(options, Gateway(f"http://127.0.0.1:{client_port()}"), name)
    except (EtcdError, OSError) as error:
        return _fatal(f"failed to save snapshot: {error}")
    _info(f"Snapshot {os.path.basename(path)} saved.")
    return 0


def agent(argv: Sequence[str]) -> int:
    from k3s_standin.node import agent as node
    from k3s_standin.options import parse

    options = parse("agent", argv)
    if not options.server:
        return _fatal("--server is required")
    if not options.token:
        return _fatal("--token is required")
    _info(f"Starting k3s agent {K3S_VERSION} (standin)")
    _exit_on_sigterm()
    return node.run(options)


def _own_path() -> str:
    return os.path.realpath(sys.argv[0])


def kubectl(argv: Sequence[str]) -> int:
    """Exec the real kubectl with the server's admin kubeconfig, as `k3s kubectl` does."""
    from k3s_standin.options import parse

    candidates = ["/usr/local/bin/kubectl", *(shutil.which("kubectl", path=p) or ""
                                             for p in os.environ.get("PATH", "").split(os.pathsep))]
    binary = next((c for c in candidates if c and os.access(c, os.X_OK)
                   and os.path.realpath(c) != _own_path()), None)
    if binary is None:
        return _fatal("kubectl not found: install kubectl at /usr/local/bin/kubectl")
    environment = dict(os.environ)
    if not environment.get("KUBECONFIG"):
        environment["KUBECONFIG"] = parse("server", []).write_kubeconfig
    os.execve(binary, [binary, *argv], environment)
    return 1


def scale_nodes(argv: Sequence[str]) -> int:
    from k3s_standin.controllers import scale
    from k3s_standin.options import parse

    if not argv or not argv[0].isdigit():
        return _fatal("usage: k3s scale-nodes N [server flags]")
    scale.register(parse("server", argv[1:]), int(argv[0]))
    return 0


def _image_store(argv: Sequence[str]):
    """The node's image store and the remaining args; `--data-dir DIR` first, else k3s's config."""
    from k3s_standin.node.image_store import ImageStore
    from k3s_standin.options import parse

    args = list(argv)
    if args[:1] == ["--data-dir"] and len(args) > 1:
        return ImageStore(args[1]), args[2:]
    return ImageStore(parse("server", []).data_dir), args


def ctr(argv: Sequence[str]) -> int:
    """`k3s ctr` against the node's containerd image store (namespace k8s.io)."""
    from k3s_standin.node import image_cli

    store, args = _image_store(argv)
    return image_cli.ctr(store, args)


def crictl(argv: Sequence[str]) -> int:
    """`k3s crictl images` over the same store the kubelet runs images from."""
    from k3s_standin.node import image_cli

    store, args = _image_store(argv)
    return image_cli.crictl(store, args)


def pod_shim(argv: Sequence[str]) -> int:
    """The per-pod process the kubelet starts (not in USAGE: k3s's own shims are internal too)."""
    from k3s_standin.node import shim

    return shim.main(argv)


COMMANDS = {"server": server, "agent": agent, "kubectl": kubectl, "etcd-snapshot": etcd_snapshot,
            "scale-nodes": scale_nodes, "pod-shim": pod_shim,
            "ctr": ctr, "crictl": crictl}


def main(argv: Sequence[str] | None = None) -> NoReturn:
    """Entry point; exits with the command's status (the zipapp launcher ignores return values)."""
    sys.exit(run(argv))


def run(argv: Sequence[str] | None = None) -> int:
    from k3s_standin.options import OptionsError

    args = list(sys.argv[1:] if argv is None else argv)
    if os.path.basename(sys.argv[0]) == "kubectl":
        return kubectl(args)
    if not args or args[0] in ("-h", "--help", "help"):
        print(USAGE)
        return 0 if args else 1
    if args[0] in ("--version", "-v", "version"):
        print(release.version_text())
        return 0
    command = COMMANDS.get(args[0])
    if command is None:
        return _fatal(f"unknown command {args[0]!r}")
    try:
        return command(args[1:])
    except OptionsError as error:
        return _fatal(str(error))


if __name__ == "__main__":
    main()
