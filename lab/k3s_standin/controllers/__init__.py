"""The controllers of `k3s server` (kube-controller-manager, kube-scheduler, k3s's own), one module
each; `manager.py` starts them (upstream: kubernetes/kubernetes cmd/kube-controller-manager/app,
k3s-io/k3s pkg/server/server.go). Empty on purpose: `k3s ctr` and `k3s kubectl` import a module of
this package without starting, or loading, every controller.
"""
