"""The load scenario: a backlog through one instance, with its memory and rebalances."""

from __future__ import annotations

import json
import time
from pathlib import Path

from stream.chaos import Group, Instance, Report, article, count
from stream.config import Settings
from stream.produce import publish

SAMPLE_EVERY_S = 0.25


def load(group: Group, events: int, timeout_s: float = 1800.0) -> Report:
    """Publish `events` as a backlog, then drain it with one instance, sampling its RSS.

    Reports throughput from its first assignment to the last event, peak resident memory
    (the kernel's high-water marks of the service and its classification worker, added
    up), and how often the group rebalanced after the first
    assignment: any rebalance means a poll came later than max_poll_interval_ms.
    """
    started = time.monotonic()
    sent = publish(Settings(bootstrap_servers=group.bootstrap),
                   (article(i) for i in range(events)), group.topics[0])
    publish_s = time.monotonic() - started
    instance = group.start(0)
    group.wait_ready([instance])
    ready = time.monotonic()
    samples: list[int] = []
    done = 0.0
    while time.monotonic() - ready < timeout_s and instance.proc.poll() is None:
        samples.append(_tree_rss_kib(instance.proc.pid, "VmRSS"))
        done = instance.metric("geowire_events_consumed_total")
        if done >= sent:
            break
        time.sleep(SAMPLE_EVERY_S)
    drained_s = time.monotonic() - ready
    peak_kib = _tree_rss_kib(instance.proc.pid, "VmHWM")
    notes: dict[str, object] = {
        "published": sent,
        "publish_s": round(publish_s, 1),
        "consumed": int(done),
        "drain_s": round(drained_s, 1),
        "events_per_s": round(done / drained_s, 1) if drained_s else 0.0,
        "rss_start_mib": round(samples[0] / 1024, 1) if samples else None,
        "rss_peak_mib": round(peak_kib / 1024, 1),
        "rss_last_mib": round(samples[-1] / 1024, 1) if samples else None,
        "rebalances_after_first_assignment": _rebalances(instance),
        "max_poll_interval_exceeded": _poll_timeouts(instance),
    }
    report = count("load", group, sent, started, timeout_s=120, notes=notes)
    report.notes["exit_codes"] = group.stop_all()
    return report


def _tree_rss_kib(pid: int, field: str) -> int:
    """A memory figure of `pid` plus its child processes (the classification worker)."""
    return _rss_kib(pid, field) + sum(_rss_kib(child, field) for child in _children(pid))


def _children(pid: int) -> list[int]:
    children = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if fields[1] == str(pid):
            children.append(int(stat.parent.name))
    return children


def _rss_kib(pid: int, field: str) -> int:
    """A memory figure from /proc/<pid>/status, in KiB (0 once the process is gone)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except OSError:
        return 0
    return 0


def _log_messages(instance: Instance) -> list[str]:
    messages = []
    for line in instance.log_path.read_text(errors="replace").splitlines():
        try:
            messages.append(str(json.loads(line).get("message", "")))
        except ValueError:
            messages.append(line)
    return messages


def _rebalances(instance: Instance) -> int:
    assigned = [m for m in _log_messages(instance) if m == "partitions assigned"]
    return max(0, len(assigned) - 1)


def _poll_timeouts(instance: Instance) -> bool:
    return any("poll timeout" in m.lower() or "max_poll_interval" in m.lower()
               for m in _log_messages(instance))
