"""A chart's kubeVersion against the cluster's version, decided as helm's Masterminds/semver v3.3.0 does."""

from __future__ import annotations

import pytest

from tasks.kube_version import ConstraintError, satisfies


@pytest.mark.parametrize("version,constraint,fits", [
    # the bounds real charts carry (rancher 2.9.x: < 1.31.0-0; 2.10.x: < 1.32.0-0)
    ("v1.31.4+k3s1", "< 1.32.0-0", True),
    ("v1.31.4+k3s1", "< 1.31.0-0", False),
    ("v1.30.9+k3s1", "< 1.31.0-0", True),
    ("v1.31.4+k3s1", ">= 1.22.0-0", True),
    ("v1.21.0", ">= 1.22.0-0", False),
    ("v1.31.4", ">=1.23.0-0 <1.32.0-0", True),
    ("v1.31.4", ">=1.23.0-0, <1.31.0-0", False),
    # tilde, wildcards, caret
    ("v1.31.4", "~1.31", True),
    ("v1.32.0", "~1.31", False),
    ("v1.31.4", "~> 1.31.2", True),
    ("v1.31.1", "~1.31.2", False),
    ("v1.31.4", "1.31.x", True),
    ("v1.30.4", "1.31.*", False),
    ("v1.31.4", "1.x", True),
    ("v1.31.4", "*", True),
    ("v1.31.4", "^1.2", True),
    ("v2.0.0", "^1.2", False),
    ("v0.3.0", "^0.2", False),
    # a wildcard bound means the whole minor: > 1.31 starts at 1.32, <= 1.31 takes every 1.31
    ("v1.31.4", ">1.31", False),
    ("v1.32.0", ">1.31", True),
    ("v1.31.4", "<=1.31", True),
    ("v1.32.0", "<=1.31", False),
    ("v1.31.0", "<1.31", False),
    ("v1.31.4", "!=1.31.x", False),
    ("v1.30.4", "!=1.31.x", True),
    ("v1.31.4", "!=1.31.3", True),
    ("v1.31.4", "=1.31.4", True),
    ("v1.31.4", "1.31.3", False),
    # hyphen range: >= A, <= B
    ("v1.31.4", "1.20 - 1.31", True),
    ("v1.32.0", "1.20 - 1.31", False),
    # alternatives
    ("v1.31.4", "<1.20 || >=1.30", True),
    ("v1.25.0", "<1.20 || >=1.30", False),
    ("v1.19.2", "<1.20 || >=1.30", True),
    # build metadata is ignored
    ("v1.31.4+k3s2", "=1.31.4", True),
])
def test_helm_decides_these_the_same(version, constraint, fits):
    assert satisfies(version, constraint) is fits


@pytest.mark.parametrize("version,constraint,fits", [
    # a pre-release cluster (a k3s rc) meets only terms that name a pre-release (Masterminds issue 21)
    ("v1.31.0-rc1+k3s1", "< 1.32.0", False),
    ("v1.31.0-rc1+k3s1", ">= 1.22.0", False),
    ("v1.31.0-rc1+k3s1", "< 1.32.0-0", True),
    ("v1.31.0-rc1+k3s1", ">= 1.22.0-0 < 1.32.0-0", True),
    # 1.31.0-rc1 sorts after 1.31.0-0 (alphanumeric above numeric), so < 1.31.0-0 excludes it
    ("v1.31.0-rc1+k3s1", "< 1.31.0-0", False),
    ("v1.31.0-rc1", "1.31.x", False),
    ("v1.31.0-rc.2", ">= 1.31.0-rc.10", False),
    ("v1.31.0-rc.10", ">= 1.31.0-rc.2", True),
    # the release is above its own pre-releases
    ("v1.31.0", "> 1.31.0-rc.1", True),
])
def test_pre_releases_follow_semver_and_need_a_pre_release_term(version, constraint, fits):
    assert satisfies(version, constraint) is fits


@pytest.mark.parametrize("constraint", [
    "", "   ", "kubernetes", ">= abc", "1.2.3.4", "<1.20 ||", "|| >=1.30", ">=1.20 max", ">=1.20 foo <1.32",
    ">1.2<1.3", ">> 1.2", "~1.31; <1.32",
])
def test_a_constraint_helm_refuses_is_an_error_naming_it(constraint):
    with pytest.raises(ConstraintError, match="improper constraint"):
        satisfies("v1.31.4+k3s1", constraint)


def test_the_error_names_the_bad_alternative():
    with pytest.raises(ConstraintError) as error:
        satisfies("v1.31.4", ">=1.20 || < 1.3x")
    assert str(error.value) == "improper constraint: < 1.3x"


@pytest.mark.parametrize("version", ["", "1.31.x", "latest", "v1.31.4.1"])
def test_a_cluster_version_that_is_none_is_a_value_error(version):
    with pytest.raises(ValueError, match="not a version"):
        satisfies(version, ">= 1.20.0-0")
