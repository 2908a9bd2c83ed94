#!/usr/bin/python3
"""Plots playclock-bench's samples.csv (series,ms) as a PNG: latency distributions per scale
expiry lateness, the soak's ledger and the dashboard's live feed. Usage: bench-plot.py SAMPLES.csv OUT.png"""
import csv
import sys
from collections import defaultdict

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def main() -> int:
    if len(sys.argv) != 3:
        print(__doc__, file=sys.stderr)
        return 2
    series = defaultdict(list)
    with open(sys.argv[1], newline="") as f:
        for row in csv.DictReader(f):
            series[row["series"]].append(float(row["ms"]))
    if not series:
        print("no samples in " + sys.argv[1], file=sys.stderr)
        return 1

    fig, axes = plt.subplots(1, 4, figsize=(24, 5.5))
    panels = [
        (axes[0], "request -> unlock at the agent", lambda s: s.startswith("request->unlock")),
        (axes[0], None, lambda s: s.startswith("broker round trip")),
        (axes[1], "expiry: arrival - ends_at", lambda s: s.startswith("expiry")),
        (axes[2], "soak: |agent unlocked time - SQLite used time|", lambda s: s.startswith("soak")),
        (axes[3], "dashboard: command -> response (dashed), state, agent", lambda s: s.startswith("dashboard")),
    ]
    for ax, title, keep in panels:
        for name in sorted((n for n in series if keep(n)), key=lambda n: (n.split("@")[0], int(n.split("@")[1]) if "@" in n else 0)):
            values = sorted(abs(v) if name.startswith("soak") else v for v in series[name])
            fraction = [(i + 1) / len(values) for i in range(len(values))]
            style = "--" if name.startswith("broker") or name.startswith("dashboard command->response") else "-"
            ax.step(values, fraction, style, where="post", label=f"{name} (n={len(values)})")
        if title:
            ax.set_title(title)
        ax.set_xlabel("ms")
        ax.set_ylabel("fraction of samples (CDF)")
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize=8, loc="lower right")
    axes[0].set_xscale("log")
    axes[0].set_title("request -> unlock (solid) vs bare broker round trip (dashed)")
    fig.suptitle("playclock-bench latency distributions")
    fig.tight_layout()
    fig.savefig(sys.argv[2], dpi=90)
    return 0


if __name__ == "__main__":
    sys.exit(main())
