"""Placeholder for H2b's helm package (the helm-controller's install job); replaced at merge."""
