"""The etcd leader promotes learners, as k3s-io/k3s pkg/etcd/etcd.go `manageLearners` and
`trackLearnerProgress` do: every 15 s (`manageTickerTime`) the server whose member is the etcd leader
tries `MemberPromote` on the first learner; etcd refuses while the learner is not in sync with the
leader ("etcdserver: can only promote a learner member which is in sync with leader"), and the next
tick tries again. Not modelled: the eviction of a learner stalled for 5 minutes (`learnerMaxStallTime`).

Example:
    threading.Thread(target=manage_learners, args=(member.local,), daemon=True).start()
"""

from __future__ import annotations

import sys
import time

from k3s_standin.etcd.gateway import EtcdError, Gateway

MANAGE_TICKER_SECONDS = 15.0


def manage_learners(local: Gateway, ticker: float = MANAGE_TICKER_SECONDS) -> None:
    """Run for the life of the server (a daemon thread); each tick is `promote_first_learner`."""
    while True:
        time.sleep(ticker)
        promote_first_learner(local)


def promote_first_learner(local: Gateway) -> str:
    """On the leader, promote the first learner listed; returns its name once promoted, else ""."""
    try:
        status = local.status()
        if str(status.get("header", {}).get("member_id")) != str(status.get("leader")):
            return ""
        learner = next((member for member in local.members() if member.get("isLearner")), None)
        if learner is None:
            return ""
        local.promote(str(learner["ID"]))
    except EtcdError:
        return ""
    print(f'level=info msg="Promoted learner {learner.get("name", "")}"', file=sys.stderr, flush=True)
    return learner.get("name", "")
