// shim_overhead — what the gpupool shim adds per driver call.
//
//   shim_overhead --shim <libgpupool-shim.so> --out <file.md> [--reps 3]
//                 [--limit 8GiB] [--machine "text"] [--command "text"]
//
// Runs itself as a child per configuration — without the shim (baseline) and
// with LD_PRELOAD=<shim> GPUPOOL_MEMORY_LIMIT=<limit> — alternating, --reps
// times each, in the same run, on the driver that LD_LIBRARY_PATH (or the
// system) provides. Each child measures, as the best of N rounds of M calls,
// the ns per call of:
//   cuLaunchKernel       spin kernel with 0 ns (the cheapest launch), 1 thread
//   cuMemAlloc+cuMemFree 1 MiB, one pair
//   cuMemcpyHtoDAsync    4 bytes from page-locked memory
//   cuMemGetInfo         (the virtualised query)
// Streams are synchronised between rounds, outside the timed part. Writes a
// Markdown table (ns without, ns with, added ns, ratio) and prints it.
// Target (issue 3): the launch path adds < 50 ns when no time-slice gate is active.
#include <algorithm>
#include <map>
#include <vector>

#include "shim_test.h"

namespace {

struct Bench {
  const char* name;
  int calls;  // M per round
};
constexpr int kRounds = 30;  // N

// One round of `calls` timed calls; returns ns per call.
template <typename F>
double time_round(int calls, F&& body) {
  auto t0 = std::chrono::steady_clock::now();
  for (int i = 0; i < calls; ++i) body();
  auto t1 = std::chrono::steady_clock::now();
  return std::chrono::duration<double, std::nano>(t1 - t0).count() / calls;
}

struct Stat {
  double best = 1e300, median = 0;
};

template <typename F, typename G>
Stat measure(int calls, F&& body, G&& between) {
  std::vector<double> v;
  for (int r = 0; r < kRounds + 2; ++r) {  // two warm-up rounds
    double ns = time_round(calls, body);
    between();
    if (r >= 2) v.push_back(ns);
  }
  std::sort(v.begin(), v.end());
  return {v.front(), v[v.size() / 2]};
}

// Child: prints "<call>\t<best ns>\t<median ns>" lines and "device\t<name>".
int measure_all() {
  CUdevice dev = dt::init_primary();
  char name[256] = {0};
  cuDeviceGetName(name, sizeof name, dev);
  int version = 0;
  cuDriverGetVersion(&version);
  std::printf("device\t%s (driver API %d)\n", name, version);
  CUstream s = nullptr;
  REQUIRE_CU(cuStreamCreate(&s, CU_STREAM_NON_BLOCKING), CUDA_SUCCESS);
  CUmodule mod = dt::load_kernel_module("spin");
  CUfunction spin = dt::get_function(mod, "spin");
  bool ok = true;

  unsigned long long zero_ns = 0;
  void* args[] = {&zero_ns};
  Stat launch = measure(
      1000, [&] { ok &= cuLaunchKernel(spin, 1, 1, 1, 1, 1, 1, 0, s, args, nullptr) == CUDA_SUCCESS; },
      [&] { cuStreamSynchronize(s); });
  std::printf("cuLaunchKernel\t%.1f\t%.1f\n", launch.best, launch.median);

  Stat alloc = measure(
      200,
      [&] {
        CUdeviceptr p = 0;
        ok &= cuMemAlloc(&p, st::kMiB) == CUDA_SUCCESS;
        ok &= cuMemFree(p) == CUDA_SUCCESS;
      },
      [] {});
  std::printf("cuMemAlloc+cuMemFree (1 MiB)\t%.1f\t%.1f\n", alloc.best, alloc.median);

  void* host = nullptr;
  CUdeviceptr dst = 0;
  REQUIRE_CU(cuMemAllocHost(&host, 4096), CUDA_SUCCESS);
  REQUIRE_CU(cuMemAlloc(&dst, 4096), CUDA_SUCCESS);
  Stat copy = measure(
      1000, [&] { ok &= cuMemcpyHtoDAsync(dst, host, 4, s) == CUDA_SUCCESS; }, [&] { cuStreamSynchronize(s); });
  std::printf("cuMemcpyHtoDAsync (4 B, pinned)\t%.1f\t%.1f\n", copy.best, copy.median);

  Stat info = measure(
      1000,
      [&] {
        size_t f = 0, t = 0;
        ok &= cuMemGetInfo(&f, &t) == CUDA_SUCCESS;
      },
      [] {});
  std::printf("cuMemGetInfo\t%.1f\t%.1f\n", info.best, info.median);

  cuStreamSynchronize(s);
  cuMemFree(dst);
  cuMemFreeHost(host);
  cuModuleUnload(mod);
  cuStreamDestroy(s);
  dt::release_primary(dev);
  if (!ok) std::printf("error\ta call failed during the measurement\n");
  return ok && dt::failure_count() == 0 ? 0 : 1;
}

struct Result {
  std::string device;
  std::vector<std::string> order;
  std::map<std::string, Stat> stats;
  bool ok = false;
};

Result run_child(bool with_shim, const std::string& shim, const std::string& limit) {
  st::SpawnOptions o;
  std::string job = "shim-overhead-" + std::to_string(getpid());
  if (with_shim) {
    o.env.put("LD_PRELOAD", shim).put("GPUPOOL_MEMORY_LIMIT", limit).put("GPUPOOL_JOB", job).drop("GPUPOOL_LOG");
  } else {
    o.env.no_shim();
  }
  o.capture_stdout = true;
  st::Child c = st::spawn(st::self_exe(), {"--measure"}, o);
  std::string out = st::read_all(c.out_fd);
  int rc = st::wait_child(c.pid, 300000);
  if (with_shim) st::unlink_regions(job);
  Result r;
  r.ok = rc == 0;
  size_t pos = 0;
  while (pos < out.size()) {
    size_t end = out.find('\n', pos);
    std::string line = out.substr(pos, end - pos);
    pos = end == std::string::npos ? out.size() : end + 1;
    size_t t1 = line.find('\t');
    if (t1 == std::string::npos) {
      std::fprintf(stderr, "%s\n", line.c_str());
      continue;
    }
    std::string key = line.substr(0, t1);
    std::string rest = line.substr(t1 + 1);
    if (key == "device") {
      r.device = rest;
    } else if (key == "error") {
      std::fprintf(stderr, "%s: %s\n", with_shim ? "with shim" : "without shim", rest.c_str());
    } else {
      Stat s;
      if (std::sscanf(rest.c_str(), "%lf\t%lf", &s.best, &s.median) == 2) {
        r.order.push_back(key);
        r.stats[key] = s;
      }
    }
  }
  if (!r.ok) std::fprintf(stderr, "%s: child exited with %d\n%s", with_shim ? "with shim" : "without shim", rc, out.c_str());
  return r;
}

// Keeps the faster of two runs of the same configuration, call by call.
void keep_best(Result& into, const Result& r) {
  if (into.order.empty()) {
    into = r;
    return;
  }
  for (auto& [k, s] : r.stats) {
    Stat& t = into.stats[k];
    t.best = std::min(t.best, s.best);
    t.median = std::min(t.median, s.median);
  }
  into.ok = into.ok && r.ok;
}

std::string arg(int argc, char** argv, const char* name, const std::string& fallback) {
  for (int i = 1; i + 1 < argc; ++i)
    if (std::string(argv[i]) == name) return argv[i + 1];
  return fallback;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc > 1 && std::string(argv[1]) == "--measure") return measure_all();
  const std::string shim = arg(argc, argv, "--shim", "");
  const std::string out_path = arg(argc, argv, "--out", "");
  const int reps = std::max(1, std::atoi(arg(argc, argv, "--reps", "3").c_str()));
  const std::string limit = arg(argc, argv, "--limit", "8GiB");
  const std::string machine = arg(argc, argv, "--machine", "");
  const std::string command = arg(argc, argv, "--command", "");
  if (shim.empty() || out_path.empty() || !dt::file_exists(shim)) {
    std::fprintf(stderr, "usage: shim_overhead --shim <libgpupool-shim.so> --out <file.md> [--reps N] "
                         "[--limit 8GiB] [--machine TEXT] [--command TEXT]\n");
    return 2;
  }
  Result without, with;
  for (int i = 0; i < reps; ++i) {  // alternating, so drift hits both alike
    keep_best(without, run_child(false, shim, limit));
    keep_best(with, run_child(true, shim, limit));
  }
  if (!without.ok || !with.ok) {
    std::fprintf(stderr, "a measurement failed\n");
    return 1;
  }
  const char* launch = "cuLaunchKernel";
  double launch_added = with.stats[launch].best - without.stats[launch].best;
  std::string md;
  char line[512];
  md += "# Shim overhead per driver call\n\n";
  md += "- device: " + without.device + "\n";
  if (!machine.empty()) md += "- machine: " + machine + "\n";
  if (!command.empty()) md += "- command: `" + command + "`\n";
  std::snprintf(line, sizeof line,
                "- method: best of %d rounds of M calls (M = 1000; 200 for alloc+free) in each of %d runs per "
                "configuration, alternating; baseline = the same binary without `LD_PRELOAD`, in the same run; "
                "with the shim: `GPUPOOL_MEMORY_LIMIT=%s`, no time-slice gate\n\n",
                kRounds, reps, limit.c_str());
  md += line;
  md += "| call | ns without shim | ns with shim | added ns | ratio | median without | median with |\n";
  md += "| --- | ---: | ---: | ---: | ---: | ---: | ---: |\n";
  for (const auto& k : without.order) {
    const Stat& a = without.stats[k];
    const Stat& b = with.stats[k];
    std::snprintf(line, sizeof line, "| %s | %.1f | %.1f | %+.1f | %.3f | %.1f | %.1f |\n", k.c_str(), a.best,
                  b.best, b.best - a.best, b.best / a.best, a.median, b.median);
    md += line;
  }
  std::snprintf(line, sizeof line, "\nTarget: `cuLaunchKernel` added < 50 ns: %+.1f ns -> %s\n", launch_added,
                launch_added < 50 ? "met" : "NOT met");
  md += line;
  std::fputs(md.c_str(), stdout);
  FILE* f = std::fopen(out_path.c_str(), "w");
  if (!f) {
    std::perror(out_path.c_str());
    return 1;
  }
  std::fputs(md.c_str(), f);
  std::fclose(f);
  return 0;
}
