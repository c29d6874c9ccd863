"""The output of a fact whose one command prints several things, each after a marker line.

Example:

    split_sections(["a", "--- unit k3s.service", "LoadState=loaded"], "--- unit ")
    {"": ["a"], "--- unit k3s.service": ["LoadState=loaded"]}
"""

from __future__ import annotations


def split_sections(lines: list[str], *markers: str) -> dict[str, list[str]]:
    """The lines under each marker line (one that starts with a marker), keyed by that whole
    line; the lines before the first marker under ``""``."""
    sections: dict[str, list[str]] = {"": []}
    current = ""
    for line in lines:
        if line.startswith(markers):
            current = line
            sections[current] = []
        else:
            sections[current].append(line)
    return sections
