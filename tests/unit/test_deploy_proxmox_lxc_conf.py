"""How the opt-in Proxmox task edits a container conf (pure logic)."""

from tasks.proxmox_lxc import K3S_LXC_LINES, KMSG_BIND, conf_with

CONF = ["arch: amd64", "hostname: k3s-worker-1", "lxc.apparmor.profile: generated", "[vzdump]", "snapstate: prepare"]


def test_wanted_lines_go_before_the_first_snapshot_section():
    assert conf_with(CONF, K3S_LXC_LINES) == [
        "arch: amd64", "hostname: k3s-worker-1", "features: nesting=1,keyctl=1",
        "lxc.apparmor.profile: unconfined", "lxc.cgroup2.devices.allow: a", "lxc.cap.drop:",
        'lxc.mount.auto: "proc:rw sys:rw"',
        "[vzdump]", "snapstate: prepare",
    ]


def test_a_conf_that_has_everything_is_unchanged():
    done = conf_with(CONF, K3S_LXC_LINES)
    assert conf_with(done, K3S_LXC_LINES) == done


def test_kmsg_bind_is_added_beside_other_mount_entries():
    conf = ["hostname: a", "lxc.mount.entry: /srv srv none bind 0 0", "features: nesting=1,keyctl=1"]
    assert conf_with(conf, (KMSG_BIND,)) == conf + ["lxc.mount.entry: /dev/kmsg dev/kmsg none defaults,bind,create=file"]


def test_the_dead_cgroup_v1_devices_key_is_replaced_by_the_cgroup2_one():
    conf = ["hostname: a", "lxc.cgroup.devices.allow: a", "features: nesting=1,keyctl=1"]
    assert conf_with(conf, K3S_LXC_LINES)[:4] == ["hostname: a", "features: nesting=1,keyctl=1",
                                                  "lxc.apparmor.profile: unconfined", "lxc.cgroup2.devices.allow: a"]


def test_k3s_features_are_switched_on_and_the_containers_others_kept():
    conf = ["hostname: a", "features: fuse=1,nesting=0", "[vzdump]"]
    assert conf_with(conf, ())[:2] == ["hostname: a", "features: fuse=1,nesting=1,keyctl=1"]
