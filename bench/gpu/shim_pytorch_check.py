#!/usr/bin/env python3
"""PyTorch under the gpupool shim, on a real GPU (run by bench/gpu/shim-pytorch.sh).

Expects to run with LD_PRELOAD=libgpupool-shim.so, GPUPOOL_MEMORY_LIMIT=<limit> and a
GPUPOOL_JOB of its own; PYTORCH_CUDA_ALLOC_CONF selects the allocator configuration.
Checks, each printed as PASS/FAIL:
  - torch.cuda.mem_get_info() reports the quota as total, and free <= total; so does
    torch.cuda.get_device_properties(0).total_memory;
  - torch.empty(limit + 1 GiB) raises torch.cuda.OutOfMemoryError;
  - 3/4 of the quota can be allocated (the quota is usable), and freed;
  - a small MLP trains for 50 steps, loss decreasing;
  - filling the quota in 256 MiB tensors stops with OutOfMemoryError near the quota;
  - NVML inside the job shows the quota (the shim interposes its memory query): pynvml's
    nvmlDeviceGetMemoryInfo in this process, and nvidia-smi run under the shim, report the
    quota as total and no more than it as used;
  - the process's physical GPU memory stays within quota + the CUDA context, measured by
    this script right after the context was created and before any allocation (plus a
    128 MiB margin). Physical: NVML's per-process list (not interposed), or nvidia-smi
    run without LD_PRELOAD; never the interposed memory query.
Prints a JSON summary last and writes it to --json. Exit 0 when all checks pass.
"""
import argparse
import json
import os
import subprocess
import sys
import time

MIB = 1 << 20
GIB = 1 << 30


def parse_size(text):
    units = {"KiB": 1 << 10, "MiB": MIB, "GiB": GIB, "TiB": 1 << 40, "KB": 10**3, "MB": 10**6, "GB": 10**9}
    for unit, mult in units.items():
        if text.endswith(unit):
            return int(float(text[: -len(unit)]) * mult)
    return int(text)


def without_shim():
    """This process's environment without LD_PRELOAD: a child that sees the GPU as it is."""
    env = dict(os.environ)
    env.pop("LD_PRELOAD", None)
    return env


def nvml_job_view(usage, limit, check):
    """NVML's memory query inside the job (interposed by the shim) shows the quota."""
    if usage.nvml is not None:
        info = usage.nvml.nvmlDeviceGetMemoryInfo(usage.handle)
        check("NVML in the job: total == quota", info.total == limit,
              f"total {info.total / MIB:.0f} MiB, used {info.used / MIB:.0f} MiB, free {info.free / MIB:.0f} MiB")
        check("NVML in the job: used <= quota, free <= total - used",
              info.used <= limit and info.free <= info.total - info.used)
    try:
        out = subprocess.run(["nvidia-smi", "--query-gpu=memory.total,memory.used", "--format=csv,noheader,nounits",
                              "-i", "0"], capture_output=True, text=True, timeout=20).stdout  # under the shim
        total_mib, used_mib = (int(x) for x in out.strip().splitlines()[0].split(","))
        check("nvidia-smi under the shim: memory.total == quota", total_mib * MIB == limit,
              f"{total_mib} MiB total, {used_mib} MiB used")
    except Exception as e:  # noqa: BLE001
        check("nvidia-smi under the shim: memory.total == quota", False, f"{type(e).__name__}: {e}"[:200])


class GpuUsage:
    """This process's GPU memory as the driver's management side reports it."""

    def __init__(self):
        self.method = None
        self.nvml = None
        self.handle = None
        try:
            import pynvml  # nvidia-ml-py

            pynvml.nvmlInit()
            self.nvml = pynvml
            index = int(os.environ.get("GPUPOOL_CHECK_NVML_INDEX", "0"))
            self.handle = pynvml.nvmlDeviceGetHandleByIndex(index)
        except Exception as e:  # noqa: BLE001 - any failure means: use nvidia-smi
            print(f"   info: pynvml unavailable ({e}); using nvidia-smi", flush=True)
        self.baseline_device_used = self.device_used()

    def device_used(self):
        """The device's physical used memory: nvidia-smi outside the shim (in this process,
        NVML's memory query answers with the job's view)."""
        try:
            out = subprocess.run(
                ["nvidia-smi", "--query-gpu=memory.used", "--format=csv,noheader,nounits", "-i", "0"],
                capture_output=True, text=True, timeout=20, env=without_shim()).stdout
            return int(out.strip().splitlines()[0]) * MIB
        except Exception:  # noqa: BLE001
            return None

    def process_used(self):
        """Bytes used by this pid; falls back to the device's used memory above the
        baseline taken before CUDA was initialised (when pids are not visible, e.g. in a
        container's pid namespace)."""
        pid = os.getpid()
        if self.nvml is not None:
            try:
                procs = self.nvml.nvmlDeviceGetComputeRunningProcesses(self.handle)
                for p in procs:
                    if p.pid == pid and p.usedGpuMemory is not None:
                        self.method = "nvml per-process"
                        return p.usedGpuMemory
            except Exception:  # noqa: BLE001
                pass
        try:
            out = subprocess.run(
                ["nvidia-smi", "--query-compute-apps=pid,used_memory", "--format=csv,noheader,nounits"],
                capture_output=True, text=True, timeout=20, env=without_shim()).stdout
            for line in out.splitlines():
                parts = [x.strip() for x in line.split(",")]
                if len(parts) == 2 and parts[0] == str(pid):
                    self.method = "nvidia-smi per-process"
                    return int(parts[1]) * MIB
        except Exception:  # noqa: BLE001
            pass
        used = self.device_used()
        if used is None or self.baseline_device_used is None:
            return None
        self.method = "device used - baseline before cuInit"
        return used - self.baseline_device_used


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--config", default="default")
    ap.add_argument("--limit", default=os.environ.get("GPUPOOL_MEMORY_LIMIT", "4GiB"))
    ap.add_argument("--json", default=None)
    ap.add_argument("--steps", type=int, default=50)
    args = ap.parse_args()
    limit = parse_size(args.limit)
    results = []
    summary = {"config": args.config, "limit_bytes": limit,
               "alloc_conf": os.environ.get("PYTORCH_CUDA_ALLOC_CONF", ""),
               "ld_preload": os.environ.get("LD_PRELOAD", ""), "job": os.environ.get("GPUPOOL_JOB", "")}

    def check(name, ok, detail=""):
        results.append({"check": name, "pass": bool(ok), "detail": detail})
        print(f"{'PASS' if ok else 'FAIL'} {name}{': ' + detail if detail else ''}", flush=True)
        return ok

    usage = GpuUsage()
    import torch  # after the NVML baseline

    summary["torch"] = torch.__version__
    summary["torch_cuda"] = torch.version.cuda
    if not check("torch sees a GPU", torch.cuda.is_available()):
        return finish(summary, results, args.json)
    summary["device"] = torch.cuda.get_device_name(0)
    dev = torch.device("cuda:0")
    samples = []

    def sample(tag):
        u = usage.process_used()
        samples.append({"at": tag, "bytes": u})
        return u

    # mem_get_info creates the context (cudaMemGetInfo needs one) and allocates nothing.
    free, total = torch.cuda.mem_get_info(0)
    with open("/proc/self/maps") as f:  # which driver and shim this process runs on
        summary["mapped"] = sorted({line.split()[-1] for line in f
                                    if "libcuda" in line or "gpupool" in line or "libcudart" in line})
    time.sleep(0.5)
    context = sample("context, no allocation")
    summary["context_bytes"] = context
    summary["usage_method"] = usage.method
    summary["mem_get_info"] = {"free": free, "total": total}
    check("mem_get_info total == quota", total == limit, f"total {total / MIB:.0f} MiB, quota {limit / MIB:.0f} MiB")
    check("mem_get_info free <= total", free <= total, f"free {free / MIB:.0f} MiB")
    props_total = torch.cuda.get_device_properties(0).total_memory
    summary["device_properties_total"] = props_total
    check("get_device_properties(0).total_memory == quota", props_total == limit,
          f"{props_total / MIB:.0f} MiB")
    nvml_job_view(usage, limit, check)
    print(f"   info: CUDA context: {context / MIB if context is not None else float('nan'):.0f} MiB "
          f"({usage.method})", flush=True)

    over = limit + GIB
    try:
        t = torch.empty(over, dtype=torch.uint8, device=dev)
        del t
        check(f"torch.empty({over / GIB:.0f} GiB) raises OutOfMemoryError", False, "it succeeded")
    except torch.cuda.OutOfMemoryError as e:
        check(f"torch.empty({over / GIB:.0f} GiB) raises OutOfMemoryError", True, str(e).splitlines()[0][:160])
    except Exception as e:  # noqa: BLE001
        check(f"torch.empty({over / GIB:.0f} GiB) raises OutOfMemoryError", False, f"{type(e).__name__}: {e}"[:300])
    torch.cuda.empty_cache()

    try:
        t = torch.empty(limit * 3 // 4, dtype=torch.uint8, device=dev)
        t.fill_(1)
        torch.cuda.synchronize()
        sample("3/4 of the quota held")
        del t
        torch.cuda.empty_cache()
        check("3/4 of the quota can be allocated", True)
    except Exception as e:  # noqa: BLE001
        check("3/4 of the quota can be allocated", False, f"{type(e).__name__}: {e}"[:300])

    # A small MLP on a synthetic regression task.
    torch.manual_seed(0)
    model = torch.nn.Sequential(
        torch.nn.Linear(512, 1024), torch.nn.ReLU(),
        torch.nn.Linear(1024, 1024), torch.nn.ReLU(),
        torch.nn.Linear(1024, 1)).to(dev)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    x = torch.randn(4096, 512, device=dev)
    w = torch.randn(512, 1, device=dev) / 512 ** 0.5
    y = torch.tanh(x @ w)
    losses = []
    try:
        for step in range(args.steps):
            idx = torch.randint(0, x.shape[0], (256,), device=dev)
            loss = torch.nn.functional.mse_loss(model(x[idx]), y[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            losses.append(loss.item())
            if step % 10 == 0:
                sample(f"training step {step}")
        first, last = sum(losses[:5]) / 5, sum(losses[-5:]) / 5
        summary["loss_first5"], summary["loss_last5"] = first, last
        check(f"training: {args.steps} steps, loss decreasing", last < first, f"{first:.4f} -> {last:.4f}")
    except Exception as e:  # noqa: BLE001
        check(f"training: {args.steps} steps, loss decreasing", False, f"{type(e).__name__}: {e}"[:300])
    sample("after training")

    # Fill the quota in 256 MiB pieces: stops with OutOfMemoryError, close to the quota.
    pieces = []
    err = None
    try:
        for _ in range(2 * limit // (256 * MIB)):
            pieces.append(torch.empty(256 * MIB, dtype=torch.uint8, device=dev))
    except torch.cuda.OutOfMemoryError as e:
        err = e
    held = max(torch.cuda.memory_reserved(0), torch.cuda.memory_allocated(0))
    sample("quota filled in 256 MiB pieces")
    summary["fill_pieces"] = len(pieces)
    summary["fill_reserved_bytes"] = held
    check("filling the quota stops with OutOfMemoryError", err is not None, f"{len(pieces)} pieces of 256 MiB")
    check("filling gets within 512 MiB of the quota", held + 512 * MIB >= limit,
          f"reserved {held / MIB:.0f} MiB of {limit / MIB:.0f} MiB")
    del pieces
    torch.cuda.empty_cache()

    allowance = (context or 0) + 128 * MIB
    known = [s["bytes"] for s in samples if s["bytes"] is not None]
    peak = max(known) if known else None
    summary["samples"] = samples
    summary["peak_process_bytes"] = peak
    summary["allowed_bytes"] = limit + allowance
    if peak is None:
        check("GPU memory seen by NVML stays within quota + context", False, "no sample could be taken")
    else:
        check("GPU memory seen by NVML stays within quota + context", peak <= limit + allowance,
              f"peak {peak / MIB:.0f} MiB <= {limit / MIB:.0f} + context {(context or 0) / MIB:.0f} + 128 MiB "
              f"({usage.method})")
    return finish(summary, results, args.json)


def finish(summary, results, path):
    summary["checks"] = results
    summary["passed"] = all(r["pass"] for r in results) and bool(results)
    text = json.dumps(summary, indent=2)
    print(text, flush=True)
    if path:
        with open(path, "w") as f:
            f.write(text + "\n")
    return 0 if summary["passed"] else 1


if __name__ == "__main__":
    sys.exit(main())
