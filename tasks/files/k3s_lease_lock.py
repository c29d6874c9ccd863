#!/usr/bin/env python3
"""A Lease lock in Kubernetes, taken and released with compare-and-swap through ``k3s kubectl``
(tasks/cluster_lock.py explains the protocol): the one definition of the lock, which the deploy runs
on a control node with ``python3 -c`` and the node watcher runs installed on every server.

    k3s_lease_lock.py <namespace> <name> <reason-annotation> take <holder> <reason> <seconds>
    k3s_lease_lock.py <namespace> <name> <reason-annotation> release <holder>

Prints one JSON line: {"result": "taken"|"held"|"released"|"not-held"|"raced"|"api-unreachable", ...}.
"""
import datetime
import json
import subprocess
import sys

NAMESPACE, NAME, ANNOTATION = sys.argv[1], sys.argv[2], sys.argv[3]
action, holder = sys.argv[4], sys.argv[5]

def kubectl(*args, body=None):
    done = subprocess.run(["k3s", "kubectl", "--request-timeout=10s", *args], input=body,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True)
    return done.returncode, done.stdout, done.stderr

def say(result, **fields):
    print(json.dumps(dict(result=result, **fields)))
    sys.exit(0)

now = datetime.datetime.now(datetime.timezone.utc)
stamp = now.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
code, out, err = kubectl("get", "lease", "-n", NAMESPACE, NAME, "-o", "json")
if code != 0 and "NotFound" not in err:
    say("api-unreachable", error=(err.strip().splitlines() or ["no answer"])[-1])
lease = json.loads(out) if code == 0 else None
metadata = (lease or {}).get("metadata") or {}
spec = (lease or {}).get("spec") or {}
current = spec.get("holderIdentity") or ""
renewed = spec.get("renewTime") or spec.get("acquireTime")
expires = 0.0
if renewed:
    expires = datetime.datetime.fromisoformat(renewed.replace("Z", "+00:00")).timestamp() \
        + int(spec.get("leaseDurationSeconds") or 0)
left = max(0, int(expires - now.timestamp()))
if action == "release":
    if current != holder:
        say("not-held", holder=current)
    spec.update(holderIdentity="", leaseDurationSeconds=1, renewTime=stamp)
    code, out, err = kubectl("replace", "-f", "-", body=json.dumps(lease))
    say("released" if code == 0 else "raced", error=err.strip()[-200:])
reason, seconds = sys.argv[6], int(sys.argv[7])
if current and current != holder and left > 0:
    say("held", holder=current, reason=(metadata.get("annotations") or {}).get(ANNOTATION, ""),
        seconds_left=left)
wanted_metadata = {"name": NAME, "namespace": NAMESPACE, "annotations": {ANNOTATION: reason}}
wanted = {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease", "metadata": wanted_metadata,
          "spec": {"holderIdentity": holder, "leaseDurationSeconds": seconds, "renewTime": stamp,
                   "acquireTime": spec.get("acquireTime") if current == holder else stamp}}
if lease is None:
    code, out, err = kubectl("create", "-f", "-", body=json.dumps(wanted))
else:
    wanted_metadata["resourceVersion"] = metadata["resourceVersion"]
    code, out, err = kubectl("replace", "-f", "-", body=json.dumps(wanted))
say("taken" if code == 0 else "raced", error=err.strip()[-200:])
