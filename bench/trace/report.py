#!/usr/bin/env python3
"""Turns the `gpupool simulate` outputs of bench/trace/run.sh into bench/results/trace-openb.md:
pooled against the static baseline of the same run, and the replay time against its target."""
import os
import re
import sys

machine, logs = sys.argv[1], sys.argv[2]
UNITS = {"s": 1, "min": 60, "h": 3600, "d": 86400}


def parse(name):
    text = open(os.path.join(logs, name)).read()
    times = {m[0]: float(m[1]) for m in re.findall(r"^(\w+): replayed in ([\d.]+) s$", text, re.M)}
    rows = {}
    for line in text.splitlines():
        m = re.match(r"^(\S.*?|  \S.*?)\s{2,}(\S+(?: \S+)?)\s{2,}(\S+(?: \S+)?)$", line)
        if m and not line.startswith(("Replay", "tasks:")):
            rows[m[1].strip()] = (m[2], m[3])
    return text, times, rows


def number(v):
    m = re.match(r"^([\d.]+)(%| s| min| h| d)?$", v)
    if not m:
        return None
    x = float(m[1])
    unit = (m[2] or "").strip()
    return x / 100 if unit == "%" else x * UNITS.get(unit, 1)


def ratio(base, fig):
    b, f = number(base), number(fig)
    if b is None or f is None:
        return "—"
    if b == 0:
        return "=" if f == 0 else "—"
    return f"{f / b:.2f}x"


CONFIGS = [("all.txt", "whole cluster (1,213 nodes, 6,212 GPUs)"), ("nodes-24.txt", "first 24 nodes (60 GPUs)"),
           ("best-24.txt", "first 24 nodes, best-effort queue"),
           ("nodes-16.txt", "first 16 nodes (32 GPUs)"), ("best-16.txt", "first 16 nodes, best-effort queue"),
           ("nodes-10.txt", "first 10 nodes (20 GPUs)"), ("best-10.txt", "first 10 nodes, best-effort queue"),
           ("whole-16.txt", "first 16 nodes, demand whole"),
           ("whole-best-16.txt", "first 16 nodes, demand whole, best-effort queue")]
FINDINGS = open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "findings.md")).read()
SWEEP = [(k, f"p100-{k}.txt") for k in (17, 18, 19, 20, 21, 22)]
FIGURES = ["GPU allocation rate", "device-time utilisation", "queueing delay p50", "queueing delay p95",
           "queueing delay mean", "job completion time p95", "job completion time mean", "fragmented GPUs (mean)"]

print("# Trace replay: Alibaba openb 2023, static vs pooled\n")
print(f"Machine: {machine}. Command: `bash bench/trace/run.sh` (`gpupool simulate`, demand *request* unless said).")
print("Static (every task holds whole GPUs) is the baseline, replayed in the same run; the ratio is pooled / static.")
print("Issue 7 sets no target for these figures: they are what the trace shows. Modelling assumptions: README, "
      "`gpupool simulate`.\n")
_, times, _ = parse("all.txt")
total = sum(times.values())
print("| figure | value | target | |")
print("| --- | --- | --- | --- |")
print(f"| replay of openb_pod_list_default.csv (8,152 tasks), both policies | {total:.1f} s "
      f"(static {times.get('static', 0):.1f} s, pooled {times.get('pooled', 0):.1f} s) | < 60 s | "
      f"{'met' if total < 60 else 'NOT met'} |\n")
print(FINDINGS)
print("## Chance: the same two 8-GPU nodes beside k of the 2-GPU P100 nodes (strict FIFO)\n")
print("k = 22 is the first 24 nodes. Queueing delay, static / pooled:\n")
print("| P100 nodes | GPUs | mean static | mean pooled | p95 static | p95 pooled | pooled wins on mean |")
print("| ---: | ---: | ---: | ---: | ---: | ---: | --- |")
for k, name in SWEEP:
    _, _, rows = parse(name)
    ms, mp = rows["queueing delay mean"]
    ps, pp = rows["queueing delay p95"]
    print(f"| {k} | {2 * k + 16} | {ms} | {mp} | {ps} | {pp} | {'yes' if number(mp) < number(ms) else 'no'} |")
print()
for name, title in CONFIGS:
    text, times, rows = parse(name)
    print(f"## {title}\n")
    print("| figure | static (baseline) | pooled | pooled / static |")
    print("| --- | ---: | ---: | ---: |")
    for f in FIGURES:
        if f in rows:
            s, p = rows[f]
            print(f"| {f} | {s} | {p} | {ratio(s, p)} |")
    print()
print("## Terminal output\n")
for name, title in CONFIGS + [("fill.txt", "openb_pod_list_multigpu50.csv (no times: fill mode), whole cluster")]:
    text, _, _ = parse(name)
    print(f"{title}:\n\n```\n{text.rstrip()}\n```\n")
