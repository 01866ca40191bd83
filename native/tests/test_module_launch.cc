// Modules and launches: loading PTX (data, data with JIT options, file),
// functions and their parameter layout, module globals, every built-in
// kernel's result, partial grid coverage, the `extra` parameter buffer,
// cuLaunchKernelEx, and launch-configuration errors.
#include <algorithm>
#include <cmath>
#include <vector>

#include "driver_test.h"

namespace {

// A module with globals and no kernels (cudart reaches __device__ variables
// through cuModuleGetGlobal).
const char kGlobalsPtx[] = R"(
.version 8.0
.target sm_75
.address_size 64

.visible .global .align 4 .u32 counter = 7;
.visible .global .align 4 .b8 table[16] = {0, 0, 128, 63, 0, 0, 0, 64, 0, 0, 64, 64, 0, 0, 128, 64};
)";

const char kBrokenPtx[] = R"(
.version 8.0
.target sm_75
.address_size 64

.visible .entry broken(.param .u64 p)
{
  this is not an instruction;
}
)";

const char kUnbalancedPtx[] = R"(
.version 8.0
.target sm_75
.address_size 64

.visible .entry unbalanced(.param .u64 p)
{
  ret;
)";

const char kNoVersionPtx[] = R"(
.target sm_75
.address_size 64

.visible .entry noversion()
{
  ret;
}
)";

const char kFuturePtx[] = R"(
.version 10.0
.target sm_75
.address_size 64

.visible .entry future()
{
  ret;
}
)";

struct Module {
  CUmodule mod = nullptr;
  CUfunction fn = nullptr;
};

Module load(const char* name) {
  Module m;
  m.mod = dt::load_kernel_module(name);
  m.fn = dt::get_function(m.mod, name);
  return m;
}

void check_param_layout(CUfunction f, const char* name, std::vector<std::pair<size_t, size_t>> want) {
  for (size_t i = 0; i < want.size(); ++i) {
    size_t offset = 999, size = 999;
    bool ok = CHECK_CU(cuFuncGetParamInfo(f, i, &offset, &size), CUDA_SUCCESS);
    if (ok)
      CHECK_MSG(offset == want[i].first && size == want[i].second,
                std::string(name) + " param " + std::to_string(i) + ": offset " +
                    std::to_string(offset) + " size " + std::to_string(size));
  }
  size_t offset = 0, size = 0;
  CHECK_CU(cuFuncGetParamInfo(f, want.size(), &offset, nullptr), CUDA_ERROR_INVALID_VALUE);
  CHECK_CU(cuFuncGetParamInfo(f, 0, &offset, nullptr), CUDA_SUCCESS);  // size is optional
  CHECK_CU(cuFuncGetParamInfo(f, 0, nullptr, &size), CUDA_ERROR_INVALID_VALUE);  // offset is not
}

void check_loading(const Module& saxpy) {
  dt::section("loading modules");
  std::string ptx = dt::kernel_ptx("saxpy");
  REQUIRE(!ptx.empty());
  CUmodule again = nullptr;
  CHECK_CU(cuModuleLoadData(&again, ptx.c_str()), CUDA_SUCCESS);
  CHECK(again != nullptr && again != saxpy.mod);
  CUfunction f = nullptr;
  CHECK_CU(cuModuleGetFunction(&f, again, "saxpy"), CUDA_SUCCESS);
  CHECK_CU(cuModuleUnload(again), CUDA_SUCCESS);

  // With JIT options, as frameworks pass them.
  char info_log[4096] = {0}, error_log[4096] = {0};
  CUjit_option opts[] = {CU_JIT_INFO_LOG_BUFFER, CU_JIT_INFO_LOG_BUFFER_SIZE_BYTES,
                         CU_JIT_ERROR_LOG_BUFFER, CU_JIT_ERROR_LOG_BUFFER_SIZE_BYTES,
                         CU_JIT_LOG_VERBOSE};
  void* values[] = {info_log, reinterpret_cast<void*>(sizeof info_log), error_log,
                    reinterpret_cast<void*>(sizeof error_log), reinterpret_cast<void*>(1)};
  CHECK_CU(cuModuleLoadDataEx(&again, ptx.c_str(), 5, opts, values), CUDA_SUCCESS);
  CHECK_CU(cuModuleGetFunction(&f, again, "saxpy"), CUDA_SUCCESS);
  CHECK_CU(cuModuleUnload(again), CUDA_SUCCESS);
  CHECK_CU(cuModuleLoadDataEx(&again, ptx.c_str(), 0, nullptr, nullptr), CUDA_SUCCESS);
  CHECK_CU(cuModuleUnload(again), CUDA_SUCCESS);

  // From a file.
  std::string path = dt::kernels_dir() + "/saxpy.ptx";
  CHECK_CU(cuModuleLoad(&again, path.c_str()), CUDA_SUCCESS);
  CHECK_CU(cuModuleUnload(again), CUDA_SUCCESS);
  CHECK_CU(cuModuleLoad(&again, "/nonexistent/gpupool/none.ptx"), CUDA_ERROR_FILE_NOT_FOUND);

  // Not PTX that compiles.
  error_log[0] = 0;
  CHECK_CU(cuModuleLoadDataEx(&again, kBrokenPtx, 5, opts, values), CUDA_ERROR_INVALID_PTX);
  dt::info("JIT error log for broken PTX: %.200s", error_log);
  CHECK_CU(cuModuleLoadData(&again, kBrokenPtx), CUDA_ERROR_INVALID_PTX);
  CHECK_CU(cuModuleLoadData(&again, kUnbalancedPtx), CUDA_ERROR_INVALID_PTX);
  // Neither PTX nor a cubin/fatbin at all, and PTX of a newer ISA than the
  // driver's (both as observed on an H100 with driver 580).
  CHECK_CU(cuModuleLoadData(&again, "hello, world"), CUDA_ERROR_INVALID_IMAGE);
  CHECK_CU(cuModuleLoadData(&again, kNoVersionPtx), CUDA_ERROR_INVALID_IMAGE);
  CHECK_CU(cuModuleLoadData(&again, kFuturePtx), CUDA_ERROR_UNSUPPORTED_PTX_VERSION);
  CHECK_CU(cuModuleLoadData(&again, nullptr), CUDA_ERROR_INVALID_VALUE);
  CHECK_CU(cuModuleLoadData(nullptr, ptx.c_str()), CUDA_ERROR_INVALID_VALUE);

  dt::section("functions");
  // "If no function of that name exists, cuModuleGetFunction() returns CUDA_ERROR_NOT_FOUND."
  CHECK_CU(cuModuleGetFunction(&f, saxpy.mod, "no_such_kernel"), CUDA_ERROR_NOT_FOUND);
  CHECK_CU(cuModuleGetFunction(&f, saxpy.mod, "saxp"), CUDA_ERROR_NOT_FOUND);
  CHECK_CU(cuModuleGetFunction(&f, saxpy.mod, nullptr), CUDA_ERROR_INVALID_VALUE);
  CHECK_CU(cuModuleGetFunction(nullptr, saxpy.mod, "saxpy"), CUDA_ERROR_INVALID_VALUE);
  CHECK_CU(cuModuleGetFunction(&f, nullptr, "saxpy"), CUDA_ERROR_INVALID_HANDLE);
  CHECK_CU(cuModuleUnload(nullptr), CUDA_ERROR_INVALID_HANDLE);
  const char* name = nullptr;
  CHECK_CU(cuFuncGetName(&name, saxpy.fn), CUDA_SUCCESS);
  CHECK(name != nullptr && std::strcmp(name, "saxpy") == 0);
  CUmodule owner = nullptr;
  CHECK_CU(cuFuncGetModule(&owner, saxpy.fn), CUDA_SUCCESS);
  CHECK(owner == saxpy.mod);

  int v = -1;
  CHECK_CU(cuFuncGetAttribute(&v, CU_FUNC_ATTRIBUTE_MAX_THREADS_PER_BLOCK, saxpy.fn), CUDA_SUCCESS);
  CHECK(v >= 128 && v <= 1024);
  CHECK_CU(cuFuncGetAttribute(&v, CU_FUNC_ATTRIBUTE_PTX_VERSION, saxpy.fn), CUDA_SUCCESS);
  CHECK(v > 0);
  CHECK_CU(cuFuncGetAttribute(&v, CU_FUNC_ATTRIBUTE_BINARY_VERSION, saxpy.fn), CUDA_SUCCESS);
  CHECK(v > 0);
  CHECK_CU(cuFuncGetAttribute(&v, CU_FUNC_ATTRIBUTE_NUM_REGS, saxpy.fn), CUDA_SUCCESS);
  CHECK(v >= 0);
  CHECK_CU(cuFuncGetAttribute(&v, static_cast<CUfunction_attribute>(999), saxpy.fn),
           CUDA_ERROR_INVALID_VALUE);
  CHECK_CU(cuFuncGetAttribute(&v, CU_FUNC_ATTRIBUTE_NUM_REGS, nullptr), CUDA_ERROR_INVALID_HANDLE);
  // More dynamic shared memory than any device has.
  CHECK_CU(cuFuncSetAttribute(saxpy.fn, CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES, 1 << 20),
           CUDA_ERROR_INVALID_VALUE);
  // Frameworks raise the dynamic shared memory limit before launching.
  CHECK_CU(cuFuncSetAttribute(saxpy.fn, CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES, 64 * 1024),
           CUDA_SUCCESS);
  CHECK_CU(cuFuncGetAttribute(&v, CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES, saxpy.fn),
           CUDA_SUCCESS);
  CHECK_EQ(v, 64 * 1024);
}

void check_globals() {
  dt::section("module globals");
  CUmodule mod = nullptr;
  REQUIRE_CU(cuModuleLoadData(&mod, kGlobalsPtx), CUDA_SUCCESS);
  CUdeviceptr p = 0;
  size_t bytes = 0;
  CHECK_CU(cuModuleGetGlobal(&p, &bytes, mod, "counter"), CUDA_SUCCESS);
  CHECK_EQ(bytes, size_t{4});
  uint32_t value = 0;
  if (p) {
    CHECK_CU(cuMemcpyDtoH(&value, p, 4), CUDA_SUCCESS);
    CHECK_EQ(value, 7u);  // the initialiser
    value = 9;
    CHECK_CU(cuMemcpyHtoD(p, &value, 4), CUDA_SUCCESS);
    value = 0;
    CHECK_CU(cuMemcpyDtoH(&value, p, 4), CUDA_SUCCESS);
    CHECK_EQ(value, 9u);
  }
  CUdeviceptr t = 0;
  CHECK_CU(cuModuleGetGlobal(&t, &bytes, mod, "table"), CUDA_SUCCESS);
  CHECK_EQ(bytes, size_t{16});
  if (t) {
    float f[4] = {0, 0, 0, 0};
    CHECK_CU(cuMemcpyDtoH(f, t, sizeof f), CUDA_SUCCESS);
    CHECK(f[0] == 1.0f && f[1] == 2.0f && f[2] == 3.0f && f[3] == 4.0f);
  }
  // "One of the parameters dptr or bytes (not both) can be NULL".
  CHECK_CU(cuModuleGetGlobal(nullptr, &bytes, mod, "counter"), CUDA_SUCCESS);
  CHECK_CU(cuModuleGetGlobal(&p, nullptr, mod, "counter"), CUDA_SUCCESS);
  CHECK_CU(cuModuleGetGlobal(nullptr, nullptr, mod, "counter"), CUDA_ERROR_INVALID_VALUE);
  CHECK_CU(cuModuleGetGlobal(&p, &bytes, mod, nullptr), CUDA_ERROR_INVALID_VALUE);
  CHECK_CU(cuModuleGetGlobal(&p, &bytes, nullptr, "counter"), CUDA_ERROR_INVALID_HANDLE);
  // "If no variable of that name exists, cuModuleGetGlobal() returns CUDA_ERROR_NOT_FOUND."
  CHECK_CU(cuModuleGetGlobal(&p, &bytes, mod, "no_such_global"), CUDA_ERROR_NOT_FOUND);
  CHECK_CU(cuModuleUnload(mod), CUDA_SUCCESS);
}

void check_vector_add() {
  dt::section("vector_add, and elements past n stay untouched");
  Module m = load("vector_add");
  check_param_layout(m.fn, "vector_add", {{0, 8}, {8, 8}, {16, 8}, {24, 4}});
  int n = 1000;
  const int cap = 1024;  // 4 blocks of 256 threads cover 1024 elements
  std::vector<float> a(cap), b(cap);
  for (int i = 0; i < cap; ++i) {
    a[i] = 0.5f * i;
    b[i] = 1000.0f - i;
  }
  CUdeviceptr da = 0, db = 0, dc = 0;
  REQUIRE_CU(cuMemAlloc(&da, cap * 4), CUDA_SUCCESS);
  REQUIRE_CU(cuMemAlloc(&db, cap * 4), CUDA_SUCCESS);
  REQUIRE_CU(cuMemAlloc(&dc, cap * 4), CUDA_SUCCESS);
  CHECK_CU(cuMemcpyHtoD(da, a.data(), cap * 4), CUDA_SUCCESS);
  CHECK_CU(cuMemcpyHtoD(db, b.data(), cap * 4), CUDA_SUCCESS);
  CHECK_CU(cuMemsetD32(dc, 0xffffffffu, cap), CUDA_SUCCESS);
  void* args[] = {&da, &db, &dc, &n};
  CHECK_CU(cuLaunchKernel(m.fn, 4, 1, 1, 256, 1, 1, 0, nullptr, args, nullptr), CUDA_SUCCESS);
  CHECK_CU(cuCtxSynchronize(), CUDA_SUCCESS);
  std::vector<uint32_t> c(cap);
  CHECK_CU(cuMemcpyDtoH(c.data(), dc, cap * 4), CUDA_SUCCESS);
  bool sums_ok = true, tail_ok = true;
  for (int i = 0; i < cap; ++i) {
    if (i < n) {
      float got;
      std::memcpy(&got, &c[i], 4);
      sums_ok &= got == a[i] + b[i];
    } else {
      tail_ok &= c[i] == 0xffffffffu;
    }
  }
  CHECK(sums_ok);
  CHECK_MSG(tail_ok, "vector_add wrote past n");
  for (CUdeviceptr p : {da, db, dc}) CHECK_CU(cuMemFree(p), CUDA_SUCCESS);
  CHECK_CU(cuModuleUnload(m.mod), CUDA_SUCCESS);
}

void check_saxpy(const Module& m) {
  dt::section("saxpy through kernelParams, extra, and cuLaunchKernelEx");
  check_param_layout(m.fn, "saxpy", {{0, 4}, {4, 4}, {8, 8}, {16, 8}});
  int n = 4000;
  std::vector<float> x(n), y(n);
  for (int i = 0; i < n; ++i) {
    x[i] = static_cast<float>(i);
    y[i] = 1.0f;
  }
  CUdeviceptr dx = 0, dy = 0;
  REQUIRE_CU(cuMemAlloc(&dx, n * 4), CUDA_SUCCESS);
  REQUIRE_CU(cuMemAlloc(&dy, n * 4), CUDA_SUCCESS);
  CHECK_CU(cuMemcpyHtoD(dx, x.data(), n * 4), CUDA_SUCCESS);
  CHECK_CU(cuMemcpyHtoD(dy, y.data(), n * 4), CUDA_SUCCESS);
  CUstream s = nullptr;
  REQUIRE_CU(cuStreamCreate(&s, CU_STREAM_NON_BLOCKING), CUDA_SUCCESS);

  float a = 2.0f;  // y = 2x + 1
  void* args[] = {&n, &a, &dx, &dy};
  CHECK_CU(cuLaunchKernel(m.fn, (n + 127) / 128, 1, 1, 128, 1, 1, 0, s, args, nullptr),
           CUDA_SUCCESS);

  // The same arguments packed by hand: int @0, float @4, pointers @8 and @16.
  struct {
    int n;
    float a;
    CUdeviceptr x, y;
  } packed = {n, 3.0f, dx, dy};  // y = 3x + (2x + 1)
  static_assert(sizeof(packed) == 24, "saxpy's parameter buffer is 24 bytes");
  size_t packed_size = sizeof packed;
  void* extra[] = {CU_LAUNCH_PARAM_BUFFER_POINTER, &packed, CU_LAUNCH_PARAM_BUFFER_SIZE,
                   &packed_size, CU_LAUNCH_PARAM_END};
  CHECK_CU(cuLaunchKernel(m.fn, (n + 255) / 256, 1, 1, 256, 1, 1, 0, s, nullptr, extra),
           CUDA_SUCCESS);

  CUlaunchConfig config;
  std::memset(&config, 0, sizeof config);
  config.gridDimX = (n + 63) / 64;
  config.gridDimY = config.gridDimZ = 1;
  config.blockDimX = 64;
  config.blockDimY = config.blockDimZ = 1;
  config.hStream = s;
  a = -1.0f;  // y = 4x + 1
  CHECK_CU(cuLaunchKernelEx(&config, m.fn, args, nullptr), CUDA_SUCCESS);
  CHECK_CU(cuStreamSynchronize(s), CUDA_SUCCESS);
  CHECK_CU(cuMemcpyDtoH(y.data(), dy, n * 4), CUDA_SUCCESS);
  bool ok = true;
  for (int i = 0; i < n; ++i) ok &= y[i] == 4.0f * i + 1.0f;
  CHECK_MSG(ok, "y[1]=" + dt::repr(y[1]) + " y[n-1]=" + dt::repr(y[n - 1]));

  // "The error CUDA_ERROR_INVALID_VALUE will be returned if kernel parameters
  // are specified with both kernelParams and extra".
  CHECK_CU(cuLaunchKernel(m.fn, 1, 1, 1, 32, 1, 1, 0, s, args, extra), CUDA_ERROR_INVALID_VALUE);
  CHECK_CU(cuStreamSynchronize(s), CUDA_SUCCESS);
  CHECK_CU(cuStreamDestroy(s), CUDA_SUCCESS);
  CHECK_CU(cuMemFree(dx), CUDA_SUCCESS);
  CHECK_CU(cuMemFree(dy), CUDA_SUCCESS);
}

void check_fill() {
  dt::section("fill_u32, and a grid covering part of n");
  Module m = load("fill_u32");
  check_param_layout(m.fn, "fill_u32", {{0, 8}, {8, 4}, {16, 8}});
  const unsigned long long n = 3000;
  CUdeviceptr p = 0;
  REQUIRE_CU(cuMemAlloc(&p, n * 4), CUDA_SUCCESS);
  CHECK_CU(cuMemsetD32(p, 0, n), CUDA_SUCCESS);
  // 8 blocks of 256 threads: elements [2048, 3000) are nobody's.
  CHECK_CU(dt::launch_fill(m.fn, nullptr, p, 0x600dcafeu, n, 2048), CUDA_SUCCESS);
  CHECK_CU(cuCtxSynchronize(), CUDA_SUCCESS);
  std::vector<uint32_t> h(n);
  CHECK_CU(cuMemcpyDtoH(h.data(), p, n * 4), CUDA_SUCCESS);
  bool head = true, tail = true;
  for (size_t i = 0; i < n; ++i) (i < 2048 ? head : tail) &= h[i] == (i < 2048 ? 0x600dcafeu : 0u);
  CHECK(head);
  CHECK_MSG(tail, "elements beyond the grid's coverage were written");

  // A larger fill, 4 Mi elements.
  const unsigned long long big = 4ull << 20;
  CUdeviceptr q = 0;
  REQUIRE_CU(cuMemAlloc(&q, big * 4), CUDA_SUCCESS);
  CHECK_CU(dt::launch_fill(m.fn, nullptr, q, 42u, big), CUDA_SUCCESS);
  uint32_t first = 0, last = 0;
  CHECK_CU(cuMemcpyDtoH(&first, q, 4), CUDA_SUCCESS);
  CHECK_CU(cuMemcpyDtoH(&last, q + (big - 1) * 4, 4), CUDA_SUCCESS);
  CHECK(first == 42u && last == 42u);
  CHECK_CU(cuMemFree(p), CUDA_SUCCESS);
  CHECK_CU(cuMemFree(q), CUDA_SUCCESS);
  CHECK_CU(cuModuleUnload(m.mod), CUDA_SUCCESS);
}

void check_sgemm() {
  dt::section("sgemm_nn");
  Module m = load("sgemm_nn");
  check_param_layout(m.fn, "sgemm_nn",
                     {{0, 4}, {4, 4}, {8, 4}, {12, 4}, {16, 8}, {24, 8}, {32, 4}, {40, 8}});
  int rows = 33, cols = 17, inner = 9;
  float alpha = 1.5f, beta = 0.5f;
  std::vector<float> A(rows * inner), B(inner * cols), C(rows * cols);
  for (size_t i = 0; i < A.size(); ++i) A[i] = static_cast<float>((i * 7) % 11) - 5.0f;
  for (size_t i = 0; i < B.size(); ++i) B[i] = static_cast<float>((i * 5) % 13) * 0.25f;
  for (size_t i = 0; i < C.size(); ++i) C[i] = static_cast<float>(i % 3);
  CUdeviceptr dA = 0, dB = 0, dC = 0;
  REQUIRE_CU(cuMemAlloc(&dA, A.size() * 4), CUDA_SUCCESS);
  REQUIRE_CU(cuMemAlloc(&dB, B.size() * 4), CUDA_SUCCESS);
  REQUIRE_CU(cuMemAlloc(&dC, C.size() * 4), CUDA_SUCCESS);
  CHECK_CU(cuMemcpyHtoD(dA, A.data(), A.size() * 4), CUDA_SUCCESS);
  CHECK_CU(cuMemcpyHtoD(dB, B.data(), B.size() * 4), CUDA_SUCCESS);
  CHECK_CU(cuMemcpyHtoD(dC, C.data(), C.size() * 4), CUDA_SUCCESS);
  void* args[] = {&rows, &cols, &inner, &alpha, &dA, &dB, &beta, &dC};
  const unsigned tile = 16;
  CHECK_CU(cuLaunchKernel(m.fn, (cols + tile - 1) / tile, (rows + tile - 1) / tile, 1, tile, tile,
                          1, 0, nullptr, args, nullptr),
           CUDA_SUCCESS);
  std::vector<float> out(C.size());
  CHECK_CU(cuMemcpyDtoH(out.data(), dC, out.size() * 4), CUDA_SUCCESS);
  double worst = 0;
  for (int r = 0; r < rows; ++r)
    for (int c = 0; c < cols; ++c) {
      double acc = 0;
      for (int k = 0; k < inner; ++k) acc += static_cast<double>(A[r * inner + k]) * B[k * cols + c];
      double want = alpha * acc + beta * C[r * cols + c];
      worst = std::max(worst, std::fabs(out[r * cols + c] - want) / (1.0 + std::fabs(want)));
    }
  CHECK_MSG(worst < 1e-4, "worst relative error " + dt::repr(worst));
  for (CUdeviceptr p : {dA, dB, dC}) CHECK_CU(cuMemFree(p), CUDA_SUCCESS);
  CHECK_CU(cuModuleUnload(m.mod), CUDA_SUCCESS);
}

void check_launch_errors(const Module& saxpy) {
  dt::section("launch configuration errors");
  Module spin = load("spin");
  check_param_layout(spin.fn, "spin", {{0, 8}});
  CHECK_CU(dt::launch_spin(spin.fn, nullptr, 1), CUDA_SUCCESS);
  CHECK_CU(cuCtxSynchronize(), CUDA_SUCCESS);

  int n = 16;
  float a = 1.0f;
  CUdeviceptr x = 0, y = 0;
  REQUIRE_CU(cuMemAlloc(&x, 64), CUDA_SUCCESS);
  REQUIRE_CU(cuMemAlloc(&y, 64), CUDA_SUCCESS);
  CHECK_CU(cuMemsetD32(x, 0, 16), CUDA_SUCCESS);
  CHECK_CU(cuMemsetD32(y, 0, 16), CUDA_SUCCESS);
  void* args[] = {&n, &a, &x, &y};
  auto launch = [&](unsigned gx, unsigned gy, unsigned gz, unsigned bx, unsigned by, unsigned bz,
                    unsigned shared) {
    return cuLaunchKernel(saxpy.fn, gx, gy, gz, bx, by, bz, shared, nullptr, args, nullptr);
  };
  // More than 1024 threads per block, in one or several dimensions.
  CHECK_CU(launch(1, 1, 1, 2048, 1, 1, 0), CUDA_ERROR_INVALID_VALUE);
  CHECK_CU(launch(1, 1, 1, 32, 32, 2, 0), CUDA_ERROR_INVALID_VALUE);
  CHECK_CU(launch(1, 1, 1, 1, 1, 65, 0), CUDA_ERROR_INVALID_VALUE);  // block z <= 64
  // Empty grids and blocks.
  CHECK_CU(launch(0, 1, 1, 32, 1, 1, 0), CUDA_ERROR_INVALID_VALUE);
  CHECK_CU(launch(1, 0, 1, 32, 1, 1, 0), CUDA_ERROR_INVALID_VALUE);
  CHECK_CU(launch(1, 1, 1, 0, 1, 1, 0), CUDA_ERROR_INVALID_VALUE);
  // Grid y and z are at most 65535.
  CHECK_CU(launch(1, 65536, 1, 32, 1, 1, 0), CUDA_ERROR_INVALID_VALUE);
  CHECK_CU(launch(1, 1, 65536, 32, 1, 1, 0), CUDA_ERROR_INVALID_VALUE);
  CHECK_CU(launch(1u << 31, 1, 1, 32, 1, 1, 0), CUDA_ERROR_INVALID_VALUE);  // x < 2^31
  // More dynamic shared memory than any device has.
  CHECK_CU_MSG(launch(1, 1, 1, 32, 1, 1, 16u << 20), CUDA_ERROR_INVALID_VALUE,
               "16 MiB of dynamic shared memory");
  CHECK_CU(cuLaunchKernel(nullptr, 1, 1, 1, 32, 1, 1, 0, nullptr, args, nullptr),
           CUDA_ERROR_INVALID_HANDLE);
  // An `extra` buffer without its size.
  struct {
    int n;
    float a;
    CUdeviceptr x, y;
  } packed = {n, a, x, y};
  void* no_size[] = {CU_LAUNCH_PARAM_BUFFER_POINTER, &packed, CU_LAUNCH_PARAM_END};
  CHECK_CU(cuLaunchKernel(saxpy.fn, 1, 1, 1, 32, 1, 1, 0, nullptr, nullptr, no_size),
           CUDA_ERROR_INVALID_VALUE);

  // None of these is an asynchronous (sticky) error: the context still works.
  CHECK_CU(cuCtxSynchronize(), CUDA_SUCCESS);
  a = 5.0f;
  CHECK_CU(cuMemsetD32(x, dt::float_bits(1.0f), 16), CUDA_SUCCESS);
  CHECK_CU(launch(1, 1, 1, 1024, 1, 1, 0), CUDA_SUCCESS);  // exactly the limit
  CHECK_CU(cuCtxSynchronize(), CUDA_SUCCESS);
  float out[16] = {0};
  CHECK_CU(cuMemcpyDtoH(out, y, sizeof out), CUDA_SUCCESS);
  CHECK(out[0] == 5.0f && out[15] == 5.0f);
  CHECK_CU(cuMemFree(x), CUDA_SUCCESS);
  CHECK_CU(cuMemFree(y), CUDA_SUCCESS);
  CHECK_CU(cuModuleUnload(spin.mod), CUDA_SUCCESS);
}

}  // namespace

int main() {
  REQUIRE_CU(cuInit(0), CUDA_SUCCESS);
  dt::section("no current context");
  {
    std::string ptx = dt::kernel_ptx("saxpy");
    CUmodule mod = nullptr;
    CHECK_CU(cuModuleLoadData(&mod, ptx.c_str()), CUDA_ERROR_INVALID_CONTEXT);
  }
  CUdevice dev = dt::init_primary();
  dt::info("kernels from %s", dt::kernels_dir().c_str());
  Module saxpy = load("saxpy");
  check_loading(saxpy);
  check_globals();
  check_vector_add();
  check_saxpy(saxpy);
  check_fill();
  check_sgemm();
  check_launch_errors(saxpy);
  CHECK_CU(cuModuleUnload(saxpy.mod), CUDA_SUCCESS);
  dt::release_primary(dev);
  return dt::finish();
}
