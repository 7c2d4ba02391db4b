"""Decode a dbload results file's histograms and an --hdr-log interval log
with Python's hdrh (HdrHistogram_py, the pip package `hdrhistogram`), an
implementation independent of dbload's, and print their percentiles as
JSON: {"results": {name: [p50, p90, p99, p99.9, max, count]}, "log": {...}}.

Percentiles are read from hdrh's decoded counts by nearest rank (the
ceil(q x count)-th value, as dbload's Rust histograms and HdrHistogram's
Java implementation define it); hdrh's own get_value_at_percentile rounds
the rank instead, and is printed alongside ("hdrh_own") for reference.
Usage: python3 decode.py RESULTS.json LOG.hlog"""
import json
import math
import sys

from hdrh.histogram import HdrHistogram
from hdrh.log import HistogramLogReader

QUANTILES = [0.5, 0.9, 0.99, 0.999]


def at_quantile(h, q):
    """The nearest-rank value at quantile q, from hdrh's counts."""
    rank = max(1, math.ceil(q * h.get_total_count()))
    seen = 0
    for index in range(h.counts_len):
        seen += h.get_count_at_index(index)
        if seen >= rank:
            return h.get_highest_equivalent_value(h.get_value_from_index(index))
    return 0


def figures(h):
    return [at_quantile(h, q) for q in QUANTILES] + [
        h.get_max_value(),
        h.get_total_count(),
    ]


def hdrh_own(h):
    return [h.get_value_at_percentile(q * 100) for q in QUANTILES]


def results_figures(path):
    r = json.load(open(path))
    total = HdrHistogram.decode(r["totals"]["histograms"]["total"])
    out = {"total": figures(total), "hdrh_own": hdrh_own(total)}
    for s in r["scenarios"]:
        out["scenario:" + s["name"]] = figures(HdrHistogram.decode(s["histograms"]["total"]))
        for st in s["statements"]:
            if st.get("exec_histogram"):
                out["statement:" + st["name"]] = figures(
                    HdrHistogram.decode(st["exec_histogram"])
                )
    return out


def log_figures(path):
    reader = HistogramLogReader(path, HdrHistogram(1, 3_600_000_000, 2))
    sums = {}
    lines = 0
    while True:
        h = reader.get_next_interval_histogram()
        if h is None:
            break
        lines += 1
        tag = h.get_tag()
        key = "total" if tag is None else "scenario:" + tag
        if key not in sums:
            sums[key] = HdrHistogram(1, 3_600_000_000, 2)
        sums[key].add(h)
    out = {k: figures(v) for k, v in sums.items()}
    out["lines"] = lines
    out["start_time"] = reader.get_start_time_sec()
    return out


if __name__ == "__main__":
    print(json.dumps({"results": results_figures(sys.argv[1]), "log": log_figures(sys.argv[2])}))
