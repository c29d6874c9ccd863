"""The lab's own bridge: a private /24 with this machine at .1, no route and no NAT out.

An nftables table drops anything forwarded between the bridge and any other interface, so even
on a machine with IP forwarding on, lab traffic stays among the lab's containers and this machine.

Example:

    ensure_bridge(); remove_bridge()
"""

from __future__ import annotations

import subprocess

from topology import BRIDGE, HOST_IP, PREFIX_LEN

NFT_TABLE = "k3slab"
NFT_RULES = f"""
table inet {NFT_TABLE} {{
  chain forward {{
    type filter hook forward priority -10; policy accept;
    iifname "{BRIDGE}" oifname != "{BRIDGE}" drop
    oifname "{BRIDGE}" iifname != "{BRIDGE}" drop
  }}
}}
"""


def ensure_bridge() -> None:
    """Create the bridge, its address and the isolation rules if any is missing."""
    if subprocess.run(["ip", "link", "show", BRIDGE], capture_output=True).returncode != 0:
        _ip("link", "add", BRIDGE, "type", "bridge")
    addresses = subprocess.run(["ip", "-o", "-4", "addr", "show", BRIDGE], capture_output=True, text=True).stdout
    if f" {HOST_IP}/{PREFIX_LEN} " not in addresses:
        _ip("addr", "add", f"{HOST_IP}/{PREFIX_LEN}", "dev", BRIDGE)
    _ip("link", "set", BRIDGE, "up")
    subprocess.run(["nft", "delete", "table", "inet", NFT_TABLE], capture_output=True)
    subprocess.run(["nft", "-f", "-"], input=NFT_RULES, text=True, check=True)


def remove_bridge() -> None:
    subprocess.run(["nft", "delete", "table", "inet", NFT_TABLE], capture_output=True)
    subprocess.run(["ip", "link", "del", BRIDGE], capture_output=True)


def bridge_up() -> bool:
    result = subprocess.run(["ip", "-o", "-4", "addr", "show", BRIDGE], capture_output=True, text=True)
    return result.returncode == 0 and f" {HOST_IP}/" in result.stdout


def _ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True)
