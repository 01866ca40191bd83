// The shim is quiet unless asked: a job that allocates, hits the quota, looks
// entry points up and frees prints nothing on stderr without GPUPOOL_LOG, and
// something with GPUPOOL_LOG=debug. A program that never touches CUDA runs
// under the shim unchanged (exit status, no output).
//
// ctest: GPUPOOL_MEMORY_LIMIT=64MiB.
#include <dlfcn.h>

#include "shim_test.h"

namespace {

// Role "work": a small job, stdout only.
int work() {
  CUdevice dev = dt::init_primary();
  const size_t quota = st::configured_quota();
  CUdeviceptr p = 0, q = 0;
  CHECK_CU(cuMemAlloc(&p, quota), CUDA_SUCCESS);
  CHECK_CU(cuMemAlloc(&q, 2 * st::kMiB), CUDA_ERROR_OUT_OF_MEMORY);
  st::MemInfo m = st::mem_info();
  CHECK_CU(m.r, CUDA_SUCCESS);
  void* fn = nullptr;
  CUdriverProcAddressQueryResult status;
  CHECK_CU(cuGetProcAddress_v2("cuMemFree", &fn, CUDA_VERSION, 0, &status), CUDA_SUCCESS);
  CHECK(dlsym(RTLD_DEFAULT, "cuMemFree_v2") != nullptr);
  CHECK_CU(cuMemFree(p), CUDA_SUCCESS);
  dt::release_primary(dev);
  return dt::finish();
}

struct Run {
  int rc = -1;
  std::string out, err;
};

Run run(const std::string& exe, const std::vector<std::string>& args, const st::Env& env) {
  st::SpawnOptions o;
  o.env = env;
  o.env.put("GPUPOOL_TEST_INNER", "1");
  o.capture_stdout = true;
  o.capture_stderr = true;
  st::Child c = st::spawn(exe, args, o);
  Run r;
  r.out = st::read_all(c.out_fd);
  r.err = st::read_all(c.err_fd);
  r.rc = st::wait_child(c.pid);
  return r;
}

}  // namespace

int main(int argc, char** argv) {
  st::run_isolated(argc, argv);
  if (argc > 1 && std::string(argv[1]) == "work") return work();

  dt::section("no GPUPOOL_LOG: nothing on stderr");
  Run quiet = run(st::self_exe(), {"work"}, st::Env().drop("GPUPOOL_LOG"));
  CHECK_EQ(quiet.rc, 0);
  if (quiet.rc != 0) std::printf("%s", quiet.out.c_str());
  CHECK_EQ(quiet.err, std::string());

  dt::section("GPUPOOL_LOG=debug: something on stderr");
  Run debug = run(st::self_exe(), {"work"}, st::Env().put("GPUPOOL_LOG", "debug"));
  CHECK_EQ(debug.rc, 0);
  CHECK(!debug.err.empty());
  dt::info("GPUPOOL_LOG=debug: %zu bytes on stderr; first line: %s", debug.err.size(),
           debug.err.substr(0, debug.err.find('\n')).c_str());
  for (const char* level : {"info", "warn"}) {
    Run r = run(st::self_exe(), {"work"}, st::Env().put("GPUPOOL_LOG", level));
    CHECK_EQ(r.rc, 0);
    CHECK_MSG(r.err.size() <= debug.err.size(), std::string("GPUPOOL_LOG=") + level + " says more than debug");
    dt::info("GPUPOOL_LOG=%s: %zu bytes on stderr", level, r.err.size());
  }

  dt::section("a program that never touches CUDA, under the shim");
  for (const char* log : {"", "debug"}) {
    st::Env env;
    if (*log) env.put("GPUPOOL_LOG", log);
    else env.drop("GPUPOOL_LOG");
    Run sh = run("/bin/sh", {"-c", "echo hello; exit 7"}, env);
    CHECK_EQ(sh.rc, 7);
    CHECK_EQ(sh.out, std::string("hello\n"));
    if (!*log) CHECK_EQ(sh.err, std::string());
  }
  return dt::finish();
}
