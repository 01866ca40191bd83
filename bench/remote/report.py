#!/usr/bin/env python3
"""Turns RemoteBenchmarks' JMH JSON into the ratios issue 5 sets targets for (Markdown)."""
import json
import sys

results = {r["benchmark"].rsplit(".", 1)[1]: r["primaryMetric"] for r in json.load(open(sys.argv[1]))}
machine = sys.argv[2] if len(sys.argv) > 2 else "unknown machine"
MIB64 = 64 * 2**20


def us(name):
    m = results[name]
    err = m["scoreError"]
    return float(m["score"]), float(err) if isinstance(err, (int, float)) else float("nan")


def row(label, value, target, ok):
    return f"| {label} | {value} | {target} | {'met' if ok else 'NOT met'} |"


rt_raw, rt_raw_err = us("roundTripRawLoopback")
rt, rt_err = us("roundTripRemoteSynchronize")
l_local, _ = us("launchesLocal")
l_remote, _ = us("launchesRemotePipelined")
c_raw, _ = us("copy64MiBRawLoopback")
c_h, _ = us("copy64MiBRemoteHtoD")
c_d, _ = us("copy64MiBRemoteDtoH")


def gibs(t_us):
    return MIB64 / (t_us / 1e6) / 2**30


print("# Remote GPU benchmarks\n")
print(f"Machine: {machine}. JMH, 1 fork; times are averages per operation with JMH's 99.9% error.\n")
print("| measurement | result | baseline (same run) |")
print("| --- | --- | --- |")
print(f"| synchronous round trip (`synchronize()` on an idle session) | {rt:.1f} ± {rt_err:.1f} µs | raw loopback ping-pong {rt_raw:.1f} ± {rt_raw_err:.1f} µs |")
print(f"| pipelined launch (256 per batch, then synchronize) | {l_remote:.2f} µs/launch ({1e6 / l_remote:,.0f}/s) | in-process {l_local:.2f} µs/launch ({1e6 / l_local:,.0f}/s) |")
print(f"| 64 MiB host-to-device | {gibs(c_h):.2f} GiB/s | raw loopback socket {gibs(c_raw):.2f} GiB/s |")
print(f"| 64 MiB device-to-host | {gibs(c_d):.2f} GiB/s | raw loopback socket {gibs(c_raw):.2f} GiB/s |")
print()
print("| target | value | goal | |")
print("| --- | --- | --- | --- |")
print(row("round trip / raw ping-pong", f"{rt / rt_raw:.2f}x", "<= 1.5x", rt / rt_raw <= 1.5))
print(row("pipelined launch rate / local rate", f"{l_local / l_remote:.0%}", ">= 50%", l_local / l_remote >= 0.5))
print(row("HtoD bandwidth / raw socket", f"{c_raw / c_h:.0%}", ">= 70%", c_raw / c_h >= 0.7))
print(row("DtoH bandwidth / raw socket", f"{c_raw / c_d:.0%}", ">= 70%", c_raw / c_d >= 0.7))


def native(path):
    values = {}
    for line in open(path):
        name, value, _unit = line.split()
        values[name] = float(value)
    return values


if len(sys.argv) > 4:
    loc, rem = native(sys.argv[3]), native(sys.argv[4])
    print("\n## Native driver-API program (bench/remote/native_remote_bench.cc)\n")
    print("The same binary on the simulated driver in-process, then through the forwarding "
          "`libcuda.so.1` to a worker; each run measured its own loopback baselines.\n")
    print("| measurement | through the forwarding driver | baseline | ratio | goal |")
    print("| --- | --- | --- | --- | --- |")
    rt = rem["ctx_synchronize"] / rem["raw_round_trip"]
    print(f"| cuCtxSynchronize, idle | {rem['ctx_synchronize']:.1f} µs | raw ping-pong {rem['raw_round_trip']:.1f} µs | {rt:.2f}x | <= 1.5x |")
    if "launch" in rem and "launch" in loc:
        lr = loc["launch"] / rem["launch"]
        print(f"| cuLaunchKernel, 256 per sync | {rem['launch']:.2f} µs | in-process {loc['launch']:.2f} µs | {lr:.0%} of local rate | >= 50% |")
    for k, label in (("htod", "cuMemcpyHtoD 64 MiB"), ("dtoh", "cuMemcpyDtoH 64 MiB")):
        r = rem[k] / rem["raw_stream"]
        print(f"| {label} | {rem[k]:.2f} GiB/s | raw socket {rem['raw_stream']:.2f} GiB/s | {r:.0%} | >= 70% |")
