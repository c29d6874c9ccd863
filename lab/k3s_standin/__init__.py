"""k3s stand-in for the lab: a k3s-compatible binary (API server, controllers, kubelet) in pure Python.

It exists because real k3s cannot be downloaded in the lab; the product's code, the real kubectl and
the official Kubernetes Python client talk to it exactly as they would to k3s.
"""

K3S_VERSION = "v1.31.4+k3s1"
KUBE_VERSION = "v1.31.4"
