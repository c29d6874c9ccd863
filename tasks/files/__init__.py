"""Files the deploy installs on hosts as they are (the node watcher is also imported: repair
reuses its taint decisions)."""
