"""One definition of each name the deploy writes on hosts and the facts, repair and verify read back.

Example:

    from facts.names import RANCHER_BACKEND
"""

RANCHER_BACKEND = "backend_rancher"
