"""Connectors that reach hosts this project deploys to (pyinfra's SSH connector covers the rest)."""
