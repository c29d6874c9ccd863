"""What verify/ reads on one host, gathered by one python3 run there (one round trip per host).

This file is sent as the program text of ``python3 -c`` (standard library only: Proxmox's
debian-12-standard template has python3 but no curl or socat), so it must not import the project.

    python3 -c "$(cat host_probe.py)" gather '{"units": {"k3s.service": ["ActiveState"]}, "paths": ["/dev/kmsg"]}'
    python3 -c "$(cat host_probe.py)" ping 10.0.0.111 443 rancher.example.net

``gather`` prints one JSON object: ``units`` (``systemctl show`` properties), ``paths`` (exists,
is_file), and on request ``kubeconfig`` (its text), ``haproxy`` (``haproxy -c``, ``show stat``, and
Rancher's ``/ping`` through every server address HAProxy dials) and ``rancher_cluster_ip`` (the
``cattle-system/rancher`` Service's HTTPS port pinged from this host). ``ping`` prints the body of
one ``/ping`` answer, or exits non-zero with the error.
"""

import json
import os
import socket
import ssl
import subprocess
import sys


def command(*arguments):
    """This file as ``python3 -c <source> <arguments>``, one shell command line (called where the
    project is, never on the host).

    Example:
        command("ping", "10.0.0.111", "443", "rancher.example.net")
    """
    from facts.python3_program import python3_command

    return python3_command(__file__, *arguments)


def ping(address, port, name, scheme="https"):
    """Body of Rancher's ``/ping`` at ``address:port`` with SNI and Host ``name``, as HAProxy's check
    sends it; ``scheme`` ``http`` for a plain HTTP hop (TLS ended before, ``rancher.tls: external``)."""
    request = ("GET /ping HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n" % name).encode()
    with socket.create_connection((address, int(port)), timeout=5) as raw:
        if scheme == "http":
            raw.sendall(request)
            answer = b"".join(iter(lambda: raw.recv(4096), b""))
        else:
            context = ssl.create_default_context()
            # Reachability, not trust: verify/ checks trust through HAProxy, against the CA the mode implies.
            context.check_hostname, context.verify_mode = False, ssl.CERT_NONE
            with context.wrap_socket(raw, server_hostname=name) as tls:
                tls.sendall(request)
                answer = b"".join(iter(lambda: tls.recv(4096), b""))
    return answer.split(b"\r\n\r\n", 1)[-1].decode(errors="replace")


def ping_result(address, port, name, scheme="https"):
    try:
        return {"body": ping(address, port, name, scheme), "error": ""}
    except OSError as error:
        return {"body": "", "error": "no answer: %s" % error}


def run(*command):
    done = subprocess.run(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True)
    return done.returncode, done.stdout, done.stderr


def unit_properties(unit, names):
    """``systemctl show`` properties of one unit; a repeated property (ExecStartPre) keeps every line."""
    _, out, _ = run("systemctl", "show", unit, *["--property=" + name for name in names])
    found = {name: [] for name in names}  # type: dict[str, list[str]]
    for line in out.splitlines():
        key, _, value = line.partition("=")
        if key in found:
            found[key].append(value)
    return {name: "\n".join(values) for name, values in found.items()}


def show_stat(config):
    """``show stat`` from the stats socket the live config declares."""
    path = ""
    with open(config) as lines:
        for line in lines:
            words = line.split()
            if words[:2] == ["stats", "socket"] and len(words) > 2:
                path = words[2]
                break
    with socket.socket(socket.AF_UNIX) as stats:
        stats.settimeout(5)
        stats.connect(path)
        stats.sendall(b"show stat\n")
        return b"".join(iter(lambda: stats.recv(65536), b"")).decode()


def server_addresses(stat_text, backend):
    """``{server: "ip:port"}`` of ``backend`` from ``show stat`` CSV."""
    lines = [line for line in stat_text.splitlines() if line.strip()]
    if not lines or not lines[0].startswith("# "):
        return {}
    header = lines[0][2:].split(",")
    # A row may carry fewer fields than the header (HAProxy drops trailing empty ones).
    rows = [dict(zip(header, line.split(","))) for line in lines[1:]]  # noqa: B905
    return {row["svname"]: row.get("addr", "") for row in rows
            if row.get("pxname") == backend and row.get("svname") not in ("FRONTEND", "BACKEND")}


def backend_mode(config, backend):
    """``tcp`` or ``http``: the ``mode`` of ``backend`` in the live config (HTTP when HAProxy ends TLS)."""
    mode, inside = "tcp", False
    try:
        with open(config) as lines:
            for line in lines:
                words = line.split()
                if words and not line[0].isspace():
                    inside = words[:2] == ["backend", backend]
                elif inside and words[:1] == ["mode"] and len(words) > 1:
                    mode = words[1]
    except OSError:
        pass  # haproxy -c reports the missing config; the pings then have no servers anyway
    return mode


def haproxy_view(request):
    code, out, err = run("haproxy", "-c", "-f", request["config"])
    view = {"check_rc": code, "check_output": err + out, "show_stat": "", "show_stat_error": "", "pings": {}}
    try:
        view["show_stat"] = show_stat(request["config"])
    except OSError as error:
        view["show_stat_error"] = str(error)
    scheme = "http" if backend_mode(request["config"], request["backend"]) == "http" else "https"
    for server, address in server_addresses(view["show_stat"], request["backend"]).items():
        ip, _, port = address.rpartition(":")
        view["pings"][server] = ping_result(ip, port, request["hostname"], scheme)
    return view


def rancher_cluster_ip(name):
    code, out, err = run("k3s", "kubectl", "get", "service", "-n", "cattle-system", "rancher", "-o", "json",
                         "--request-timeout=10s")
    if code != 0:
        return {"address": "", "port": 0, "body": "", "error": (err.strip().splitlines() or ["no answer"])[-1]}
    spec = json.loads(out)["spec"]
    ports = spec.get("ports") or [{"port": 0}]
    # 443, else the first port named for https (Rancher's Service serves both 80 and 443)
    chosen = next((p for p in ports if p.get("port") == 443), None) or next(
        (p for p in ports if "https" in (p.get("name") or "")), ports[0])
    result = {"address": spec.get("clusterIP", ""), "port": chosen["port"]}
    result.update(ping_result(result["address"], result["port"], name))
    return result


def gather(request):
    facts = {  # type: dict[str, object]
        "units": {unit: unit_properties(unit, names) for unit, names in request.get("units", {}).items()},
        "paths": {path: {"exists": os.path.exists(path), "is_file": os.path.isfile(path)}
                  for path in request.get("paths", [])},
    }
    if request.get("kubeconfig"):
        try:
            with open(request["kubeconfig"]) as kubeconfig:
                facts["kubeconfig"] = kubeconfig.read()
        except OSError as error:
            facts["kubeconfig_error"] = str(error)
    if request.get("haproxy"):
        facts["haproxy"] = haproxy_view(request["haproxy"])
    if request.get("rancher_cluster_ip"):
        facts["rancher_cluster_ip"] = rancher_cluster_ip(request["rancher_cluster_ip"])
    return facts


def main(argv):
    if argv[1] == "ping":
        try:
            sys.stdout.write(ping(*argv[2:6]))
        except OSError as error:
            sys.exit("no answer: %s" % error)
        return
    json.dump(gather(json.loads(argv[2])), sys.stdout)


if __name__ == "__main__":
    main(sys.argv)
