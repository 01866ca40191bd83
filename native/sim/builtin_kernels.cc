// builtin_kernels.cc — the CPU versions of native/kernels/*.cu (see builtin_kernels.h).
//
// Each function mirrors its .cu file line by line: the same index arithmetic,
// the same bounds test, the same floating-point operations in the same order
// (fmaf where the PTX has fma.rn; this file is compiled with
// -ffp-contract=off so nothing else is fused), so results match a GPU's bit
// for bit. A 1-D kernel launched with gridDim.y/z or blockDim.y/z > 1 has
// several threads per element; they run one after another, as a GPU may.
#include "builtin_kernels.h"

#include <algorithm>
#include <chrono>
#include <climits>
#include <cmath>
#include <cstring>
#include <thread>

namespace gpupool::sim {
namespace {

template <typename T>
T arg(const uint8_t* const* params, int index) {
  T value;
  std::memcpy(&value, params[index], sizeof(T));
  return value;
}

uint64_t threads_x(const LaunchGeometry& g) { return uint64_t{g.grid[0]} * g.block[0]; }
uint64_t threads_y(const LaunchGeometry& g) { return uint64_t{g.grid[1]} * g.block[1]; }
uint64_t threads_z(const LaunchGeometry& g) { return uint64_t{g.grid[2]} * g.block[2]; }

// Elements [0, n) that a kernel indexing `int i = blockIdx.x*blockDim.x+threadIdx.x`
// computes: those below both n and the grid's x coverage.
uint64_t covered(long long n, const LaunchGeometry& g) {
  if (n <= 0) return 0;
  uint64_t x = std::min<uint64_t>(threads_x(g), uint64_t{INT_MAX});
  return std::min<uint64_t>(uint64_t(n), x);
}

bool accessible(Context* ctx, const void* ptr, uint64_t bytes) {
  return device_accessible(ctx, reinterpret_cast<CUdeviceptr>(ptr), static_cast<size_t>(bytes));
}

// saxpy(int n, float a, const float* x, float* y): y[i] = a * x[i] + y[i].
CUresult saxpy(Context* ctx, const LaunchGeometry& g, const uint8_t* const* p) {
  int n = arg<int>(p, 0);
  float a = arg<float>(p, 1);
  const float* x = arg<const float*>(p, 2);
  float* y = arg<float*>(p, 3);
  uint64_t count = covered(n, g);
  if (count == 0) return CUDA_SUCCESS;
  if (!accessible(ctx, x, count * 4) || !accessible(ctx, y, count * 4)) return CUDA_ERROR_ILLEGAL_ADDRESS;
  for (uint64_t rep = threads_y(g) * threads_z(g); rep > 0; --rep) {
    for (uint64_t i = 0; i < count; ++i) y[i] = std::fmaf(x[i], a, y[i]);
  }
  return CUDA_SUCCESS;
}

// vector_add(const float* a, const float* b, float* c, int n): c[i] = a[i] + b[i].
CUresult vector_add(Context* ctx, const LaunchGeometry& g, const uint8_t* const* p) {
  const float* a = arg<const float*>(p, 0);
  const float* b = arg<const float*>(p, 1);
  float* c = arg<float*>(p, 2);
  uint64_t count = covered(arg<int>(p, 3), g);
  if (count == 0) return CUDA_SUCCESS;
  if (!accessible(ctx, a, count * 4) || !accessible(ctx, b, count * 4) ||
      !accessible(ctx, c, count * 4)) {
    return CUDA_ERROR_ILLEGAL_ADDRESS;
  }
  for (uint64_t rep = threads_y(g) * threads_z(g); rep > 0; --rep) {
    for (uint64_t i = 0; i < count; ++i) c[i] = a[i] + b[i];
  }
  return CUDA_SUCCESS;
}

// fill_u32(unsigned* p, unsigned v, unsigned long long n): p[i] = v, 64-bit index.
CUresult fill_u32(Context* ctx, const LaunchGeometry& g, const uint8_t* const* p) {
  unsigned* out = arg<unsigned*>(p, 0);
  unsigned v = arg<unsigned>(p, 1);
  uint64_t count = std::min<uint64_t>(arg<unsigned long long>(p, 2), threads_x(g));
  if (count == 0) return CUDA_SUCCESS;
  if (!accessible(ctx, out, count * 4)) return CUDA_ERROR_ILLEGAL_ADDRESS;
  for (uint64_t i = 0; i < count; ++i) out[i] = v;  // idempotent: once is every repeat
  return CUDA_SUCCESS;
}

// sgemm_nn(int m, int n, int k, float alpha, const float* A, const float* B,
//          float beta, float* C), row-major; row from y, column from x.
CUresult sgemm_nn(Context* ctx, const LaunchGeometry& g, const uint8_t* const* p) {
  int m = arg<int>(p, 0), n = arg<int>(p, 1), k = arg<int>(p, 2);
  float alpha = arg<float>(p, 3);
  const float* A = arg<const float*>(p, 4);
  const float* B = arg<const float*>(p, 5);
  float beta = arg<float>(p, 6);
  float* C = arg<float*>(p, 7);
  if (m <= 0 || n <= 0) return CUDA_SUCCESS;
  uint64_t rows = std::min<uint64_t>(uint64_t(m), std::min<uint64_t>(threads_y(g), INT_MAX));
  uint64_t cols = std::min<uint64_t>(uint64_t(n), std::min<uint64_t>(threads_x(g), INT_MAX));
  uint64_t kk = k > 0 ? uint64_t(k) : 0;
  // Highest element touched + 1, per matrix.
  if (!accessible(ctx, C, ((rows - 1) * uint64_t(n) + cols) * 4)) return CUDA_ERROR_ILLEGAL_ADDRESS;
  if (kk > 0 && (!accessible(ctx, A, rows * kk * 4) ||
                 !accessible(ctx, B, ((kk - 1) * uint64_t(n) + cols) * 4))) {
    return CUDA_ERROR_ILLEGAL_ADDRESS;
  }
  for (uint64_t rep = threads_z(g); rep > 0; --rep) {
    for (uint64_t row = 0; row < rows; ++row) {
      for (uint64_t col = 0; col < cols; ++col) {
        float acc = 0.0f;
        for (uint64_t i = 0; i < kk; ++i) acc = std::fmaf(A[row * kk + i], B[i * n + col], acc);
        float& c = C[row * n + col];
        float scaled = c * beta;
        c = std::fmaf(acc, alpha, scaled);
      }
    }
  }
  return CUDA_SUCCESS;
}

// spin(unsigned long long nanoseconds): the device is busy that long. Sleeps
// most of it and spins the last stretch, so short waits are still precise.
CUresult spin(Context*, const LaunchGeometry&, const uint8_t* const* p) {
  using Clock = std::chrono::steady_clock;
  unsigned long long ns = arg<unsigned long long>(p, 0);
  const unsigned long long kMax = uint64_t{1} << 62;  // ~146 years: forever, without overflow
  const auto deadline = Clock::now() + std::chrono::nanoseconds(std::min(ns, kMax));
  const auto kSpin = std::chrono::microseconds(100);
  for (auto now = Clock::now(); now < deadline; now = Clock::now()) {
    auto left = deadline - now;
    if (left > 2 * kSpin) {
      std::this_thread::sleep_for(left - kSpin);
    } else {
      std::this_thread::yield();
    }
  }
  return CUDA_SUCCESS;
}

const BuiltinKernel kKernels[] = {
    {"saxpy", {4, 4, 8, 8}, saxpy},
    {"vector_add", {8, 8, 8, 4}, vector_add},
    {"fill_u32", {8, 4, 8}, fill_u32},
    {"sgemm_nn", {4, 4, 4, 4, 8, 8, 4, 8}, sgemm_nn},
    {"spin", {8}, spin},
};

}  // namespace

const BuiltinKernel* find_builtin_kernel(const char* name, const std::vector<size_t>& param_sizes) {
  for (const BuiltinKernel& k : kKernels) {
    if (std::strcmp(k.name, name) == 0 && k.param_sizes == param_sizes) return &k;
  }
  return nullptr;
}

}  // namespace gpupool::sim
