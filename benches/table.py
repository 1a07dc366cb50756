#!/usr/bin/env python3
"""Prints the last criterion results of the cardadmin benches as a Markdown table, with each
cardadmin bench's ratio to the raw-crate bench of its group.

Run from the repository root after `cargo bench`:

    python3 benches/table.py

Columns, all in time per iteration: criterion's headline estimate (the slope of its linear
sampling, the middle figure `cargo bench` prints), the median and the fastest of its samples.
The fastest sample is the figure least disturbed by other processes on a shared machine.
"""

import json
import os
import sys

ROOT = os.path.join("target", "criterion")

# (group directory, cardadmin bench, raw bench or None)
ROWS = [
    ("respond", "cardadmin", "raw_des"),
    ("respond", "cardadmin", "raw_des_again"),
    ("from_bytes+respond", "cardadmin", "raw_des"),
    ("from_bytes+respond", "cardadmin", "raw_des_again"),
    ("verify", "cardadmin", "raw_des"),
    ("diversify", "cardadmin", "raw_cmac_cloned_schedule"),
    ("diversify", "cardadmin", "raw_cmac_new_key"),
    ("authentication_response", "diversified_cardadmin", "diversified_raw_crates"),
    ("authentication_response", "not_diversified_cardadmin", "not_diversified_raw_crates"),
    ("parse", "challenge_cardadmin", "challenge_raw_base64"),
    ("parse", "card_id_cardadmin", "card_id_raw_hex"),
    ("generate", "default", None),
    ("generate", "all_four_4", None),
    ("validate", "default", None),
    ("validate", "all_four_4", None),
]


def load(group, bench):
    base = os.path.join(ROOT, group, bench, "new")
    try:
        with open(os.path.join(base, "estimates.json")) as f:
            estimates = json.load(f)
        with open(os.path.join(base, "sample.json")) as f:
            sample = json.load(f)
    except OSError:
        return None
    headline = (estimates.get("slope") or estimates["mean"])["point_estimate"]
    fastest = min(t / n for t, n in zip(sample["times"], sample["iters"]))
    return headline, estimates["median"]["point_estimate"], fastest


def fmt(ns):
    return f"{ns / 1000:.3f} µs" if ns >= 1000 else f"{ns:.1f} ns"


def main():
    print("| group | bench | estimate | median | fastest sample | raw bench | raw estimate | "
          "raw fastest | ratio (estimate) | ratio (fastest) |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    missing = 0
    for group, bench, raw in ROWS:
        ours = load(group, bench)
        if ours is None:
            missing += 1
            continue
        cells = [group, bench, fmt(ours[0]), fmt(ours[1]), fmt(ours[2])]
        theirs = load(group, raw) if raw else None
        if theirs is None:
            cells += [raw or "-", "-", "-", "-", "-"]
        else:
            cells += [raw, fmt(theirs[0]), fmt(theirs[2]),
                      f"{ours[0] / theirs[0]:.3f}", f"{ours[2] / theirs[2]:.3f}"]
        print("| " + " | ".join(cells) + " |")
    if missing:
        print(f"({missing} benches have no result under {ROOT}: run `cargo bench` first)",
              file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
