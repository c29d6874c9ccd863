"""testinfra suites that prove the cluster survived a restart (run: pytest verify/ --inventory <yaml>)."""
