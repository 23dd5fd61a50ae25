"""Where the CPU goes during a measurement: cores busy, per group of processes (Linux /proc)."""

from __future__ import annotations

import os
import time
from pathlib import Path

TICKS_PER_S = os.sysconf("SC_CLK_TCK")


def _process_table() -> dict[int, tuple[int, int]]:
    """pid -> (parent pid, CPU ticks used: user + system) for every live process."""
    table = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            # The command name may hold spaces and parentheses: split after its closing one.
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        table[int(stat.parent.name)] = (int(fields[1]), int(fields[11]) + int(fields[12]))
    return table


def _tree(table: dict, roots) -> set[int]:
    children: dict[int, list[int]] = {}
    for pid, (parent, _) in table.items():
        children.setdefault(parent, []).append(pid)
    found, stack = set(), [root for root in roots if root in table]
    while stack:
        pid = stack.pop()
        found.add(pid)
        stack.extend(children.get(pid, []))
    return found


def _machine_busy_ticks() -> int:
    # /proc/stat's first line: user nice system idle iowait irq softirq steal ...
    values = [int(value) for value in Path("/proc/stat").read_text().split("\n")[0].split()[1:]]
    return sum(values[:8]) - values[3] - values[4]


class CpuUse:
    """``with CpuUse({"server": [pid], ...}):`` then ``summary()``: the average number of cores
    each group kept busy (a group is its root processes and all their descendants). What this
    process started besides the groups (the browser) is "browser"; the rest of the machine,
    "other"."""

    def __init__(self, groups: dict[str, list[int]]):
        self.groups = groups
        self.used: dict[str, float] = {}
        self.seconds = 0.0  # how long the block ran

    def _snapshot(self) -> tuple[float, int, dict[int, tuple[int, int]]]:
        return time.monotonic(), _machine_busy_ticks(), _process_table()

    def __enter__(self):
        self._start = self._snapshot()
        return self

    def __exit__(self, *exc_info):
        started, machine_before, before = self._start
        ended, machine_after, after = self._snapshot()
        seconds = self.seconds = max(ended - started, 1e-9)

        def cores(pids) -> float:
            ticks = sum(after[pid][1] - before.get(pid, (0, 0))[1] for pid in pids if pid in after)
            return ticks / TICKS_PER_S / seconds

        grouped = {name: _tree(after, roots) for name, roots in self.groups.items()}
        ours = _tree(after, [os.getpid()]) - {os.getpid()}
        grouped["browser"] = ours - set().union(*grouped.values())
        self.used = {name: cores(pids) for name, pids in grouped.items()}
        machine = (machine_after - machine_before) / TICKS_PER_S / seconds
        self.used["other"] = max(machine - sum(self.used.values()), 0.0)

    def summary(self) -> str:
        return ", ".join(f"{name} {value:.2f}" for name, value in self.used.items())
