// proc_address.cc — cuGetProcAddress: driver entry points by base name.
//
// cudart, PyTorch, JAX and the gpupool shim find most of the driver through
// cuGetProcAddress rather than by symbol, so the sim must answer it as the
// driver does: `symbol` is a base name ("cuMemAlloc"), and the answer is the
// newest ABI variant introduced at or before `cudaVersion` (cuMemAlloc_v2 from
// 3.2 on, plain cuMemAlloc before), the _ptds/_ptsz variant when per-thread
// default stream semantics are asked for and the symbol has one. The table is
// generated from cuda.h and cudaTypedefs.h (gen_driver_api.py), so it lists
// every exported entry point, implemented or stub. It works before cuInit.
//
// Answers follow what driver 580 (CUDA 13.0) was seen to return, which is what
// the CUDA 13 header documents (see get_proc_address below).
//
// The library is linked with -Bsymbolic, so the addresses handed out are the
// sim's own functions even when an LD_PRELOAD shim exports the same names.
#include <algorithm>
#include <cstring>

#include "sim.h"

#define SIM_PROC(base, introduced, per_thread, name)
#define SIM_PROC_DECLARE(name) extern "C" CUresult name();
#include "proc_table.inc"
#undef SIM_PROC
#undef SIM_PROC_DECLARE

namespace gpupool::sim {
namespace {

struct ProcEntry {
  const char* base;
  int introduced;   // CUDA version (1000 * major + 10 * minor)
  bool per_thread;  // the _ptds / _ptsz variant
  void* fn;
};

const ProcEntry kProcTable[] = {
#define SIM_PROC(base, introduced, per_thread, name) \
  {base, introduced, per_thread != 0, reinterpret_cast<void*>(&name)},
#define SIM_PROC_DECLARE(name)
#include "proc_table.inc"
#undef SIM_PROC
#undef SIM_PROC_DECLARE
};

// The driver version the sim reports (cuDriverGetVersion): that of cuda.h.
constexpr int kDriverVersion = CUDA_VERSION;

bool base_less(const ProcEntry& e, const char* symbol) { return std::strcmp(e.base, symbol) < 0; }

// The newest entry of [first, last) for `per_thread` introduced by `version`;
// *exists: whether [first, last) has any entry for `per_thread`.
const ProcEntry* newest(const ProcEntry* first, const ProcEntry* last, bool per_thread, int version,
                        bool* exists) {
  const ProcEntry* best = nullptr;
  *exists = false;
  for (const ProcEntry* e = first; e != last; ++e) {  // sorted by introduced
    if (e->per_thread != per_thread) continue;
    *exists = true;
    if (e->introduced <= version) best = e;
  }
  return best;
}

// The lookup, as driver 580 (CUDA 13.0) answers it: an unknown symbol, or one
// whose variants are all newer than cudaVersion, is CUDA_SUCCESS with *pfn =
// NULL and the reason in *status (as documented); invalid flags or a
// cudaVersion above the driver's are CUDA_ERROR_INVALID_VALUE, *pfn untouched.
// (The driver crashes on a NULL symbol or pfn; the sim says INVALID_VALUE.)
CUresult get_proc_address(const char* symbol, void** pfn, int cuda_version, cuuint64_t flags,
                          CUdriverProcAddressQueryResult* status) {
  if (symbol == nullptr || pfn == nullptr) return CUDA_ERROR_INVALID_VALUE;
  const cuuint64_t known = CU_GET_PROC_ADDRESS_LEGACY_STREAM |
                           CU_GET_PROC_ADDRESS_PER_THREAD_DEFAULT_STREAM;
  if ((flags & ~known) != 0) return CUDA_ERROR_INVALID_VALUE;
  if (cuda_version > kDriverVersion) return CUDA_ERROR_INVALID_VALUE;

  *pfn = nullptr;
  const ProcEntry* begin = std::begin(kProcTable);
  const ProcEntry* end = std::end(kProcTable);
  const ProcEntry* first = std::lower_bound(begin, end, symbol, base_less);
  const ProcEntry* last = first;
  while (last != end && std::strcmp(last->base, symbol) == 0) ++last;
  if (first == last) {
    if (status != nullptr) *status = CU_GET_PROC_ADDRESS_SYMBOL_NOT_FOUND;
    return CUDA_SUCCESS;
  }
  // CU_GET_PROC_ADDRESS_DEFAULT means per-thread only for code built with
  // CUDA_API_PER_THREAD_DEFAULT_STREAM, and cuda.h's inline wrapper turns that
  // into an explicit PER_THREAD flag: here DEFAULT is legacy. Per-thread
  // lookups fall back to the legacy variants only for symbols that have no
  // per-thread variant at all; one too new for cudaVersion is "not sufficient".
  bool exists = false;
  const ProcEntry* hit = nullptr;
  if (flags & CU_GET_PROC_ADDRESS_PER_THREAD_DEFAULT_STREAM) {
    hit = newest(first, last, true, cuda_version, &exists);
  }
  if (hit == nullptr && !exists) hit = newest(first, last, false, cuda_version, &exists);
  if (hit == nullptr) {
    if (status != nullptr) *status = CU_GET_PROC_ADDRESS_VERSION_NOT_SUFFICIENT;
    return CUDA_SUCCESS;
  }
  *pfn = hit->fn;
  if (status != nullptr) *status = CU_GET_PROC_ADDRESS_SUCCESS;
  return CUDA_SUCCESS;
}

}  // namespace
}  // namespace gpupool::sim

SIM_API CUresult cuGetProcAddress_v2(const char* symbol, void** pfn, int cudaVersion,
                                     cuuint64_t flags, CUdriverProcAddressQueryResult* symbolStatus) {
  return gpupool::sim::get_proc_address(symbol, pfn, cudaVersion, flags, symbolStatus);
}

// The CUDA 11.3 form, without the status: a symbol not found is
// CUDA_ERROR_NOT_FOUND with *pfn untouched (driver 580 does so).
SIM_API CUresult cuGetProcAddress(const char* symbol, void** pfn, int cudaVersion,
                                  cuuint64_t flags) {
  if (pfn == nullptr) return CUDA_ERROR_INVALID_VALUE;
  void* found = nullptr;
  CUdriverProcAddressQueryResult status = CU_GET_PROC_ADDRESS_SUCCESS;
  CUresult r = gpupool::sim::get_proc_address(symbol, &found, cudaVersion, flags, &status);
  if (r != CUDA_SUCCESS) return r;
  if (status != CU_GET_PROC_ADDRESS_SUCCESS) return CUDA_ERROR_NOT_FOUND;
  *pfn = found;
  return CUDA_SUCCESS;
}
