"""The upgrade's end: the Deployments rolled out before it started must be rolled out again
(facts/deployments.py, tasks/deployments_settled.py); one that was not is none of its business."""

from __future__ import annotations

import json

from facts.cluster_nodes import API_DOWN
from facts.deployments import RolledOutDeployments, rolled_out_names
from tasks.deployments_settled import not_rolled_out
from tests.unit.kube_objects import deployment


def listing(*deployments: dict, namespace: str = "cattle-system") -> dict:
    return {"items": [{**item, "metadata": {**item["metadata"], "namespace": namespace}} for item in deployments]}


def test_only_rolled_out_deployments_are_named_with_their_namespace():
    listed = listing(deployment("rancher", replicas=2), deployment("webhook", replicas=2, unavailable=1))
    assert rolled_out_names(listed) == frozenset({"cattle-system/rancher"})


def test_the_fact_reads_a_whole_list_or_says_the_api_is_down():
    listed = json.dumps(listing(deployment("rancher"))).splitlines()
    assert RolledOutDeployments().process(listed) == frozenset({"cattle-system/rancher"})
    assert RolledOutDeployments().process([API_DOWN]) is None


def test_a_deployment_whose_evicted_pod_is_not_available_yet_is_named():
    before = frozenset({"cattle-system/rancher", "kube-system/traefik"})
    now = rolled_out_names(listing(deployment("rancher", replicas=2, unavailable=1)))
    assert not_rolled_out(before, now) == "not rolled out again: cattle-system/rancher, kube-system/traefik"


def test_every_deployment_of_before_rolled_out_again_is_no_problem_and_others_do_not_count():
    now = rolled_out_names(listing(deployment("rancher", replicas=2)))
    assert not_rolled_out(frozenset({"cattle-system/rancher"}), now) == ""


def test_an_api_that_does_not_answer_is_no_answer():
    assert not_rolled_out(frozenset({"cattle-system/rancher"}), None) == "the API does not answer"
