#!/usr/bin/python3
"""Plot processing time against one-way inter-site delay (like the
research's figure) from tests/results/eval.csv; writes eval.png and eval.svg
next to it. Run with Debian's /usr/bin/python3 (python3-matplotlib).

usage: plot.py [eval.csv]
"""
import csv
import os
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def main(argv):
    path = argv[1] if len(argv) > 1 else os.path.join(os.path.dirname(__file__), "..", "results", "eval.csv")
    series = {}
    with open(path) as f:
        for row in csv.DictReader(f):
            series.setdefault(row["mode"], []).append(
                (int(row["delay_ms"]), float(row["seconds"]), int(row["tasks_ok"]), int(row["tasks_total"])))
    if not series:
        sys.exit("plot.py: %s has no rows" % path)
    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    styles = {"overlay": ("o-", "virtual cluster (N2N overlay)"), "underlay": ("s--", "plain sites (no overlay)"),
              "failover": ("^", "virtual cluster, a container dies")}
    total = 0
    for mode, pts in sorted(series.items()):
        pts.sort()
        style, label = styles.get(mode, ("^-", mode))
        ax.plot([p[0] for p in pts], [p[1] for p in pts], style, label=label)
        total = max(total, max(p[3] for p in pts))
        # The goal's band: the virtual cluster at 0 ms, plus or minus 5 %.
        base = [p[1] for p in pts if p[0] == 0]
        if mode == "overlay" and base:
            ax.axhspan(base[0] * 0.95, base[0] * 1.05, alpha=0.1, color="grey", label="overlay at 0 ms \u00b1 5 %")
    ax.set_xlabel("one-way delay between sites (ms)")
    ax.set_ylabel("processing time (s)")
    ax.set_title("Docking %d compounds (AutoDock Vina, Slurm) across 3 sites" % total)
    ax.set_ylim(bottom=0)
    ax.grid(True, alpha=0.3)
    ax.legend(loc="lower right")
    fig.tight_layout()
    base = os.path.splitext(path)[0]
    for ext in ("png", "svg"):
        # Fixed metadata so that the same table gives the same SVG.
        fig.savefig("%s.%s" % (base, ext), dpi=120, metadata={"Date": None} if ext == "svg" else None)
    print("plot.py: wrote %s.png and %s.svg" % (base, base))


if __name__ == "__main__":
    main(sys.argv)
