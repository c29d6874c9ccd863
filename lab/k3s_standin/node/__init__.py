"""The node side of `k3s server` and `k3s agent` (kubelet, kube-proxy, pod network, image store),
one module each; `agent.py` runs them (upstream: k3s-io/k3s pkg/agent/run.go). Empty on purpose:
`k3s ctr` reads the image store without loading the kubelet (real k3s's ctr is a small Go command).
"""
