"""The watcher is installed on hosts as a script and is an importable module in the checkout."""

from tasks.files import k3s_node_watcher


def load_watcher():
    """The watcher's module (``tasks/files/k3s_node_watcher.py``)."""
    return k3s_node_watcher
