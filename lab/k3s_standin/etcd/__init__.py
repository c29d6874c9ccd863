"""Embedded etcd of an HA `k3s server`: the real etcd binary (Debian's `etcd-server`, /usr/bin/etcd) as
a child process, its v3 JSON gateway as the datastore client, cluster membership and snapshots, as
k3s-io/k3s pkg/etcd does. Used only when the server has `cluster-init: true` or `server:`; a
single server keeps sqlite (`apiserver/database.py`).
"""
