"""The API verbs over an in-memory store (no HTTP): immutability of stored versions, no-op updates."""

from __future__ import annotations

import pytest

from k3s_standin.apiserver.admission import Admission
from k3s_standin.apiserver.bootstrap import SYSTEM_NAMESPACES
from k3s_standin.apiserver.errors import ApiError
from k3s_standin.apiserver.operations import Operations
from k3s_standin.apiserver.patch import MERGE, STRATEGIC
from k3s_standin.apiserver.resources import REGISTRY
from k3s_standin.apiserver.store import Store

NODES = REGISTRY.lookup("", "v1", "nodes")
NAMESPACES = REGISTRY.lookup("", "v1", "namespaces")
PODS = REGISTRY.lookup("", "v1", "pods")


@pytest.fixture
def operations() -> Operations:
    return Operations(Store(None), Admission("10.43.0.0/16", {}))


def test_patch_leaves_the_stored_previous_version_untouched(operations):
    first = operations.create(NODES, "", {"metadata": {"name": "n1"}})
    operations.patch(NODES, "", "n1", {"spec": {"unschedulable": True}}, STRATEGIC)
    assert (first["metadata"]["resourceVersion"], "unschedulable" in first["spec"]) == ("2", False)


def test_a_patch_that_changes_nothing_keeps_the_resource_version(operations):
    created = operations.create(NODES, "", {"metadata": {"name": "n1", "labels": {"a": "1"}}})
    patched = operations.patch(NODES, "", "n1", {"metadata": {"labels": {"a": "1"}}}, MERGE)
    assert patched["metadata"]["resourceVersion"] == created["metadata"]["resourceVersion"]


def test_a_patch_carrying_a_stale_resource_version_is_a_conflict(operations):
    operations.create(NODES, "", {"metadata": {"name": "n1"}})
    operations.patch(NODES, "", "n1", {"metadata": {"labels": {"a": "1"}}}, MERGE)
    with pytest.raises(ApiError) as error:
        operations.patch(NODES, "", "n1", {"metadata": {"resourceVersion": "2", "labels": {"a": "2"}}}, MERGE)
    assert error.value.code == 409


def test_generate_name_gets_a_random_suffix(operations):
    created = operations.create(NAMESPACES, "", {"metadata": {"generateName": "job-"}})
    assert created["metadata"]["name"].startswith("job-") and len(created["metadata"]["name"]) == 9


def test_invalid_name_is_422(operations):
    with pytest.raises(ApiError) as error:
        operations.create(NODES, "", {"metadata": {"name": "Not_Valid"}})
    assert error.value.code == 422


def test_system_namespaces_cannot_be_deleted(operations):
    operations.create(NAMESPACES, "", {"metadata": {"name": SYSTEM_NAMESPACES[0]}})
    with pytest.raises(ApiError) as error:
        operations.delete(NAMESPACES, "", SYSTEM_NAMESPACES[0], {})
    assert error.value.code == 403


def _running_pod(operations: Operations) -> None:
    operations.create(NAMESPACES, "", {"metadata": {"name": "default"}})
    operations.create(PODS, "default", {"metadata": {"name": "p"},
                                        "spec": {"nodeName": "n1", "containers": [{"name": "c", "image": "x"}]}})


def test_a_terminating_pod_stays_until_the_kubelet_deletes_it(operations):
    _running_pod(operations)
    operations.delete(PODS, "default", "p", {})
    operations.patch(PODS, "default", "p", {"status": {"phase": "Succeeded"}}, MERGE, "status")
    assert operations.get(PODS, "default", "p")["metadata"]["deletionGracePeriodSeconds"] == 30


def test_removing_the_last_finalizer_of_a_terminated_object_deletes_it(operations):
    operations.create(NAMESPACES, "", {"metadata": {"name": "default"}})
    config_maps = REGISTRY.lookup("", "v1", "configmaps")
    operations.create(config_maps, "default", {"metadata": {"name": "held", "finalizers": ["example.com/hold"]}})
    operations.delete(config_maps, "default", "held", {})
    operations.patch(config_maps, "default", "held", {"metadata": {"finalizers": None}}, MERGE)
    with pytest.raises(ApiError) as error:
        operations.get(config_maps, "default", "held")
    assert error.value.code == 404


def test_dry_run_create_checks_but_stores_nothing(operations):
    answered = operations.create(NAMESPACES, "", {"metadata": {"name": "probe"}}, dry_run=True)
    with pytest.raises(ApiError) as error:
        operations.create(NODES, "", {"metadata": {"name": "Not_A_Name"}}, dry_run=True)
    assert (answered["metadata"]["name"], operations.store.get(NAMESPACES.key, "", "probe"), error.value.code) == \
        ("probe", None, 422)
