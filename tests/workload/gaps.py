#!/usr/bin/python3
"""Where the wide-area delay goes in a batch: per batch, the dispatch gaps
(on each Slurm node, the time from one task's end to the start of the next
task there) and how busy the task slots were (time in tasks over
nodes x span), from the per-task tables that
`make eval` keeps in tests/results/tasks/ (<mode>-<ms>ms.tsv, nodes.tsv).

usage: gaps.py [tasks-dir]
"""
import csv
import os
import statistics
import sys


def load(path):
    with open(path) as f:
        return [r for r in csv.DictReader(f, delimiter="\t") if r["start"] != "-" and r["end"] != "-"]


def main(argv):
    d = argv[1] if len(argv) > 1 else os.path.join(os.path.dirname(__file__), "..", "results", "tasks")
    sites = {}
    with open(os.path.join(d, "nodes.tsv")) as f:
        for r in csv.DictReader(f, delimiter="\t"):
            sites[r["node"]] = r["site"]
    home = min(sites.values())  # site A holds the virtual frontend (slurmctld)
    print("%-16s %5s %8s %9s %10s %9s %9s %11s %11s" % (
        "batch", "tasks", "span_s", "task_med", "slots_busy", "gap_med", "gap_p90", "gap_med_A", "gap_med_B,C"))
    names = sorted(n for n in os.listdir(d) if n.endswith(".tsv") and n != "nodes.tsv")
    names.sort(key=lambda n: (n.split("-")[0], int(n.split("-")[1][:-6])))
    for name in names:
        rows = load(os.path.join(d, name))
        if not rows:
            continue
        per = {}
        for r in rows:
            per.setdefault(r["node"], []).append((float(r["start"]), float(r["end"])))
        gaps, local, remote = [], [], []
        for node, ts in per.items():
            ts.sort()
            for a, b in zip(ts, ts[1:]):
                g = b[0] - a[1]
                gaps.append(g)
                (local if sites.get(node) == home else remote).append(g)
        if not gaps:
            continue
        gaps.sort()
        span = max(e for ts in per.values() for _, e in ts) - min(s for ts in per.values() for s, _ in ts)
        task = statistics.median(e - s for ts in per.values() for s, e in ts)
        busy = sum(e - s for ts in per.values() for s, e in ts) / (len(per) * span)
        med = lambda xs: "%.3f" % statistics.median(xs) if xs else "-"
        print("%-16s %5d %8.1f %9.2f %9.1f%% %9.3f %9.3f %11s %11s" % (
            name[:-4], len(rows), span, task, 100 * busy, statistics.median(gaps),
            gaps[min(len(gaps) - 1, int(0.9 * len(gaps)))], med(local), med(remote)))


if __name__ == "__main__":
    main(sys.argv)
