#!/usr/bin/env python3
"""Turns RemoteBenchmarks' JMH JSON into the ratios issue 5 sets targets for (Markdown)."""
import json
import statistics
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
c_hot = us("copy64MiBRawLoopbackCacheResident")[0] if "copy64MiBRawLoopbackCacheResident" in results else None
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
print(f"| 64 MiB host-to-device | {gibs(c_h):.2f} GiB/s | raw loopback socket, 64 MiB array to array {gibs(c_raw):.2f} GiB/s |")
print(f"| 64 MiB device-to-host | {gibs(c_d):.2f} GiB/s | raw loopback socket, 64 MiB array to array {gibs(c_raw):.2f} GiB/s |")
if c_hot is not None:
    print(f"\nFor reference, a cache-resident 1 MiB array written 64 times into a 1 MiB reader (the copies' "
          f"baseline before 2026-11-27): {gibs(c_hot):.2f} GiB/s; against it, host-to-device reaches "
          f"{c_hot / c_h:.0%} and device-to-host {c_hot / c_d:.0%}.")
print()
print("| target | value | goal | |")
print("| --- | --- | --- | --- |")
print(row("round trip / raw ping-pong", f"{rt / rt_raw:.2f}x", "<= 1.5x", rt / rt_raw <= 1.5))
print(row("pipelined launch rate / local rate", f"{l_local / l_remote:.0%}", ">= 50%", l_local / l_remote >= 0.5))
print(row("HtoD bandwidth / raw socket", f"{c_raw / c_h:.0%}", ">= 70%", c_raw / c_h >= 0.7))
print(row("DtoH bandwidth / raw socket", f"{c_raw / c_d:.0%}", ">= 70%", c_raw / c_d >= 0.7))


def native(path):
    """Rounds of "name value unit" lines (one per timed iteration), split at "# round N"."""
    rounds, values = [], None
    for line in open(path):
        if line.startswith("#"):
            values = {}
            rounds.append(values)
            continue
        if values is None:  # a file without round markers: one round
            values = {}
            rounds.append(values)
        name, value, _unit = line.split()
        values.setdefault(name, []).append(float(value))
    return [{k: statistics.median(v) for k, v in r.items()} for r in rounds]


def spread(values, fmt):
    return f"{fmt(statistics.median(values))} ({fmt(min(values))}–{fmt(max(values))})"


if len(sys.argv) > 4:
    local, remote = native(sys.argv[3]), native(sys.argv[4])
    n = min(len(local), len(remote))
    local, remote = local[:n], remote[:n]
    print("\n## Native driver-API program (bench/remote/native_remote_bench.cc)\n")
    print(f"The same binary on the simulated driver in-process, then through the forwarding "
          f"`libcuda.so.1` to a worker, {n} rounds in turn; every run measured its own loopback "
          f"baselines. Each figure is the median of a run's 5 timed iterations (after its warm-up); "
          f"the table gives the median over the rounds and, in brackets, the lowest and highest "
          f"round: the spread is the machine's noise. Each round's ratio uses that round's "
          f"figures. A remote measurement and its baseline take turns, one timed iteration "
          f"each.\n")
    print("| measurement | through the forwarding driver | baseline | ratio | goal | |")
    print("| --- | --- | --- | --- | --- | --- |")

    def line(label, key, base_label, base, ratio, ratio_fmt, goal, ok, unit_fmt):
        rs = [ratio(l, r) for l, r in zip(local, remote)]
        med = statistics.median(rs)
        print(f"| {label} | {spread([r[key] for r in remote], unit_fmt)} | {base_label} "
              f"{spread(base, unit_fmt)} | {spread(rs, ratio_fmt)} | {goal} | {'met' if ok(med) else 'NOT met'} |")

    us_fmt = lambda v: f"{v:.2f} µs"
    gib_fmt = lambda v: f"{v:.2f} GiB/s"
    # The forwarding driver polls its socket for a while before it blocks (wait_policy.h); the
    # like-for-like baseline is the ping-pong that waits the same way, where the run measured it.
    rt_key = "raw_round_trip_polled" if all("raw_round_trip_polled" in r for r in remote) else "raw_round_trip"
    rt_label = "raw ping-pong, polled as the driver waits" if rt_key != "raw_round_trip" else "raw ping-pong"
    line("cuCtxSynchronize, idle", "ctx_synchronize", rt_label, [r[rt_key] for r in remote],
         lambda l, r: r["ctx_synchronize"] / r[rt_key], lambda v: f"{v:.2f}x", "<= 1.5x",
         lambda v: v <= 1.5, us_fmt)
    if all("launch" in r for r in local + remote):
        line("cuLaunchKernel, 256 per sync", "launch", "in-process", [l["launch"] for l in local],
             lambda l, r: l["launch"] / r["launch"], lambda v: f"{v:.0%}", ">= 50% of local rate",
             lambda v: v >= 0.5, us_fmt)
    for k, label in (("htod", "cuMemcpyHtoD 64 MiB"), ("dtoh", "cuMemcpyDtoH 64 MiB")):
        line(label, k, "raw socket, 64 MiB array to array", [r["raw_copy"] for r in remote],
             lambda l, r, k=k: r[k] / r["raw_copy"], lambda v: f"{v:.0%}", ">= 70%",
             lambda v: v >= 0.7, gib_fmt)
    if rt_key != "raw_round_trip":
        blocking = [r["raw_round_trip"] for r in remote]
        print(f"\nThe forwarding driver waits for a reply as the driver waits for the GPU: it polls its "
              f"socket (up to `GPUPOOL_REMOTE_SPIN_US`, default 200 µs) before it blocks. The round trip's "
              f"baseline waits the same way. The ping-pong with a blocking read took "
              f"{spread(blocking, us_fmt)}; against it the idle `cuCtxSynchronize` is "
              f"{spread([r['ctx_synchronize'] / r['raw_round_trip'] for r in remote], lambda v: f'{v:.2f}x')}.")
    hot = [r["raw_stream"] for r in remote]
    print(f"\nThe copies' baseline moves the bytes a 64 MiB copy moves: from a 64 MiB array, in 1 MiB "
          f"writes, into a 64 MiB array. For reference, one cache-resident 1 MiB array written 64 times "
          f"into a 1 MiB reader (the copies' baseline before 2026-11-27) ran at {spread(hot, gib_fmt)}; "
          f"against it, host-to-device reaches "
          f"{spread([r['htod'] / r['raw_stream'] for r in remote], lambda v: f'{v:.0%}')} and "
          f"device-to-host {spread([r['dtoh'] / r['raw_stream'] for r in remote], lambda v: f'{v:.0%}')}.")
    print("\nIn-process on the sim, the same rounds: "
          + ", ".join(f"{name} {spread([l[key] for l in local], fmt)}" for name, key, fmt in
                      (("cuCtxSynchronize", "ctx_synchronize", us_fmt), ("cuMemcpyHtoD", "htod", gib_fmt),
                       ("cuMemcpyDtoH", "dtoh", gib_fmt))) + ".")

if len(sys.argv) > 5 and any(True for _ in open(sys.argv[5])):
    tls = native(sys.argv[5])[0]
    print("\n### Over TLS\n")
    print("One run of the same program through the forwarding driver to a worker over TLS (self-signed "
          "certificate for localhost, verified), after the rounds above; no target. Its own loopback "
          "baselines are plain TCP.\n")
    print("| measurement | over TLS | plain, median of the rounds above | TLS / plain |")
    print("| --- | --- | --- | --- |")
    for label, key, fmt, unit in (("cuCtxSynchronize, idle", "ctx_synchronize", "{:.2f} µs", "time"),
                                  ("cuLaunchKernel, 256 per sync", "launch", "{:.2f} µs", "time"),
                                  ("cuMemcpyHtoD 64 MiB", "htod", "{:.2f} GiB/s", "rate"),
                                  ("cuMemcpyDtoH 64 MiB", "dtoh", "{:.2f} GiB/s", "rate")):
        if key not in tls:
            continue
        plain = statistics.median(r[key] for r in remote)
        ratio = tls[key] / plain
        print(f"| {label} | {fmt.format(tls[key])} | {fmt.format(plain)} | "
              f"{ratio:.2f}x {'time' if unit == 'time' else 'bandwidth'} |")
