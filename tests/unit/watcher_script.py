"""The watcher is an extension-less script installed on hosts; tests import it from tasks/files/."""

import importlib.machinery
import importlib.util
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[2] / "tasks" / "files" / "k3s-node-watcher"


def load_watcher():
    """Import ``tasks/files/k3s-node-watcher`` as the module ``k3s_node_watcher``."""
    if "k3s_node_watcher" not in sys.modules:
        loader = importlib.machinery.SourceFileLoader("k3s_node_watcher", str(SCRIPT))
        module = importlib.util.module_from_spec(importlib.util.spec_from_loader(loader.name, loader))
        sys.modules[loader.name] = module
        loader.exec_module(module)
    return sys.modules["k3s_node_watcher"]
