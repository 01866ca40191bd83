// driver_test.h — a tiny header-only harness for the driver-API test programs.
//
// The programs drive libcuda.so.1 exactly as a CUDA program would and are run
// both against the simulated driver and against a real one. Checks are
// non-fatal so that one run on a GPU reveals every divergence at once:
//
//   CHECK_CU(cuMemAlloc(&p, 0), CUDA_ERROR_INVALID_VALUE);
//   CHECK_CU_ANY(call, CUDA_ERROR_A, CUDA_ERROR_B);   // where the docs allow either
//   CHECK_CU_MSG(call, CUDA_ERROR_A, "why this is expected");
//   CHECK(cond);  CHECK_EQ(a, b);
//   REQUIRE_CU(...) / REQUIRE(...)  stop the program: continuing is pointless.
//
// A failure prints `file:line: call -> GOT (expected EXP)`; dt::finish() prints
// "N checks, M failed" and returns the process exit status.
#pragma once

#include <cuda.h>

#include <limits.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdarg>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <initializer_list>
#include <mutex>
#include <sstream>
#include <string>
#include <type_traits>

namespace dt {

inline std::atomic<int>& check_count() {
  static std::atomic<int> n{0};
  return n;
}
inline std::atomic<int>& failure_count() {
  static std::atomic<int> n{0};
  return n;
}
inline std::mutex& output_mutex() {
  static std::mutex m;
  return m;
}

// "CUDA_ERROR_INVALID_VALUE(1)"; falls back to the number when the driver
// does not know the code (or cuGetErrorName itself is broken).
inline std::string result_name(CUresult r) {
  const char* s = nullptr;
  std::string name;
  if (cuGetErrorName(r, &s) == CUDA_SUCCESS && s != nullptr) name = s;
  else name = "CUresult";
  return name + "(" + std::to_string(static_cast<int>(r)) + ")";
}

inline void print_locked(const char* fmt, ...) {
  std::lock_guard<std::mutex> lock(output_mutex());
  va_list args;
  va_start(args, fmt);
  std::vfprintf(stdout, fmt, args);
  va_end(args);
  std::fflush(stdout);
}

inline bool check_result(const char* file, int line, const char* expr, CUresult got,
                         std::initializer_list<CUresult> expected, const char* note) {
  ++check_count();
  for (CUresult e : expected)
    if (got == e) return true;
  ++failure_count();
  std::string want;
  for (CUresult e : expected) {
    if (!want.empty()) want += " or ";
    want += result_name(e);
  }
  std::string why = note ? std::string("  [") + note + "]" : std::string();
  print_locked("%s:%d: %s -> %s (expected %s)%s\n", file, line, expr, result_name(got).c_str(),
               want.c_str(), why.c_str());
  return false;
}

inline bool check_true(const char* file, int line, const char* expr, bool ok, const std::string& detail) {
  ++check_count();
  if (ok) return true;
  ++failure_count();
  print_locked("%s:%d: CHECK(%s) failed%s%s\n", file, line, expr, detail.empty() ? "" : ": ",
               detail.c_str());
  return false;
}

template <typename T>
std::string repr(const T& v) {
  if constexpr (std::is_same_v<T, bool>) {
    return v ? "true" : "false";
  } else if constexpr (std::is_enum_v<T>) {
    return std::to_string(static_cast<long long>(v));
  } else if constexpr (std::is_integral_v<T>) {
    std::ostringstream s;
    s << +v;
    if (v > 9) s << " (0x" << std::hex << +v << ")";
    return s.str();
  } else if constexpr (std::is_floating_point_v<T>) {
    std::ostringstream s;
    s.precision(9);
    s << v;
    return s.str();
  } else if constexpr (std::is_pointer_v<T>) {
    std::ostringstream s;
    s << static_cast<const void*>(v);
    return s.str();
  } else {
    std::ostringstream s;
    s << v;
    return s.str();
  }
}
inline std::string repr(const std::string& v) { return "\"" + v + "\""; }
inline std::string repr(const char* v) { return v ? "\"" + std::string(v) + "\"" : "(null)"; }

template <typename A, typename B>
bool check_eq(const char* file, int line, const char* ea, const char* eb, const A& a, const B& b) {
  bool ok;
  if constexpr (std::is_integral_v<A> && std::is_integral_v<B>) {
    // Compare integers by value, whatever their signedness.
    bool a_neg = false, b_neg = false;
    if constexpr (std::is_signed_v<A>) a_neg = a < 0;
    if constexpr (std::is_signed_v<B>) b_neg = b < 0;
    ok = a_neg == b_neg &&
         static_cast<unsigned long long>(a) == static_cast<unsigned long long>(b);
  } else {
    ok = (a == b);
  }
  return check_true(file, line, (std::string(ea) + " == " + eb).c_str(), ok,
                    repr(a) + " vs " + repr(b));
}

// Sections that pass a destroyed handle (documented as safe, but a real driver
// might still crash on them) are skipped when GPUPOOL_TEST_SKIP_DESTROYED=1.
inline bool skip_destroyed_handles() {
  const char* v = std::getenv("GPUPOOL_TEST_SKIP_DESTROYED");
  return v != nullptr && *v != 0 && *v != '0';
}

// GPUPOOL_TEST_REMOTE_DEVICE=1: the device is a pooled one across the network
// (the forwarding driver, native/remote), which cannot do what only a local
// device can (map this process's host memory, managed memory) and says so in
// its attributes. Checks of those attributes expect 0 then, else 1.
inline bool remote_device() {
  const char* v = std::getenv("GPUPOOL_TEST_REMOTE_DEVICE");
  return v != nullptr && *v != 0 && *v != '0';
}

// Flushed progress marker, so a crash on a real driver shows where it happened.
inline void section(const char* name) { print_locked("-- %s\n", name); }

// Informational line (observed behaviour worth reading in a GPU log).
inline void info(const char* fmt, ...) {
  std::lock_guard<std::mutex> lock(output_mutex());
  std::fputs("   info: ", stdout);
  va_list args;
  va_start(args, fmt);
  std::vfprintf(stdout, fmt, args);
  va_end(args);
  std::fputc('\n', stdout);
  std::fflush(stdout);
}

inline const char* program_name() {
  static std::string name = [] {
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
    if (n <= 0) return std::string("test");
    exe[n] = 0;
    std::string path = exe;
    return path.substr(path.find_last_of('/') + 1);
  }();
  return name.c_str();
}

// Prints the summary; returns the exit status for main().
inline int finish() {
  int n = check_count().load(), m = failure_count().load();
  print_locked("%s: %d checks, %d failed\n", program_name(), n, m);
  return m == 0 ? 0 : 1;
}

[[noreturn]] inline void abort_test(const char* file, int line, const char* what) {
  print_locked("%s:%d: REQUIRE failed, stopping: %s\n", file, line, what);
  finish();
  std::_Exit(1);
}

// ---- helpers shared by the programs ------------------------------------------

inline double now_ms() {
  using namespace std::chrono;
  return duration<double, std::milli>(steady_clock::now().time_since_epoch()).count();
}

inline std::string dirname_of(const std::string& path) {
  auto slash = path.find_last_of('/');
  return slash == std::string::npos ? std::string(".") : path.substr(0, slash);
}

inline bool file_exists(const std::string& path) { return access(path.c_str(), R_OK) == 0; }

// Directory of the built-in kernels' PTX: $GPUPOOL_KERNELS_DIR (set by ctest),
// else <executable dir>/../kernels (the build tree layout), else the PTX
// committed in the source tree.
inline std::string kernels_dir() {
  if (const char* env = std::getenv("GPUPOOL_KERNELS_DIR"); env && *env) return env;
  char exe[PATH_MAX];
  ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
  if (n > 0) {
    exe[n] = 0;
    std::string dir = dirname_of(exe) + "/../kernels";
    if (file_exists(dir + "/saxpy.ptx")) return dir;
  }
#ifdef GPUPOOL_SOURCE_KERNELS_DIR
  return GPUPOOL_SOURCE_KERNELS_DIR;
#else
  return "kernels";
#endif
}

inline bool read_file(const std::string& path, std::string* out) {
  std::ifstream f(path, std::ios::binary);
  if (!f) return false;
  std::ostringstream s;
  s << f.rdbuf();
  *out = s.str();
  return true;
}

// PTX text of a built-in kernel ("saxpy" -> <kernels_dir>/saxpy.ptx), or "".
inline std::string kernel_ptx(const char* name) {
  std::string text;
  std::string path = kernels_dir() + "/" + name + ".ptx";
  if (!read_file(path, &text)) {
    print_locked("cannot read %s (set GPUPOOL_KERNELS_DIR)\n", path.c_str());
    return "";
  }
  return text;
}

inline uint32_t float_bits(float f) {
  uint32_t u;
  std::memcpy(&u, &f, sizeof u);
  return u;
}

}  // namespace dt

#define CHECK_CU(call, expected) \
  ::dt::check_result(__FILE__, __LINE__, #call, (call), {expected}, nullptr)
#define CHECK_CU_MSG(call, expected, note) \
  ::dt::check_result(__FILE__, __LINE__, #call, (call), {expected}, note)
#define CHECK_CU_ANY(call, ...) \
  ::dt::check_result(__FILE__, __LINE__, #call, (call), {__VA_ARGS__}, nullptr)
#define CHECK(cond) ::dt::check_true(__FILE__, __LINE__, #cond, static_cast<bool>(cond), "")
#define CHECK_MSG(cond, detail) \
  ::dt::check_true(__FILE__, __LINE__, #cond, static_cast<bool>(cond), (detail))
#define CHECK_EQ(a, b) ::dt::check_eq(__FILE__, __LINE__, #a, #b, (a), (b))

#define REQUIRE_CU(call, expected)                                                          \
  do {                                                                                      \
    if (!::dt::check_result(__FILE__, __LINE__, #call, (call), {expected}, nullptr))         \
      ::dt::abort_test(__FILE__, __LINE__, #call);                                           \
  } while (0)
#define REQUIRE(cond)                                                                       \
  do {                                                                                      \
    if (!::dt::check_true(__FILE__, __LINE__, #cond, static_cast<bool>(cond), ""))           \
      ::dt::abort_test(__FILE__, __LINE__, #cond);                                           \
  } while (0)

namespace dt {

// cuInit, device 0, and its primary context made current on this thread.
inline CUdevice init_primary(CUcontext* ctx_out = nullptr) {
  REQUIRE_CU(cuInit(0), CUDA_SUCCESS);
  CUdevice dev = 0;
  REQUIRE_CU(cuDeviceGet(&dev, 0), CUDA_SUCCESS);
  CUcontext ctx = nullptr;
  REQUIRE_CU(cuDevicePrimaryCtxRetain(&ctx, dev), CUDA_SUCCESS);
  REQUIRE(ctx != nullptr);
  REQUIRE_CU(cuCtxSetCurrent(ctx), CUDA_SUCCESS);
  if (ctx_out) *ctx_out = ctx;
  return dev;
}

// Undoes init_primary.
inline void release_primary(CUdevice dev) {
  CHECK_CU(cuCtxSetCurrent(nullptr), CUDA_SUCCESS);
  CHECK_CU(cuDevicePrimaryCtxRelease(dev), CUDA_SUCCESS);
}

// Loads <kernels_dir>/<name>.ptx into the current context (REQUIREs success).
inline CUmodule load_kernel_module(const char* name) {
  std::string ptx = kernel_ptx(name);
  REQUIRE(!ptx.empty());
  CUmodule mod = nullptr;
  REQUIRE_CU(cuModuleLoadData(&mod, ptx.c_str()), CUDA_SUCCESS);
  return mod;
}

inline CUfunction get_function(CUmodule mod, const char* name) {
  CUfunction f = nullptr;
  REQUIRE_CU(cuModuleGetFunction(&f, mod, name), CUDA_SUCCESS);
  return f;
}

// spin(unsigned long long nanoseconds) on one thread: keeps `stream` busy.
inline CUresult launch_spin(CUfunction spin, CUstream stream, double milliseconds) {
  unsigned long long ns = static_cast<unsigned long long>(milliseconds * 1e6);
  void* args[] = {&ns};
  return cuLaunchKernel(spin, 1, 1, 1, 1, 1, 1, 0, stream, args, nullptr);
}

// fill_u32(unsigned* p, unsigned v, unsigned long long n), one element per thread.
inline CUresult launch_fill(CUfunction fill, CUstream stream, CUdeviceptr p, uint32_t v,
                            unsigned long long n, unsigned threads = 0) {
  if (threads == 0) threads = static_cast<unsigned>(n);
  unsigned block = 256;
  unsigned grid = (threads + block - 1) / block;
  void* args[] = {&p, &v, &n};
  return cuLaunchKernel(fill, grid, 1, 1, block, 1, 1, 0, stream, args, nullptr);
}

// saxpy(int n, float a, const float* x, float* y): y = a*x + y.
inline CUresult launch_saxpy(CUfunction saxpy, CUstream stream, int n, float a, CUdeviceptr x,
                             CUdeviceptr y) {
  unsigned block = 128;
  unsigned grid = (static_cast<unsigned>(n) + block - 1) / block;
  void* args[] = {&n, &a, &x, &y};
  return cuLaunchKernel(saxpy, grid, 1, 1, block, 1, 1, 0, stream, args, nullptr);
}

// The properties of pinned memory on `dev` for cuMemCreate (the VMM tests).
inline CUmemAllocationProp device_prop(CUdevice dev) {
  CUmemAllocationProp prop;
  std::memset(&prop, 0, sizeof prop);
  prop.type = CU_MEM_ALLOCATION_TYPE_PINNED;
  prop.location.type = CU_MEM_LOCATION_TYPE_DEVICE;
  prop.location.id = dev;
  return prop;
}

}  // namespace dt
