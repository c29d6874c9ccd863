"""The helm side of the stand-in: what klipper-helm's install Job does in its pod (`job.py`), the
chart archives it reads (`archive.py`), helm's kubeVersion check (`semver.py`), values (`values.py`),
release records (`releases.py`), applying a release (`kube.py`) and the charts it can render
(`charts/`).

Upstream: k3s-io/klipper-helm `entry`, helm/helm pkg/action, pkg/storage/driver/secrets.go.

Example:
    exit_code, log_lines = job.run(pod, pod["spec"]["containers"][0], api)
"""
