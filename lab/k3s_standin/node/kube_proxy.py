"""kube-proxy (iptables mode, reduced): DNAT from each Service ClusterIP:port, and NodePorts on the
node's own addresses, to the Service's usable endpoints (random spread), REJECT when there are none;
NodePort traffic is masqueraded to the node address so replies come back through this node. Chains
carry kube-proxy's names (KUBE-SERVICES, KUBE-SVC-*, KUBE-SEP-*, KUBE-NODEPORTS); the service CIDR is
routed onto the node's lab interface so local clients reach the DNAT rules without a default route.

Endpoints come from the Service's EndpointSlices, as kube-proxy reads them: the ready ones; only when
none is ready, the serving and terminating ones, so a Service whose pods are all being deleted still
answers while they drain (kubernetes/kubernetes pkg/proxy/topology.go `CategorizeEndpoints`,
ProxyTerminatingEndpoints, GA in 1.28). A terminating pod stops getting new connections as soon as a
ready one is left; connections already made keep their conntrack entry until they close.

Example:
    proxy = KubeProxy(api, "10.213.0.111", "10.43.0.0/16"); proxy.sync()
    usable_endpoints([endpoint_slice], {"name": "https", "port": 443})   # [("10.42.1.5", 443)]
"""

from __future__ import annotations

import base64
import hashlib
import subprocess
from typing import Any

from k3s_standin.client import Client, path
from k3s_standin.controllers import log

Obj = dict[str, Any]
MASQ_MARK = "0x4000/0x4000"
JUMPS = [("nat", "PREROUTING", "KUBE-SERVICES"), ("nat", "OUTPUT", "KUBE-SERVICES"),
         ("nat", "POSTROUTING", "KUBE-POSTROUTING"), ("filter", "OUTPUT", "KUBE-SERVICES"),
         ("filter", "FORWARD", "KUBE-SERVICES")]


def chain(prefix: str, *parts: str) -> str:
    """kube-proxy's chain names: prefix + first 16 chars of base32(sha256(parts))."""
    digest = hashlib.sha256("".join(parts).encode()).digest()
    return prefix + base64.b32encode(digest).decode()[:16]


SERVICE_NAME_LABEL = "kubernetes.io/service-name"


def condition(endpoint: Obj, name: str) -> bool:
    """An EndpointConditions field; nil ready or serving means true, nil terminating false (discovery/v1)."""
    value = (endpoint.get("conditions") or {}).get(name)
    return value if value is not None else name != "terminating"


def usable_endpoints(slices: list[Obj], port: Obj) -> list[tuple[str, int]]:
    """The Service port's endpoints kube-proxy sends new connections to: the ready ones, else the
    serving terminating ones."""
    candidates = []
    for endpoint_slice in slices:
        match = next((p for p in endpoint_slice.get("ports") or [] if p.get("name", "") == port.get("name", "")), None)
        if match is not None:
            candidates += [(endpoint, match) for endpoint in endpoint_slice.get("endpoints") or []]
    chosen = [(e, p) for e, p in candidates if condition(e, "ready")] or \
        [(e, p) for e, p in candidates if condition(e, "serving") and condition(e, "terminating")]
    return sorted({(endpoint["addresses"][0], int(match["port"])) for endpoint, match in chosen})


def slices_by_service(slices: list[Obj]) -> dict[tuple[str, str], list[Obj]]:
    found: dict[tuple[str, str], list[Obj]] = {}
    for endpoint_slice in slices:
        service = (endpoint_slice["metadata"].get("labels") or {}).get(SERVICE_NAME_LABEL)
        if service:
            found.setdefault((endpoint_slice["metadata"]["namespace"], service), []).append(endpoint_slice)
    return found


def rules(services: list[Obj], slices: dict[tuple[str, str], list[Obj]]) -> tuple[list[str], list[str]]:
    """(nat lines, filter lines) for `iptables-restore --noflush`."""
    nat_chains = ["KUBE-SERVICES", "KUBE-NODEPORTS", "KUBE-POSTROUTING", "KUBE-MARK-MASQ"]
    nat = ["-A KUBE-MARK-MASQ -j MARK --or-mark 0x4000",
           f"-A KUBE-POSTROUTING -m mark --mark {MASQ_MARK} -j MASQUERADE"]
    filt = []
    for service in services:
        spec, meta = service.get("spec") or {}, service["metadata"]
        cluster_ip = spec.get("clusterIP")
        if not cluster_ip or cluster_ip == "None":
            continue
        for port in spec.get("ports") or []:
            protocol = (port.get("protocol") or "TCP").lower()
            name = f"{meta['namespace']}/{meta['name']}:{port.get('name', '')}"
            backends = usable_endpoints(slices.get((meta["namespace"], meta["name"])) or [], port)
            match = f"-p {protocol} -m {protocol} --dport {port['port']}"
            if not backends:
                filt.append(f'-A KUBE-SERVICES -d {cluster_ip}/32 {match} -m comment --comment "{name} has no endpoints" '
                            "-j REJECT --reject-with icmp-port-unreachable")
                continue
            svc_chain = chain("KUBE-SVC-", name, protocol)
            nat_chains.append(svc_chain)
            nat.append(f'-A KUBE-SERVICES -d {cluster_ip}/32 {match} -m comment --comment "{name} cluster IP" '
                       f"-j {svc_chain}")
            if port.get("nodePort"):
                nat.append(f"-A KUBE-NODEPORTS -p {protocol} -m {protocol} --dport {port['nodePort']} "
                           f"-j KUBE-MARK-MASQ")
                nat.append(f"-A KUBE-NODEPORTS -p {protocol} -m {protocol} --dport {port['nodePort']} -j {svc_chain}")
            for index, (address, target) in enumerate(backends):
                sep_chain = chain("KUBE-SEP-", name, protocol, f"{address}:{target}")
                nat_chains.append(sep_chain)
                remaining = len(backends) - index
                spread = f"-m statistic --mode random --probability {1 / remaining:.5f} " if remaining > 1 else ""
                nat.append(f"-A {svc_chain} {spread}-j {sep_chain}")
                nat.append(f"-A {sep_chain} -p {protocol} -m {protocol} -j DNAT --to-destination {address}:{target}")
    nat.append("-A KUBE-SERVICES -m addrtype --dst-type LOCAL -j KUBE-NODEPORTS")
    nat_lines = [f":{name} - [0:0]" for name in nat_chains] + nat
    filter_lines = [":KUBE-SERVICES - [0:0]"] + filt
    return nat_lines, filter_lines


def run(command: list[str], stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, input=stdin, capture_output=True, text=True, check=False)


def stale_chains(table: str, keep: set[str]) -> list[str]:
    """KUBE-SVC-/KUBE-SEP- chains left from services that are gone."""
    saved = run(["iptables-save", "-t", table]).stdout
    names = [line[1:].split()[0] for line in saved.splitlines() if line.startswith(":KUBE-")]
    return [name for name in names if name.startswith(("KUBE-SVC-", "KUBE-SEP-")) and name not in keep]


def lab_interface(node_ip: str) -> str:
    for line in run(["ip", "-o", "-4", "addr", "show"]).stdout.splitlines():
        fields = line.split()
        if len(fields) > 3 and fields[3].split("/")[0] == node_ip:
            return fields[1]
    return ""


class KubeProxy:
    def __init__(self, api: Client, node_ip: str, service_cidr: str) -> None:
        self.api = api
        self.node_ip = node_ip
        self.service_cidr = service_cidr
        self.applied = ""

    def setup(self) -> None:
        """Jump rules into kube-proxy's chains, forwarding on, and the service CIDR route."""
        for table, parent, target in JUMPS:
            run(["iptables", "-t", table, "-N", target])
            if run(["iptables", "-t", table, "-C", parent, "-j", target]).returncode != 0:
                run(["iptables", "-t", table, "-I", parent, "1", "-j", target])
        try:
            with open("/proc/sys/net/ipv4/ip_forward", "w", encoding="ascii") as handle:
                handle.write("1\n")
        except OSError as error:
            log.error(f"kube-proxy: cannot enable ip_forward: {error.strerror}")
        device = lab_interface(self.node_ip)
        if device:
            run(["ip", "route", "replace", self.service_cidr, "dev", device, "src", self.node_ip])

    def sync(self) -> None:
        services = self.api.list(path("v1", "services"))
        slices = slices_by_service(self.api.list(path("discovery.k8s.io/v1", "endpointslices")))
        nat, filt = rules(services, slices)
        text = "\n".join(["*nat", *nat, "COMMIT", "*filter", *filt, "COMMIT", ""])
        if text == self.applied:
            return
        keep = {line[1:].split()[0] for line in nat if line.startswith(":")}
        stale = stale_chains("nat", keep)
        # Stale chains are declared (so flushed) first, then deleted once nothing jumps to them.
        nat_payload = [f":{name} - [0:0]" for name in stale] + nat + [f"-X {name}" for name in stale]
        payload = "\n".join(["*nat", *nat_payload, "COMMIT", "*filter", *filt, "COMMIT", ""])
        result = run(["iptables-restore", "--noflush"], payload)
        if result.returncode != 0:
            log.error(f"kube-proxy: iptables-restore failed: {result.stderr.strip()}")
            return
        self.applied = text
