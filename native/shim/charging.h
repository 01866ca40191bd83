// charging.h — the shape every allocation hook shares: charge the job's
// quota, call the driver, record what was allocated; and the reverse for frees.
//
// Contract (quota.h has the why): a hook charges before the real call, so an
// over-quota request returns CUDA_ERROR_OUT_OF_MEMORY and the driver is never
// called; a charge is given back when the real call fails or allocates nothing;
// a success is recorded (allocations.h) so that the free uncharges exactly
// what was charged, on the device it was charged to.
//
// Threading: every function may be called from any application thread at any
// time; the state lives in the quota engine and the allocation records, which
// lock for themselves. Nothing here owns memory.
#ifndef GPUPOOL_SHIM_CHARGING_H_
#define GPUPOOL_SHIM_CHARGING_H_

#include <cstdint>

#include "allocations.h"
#include <cuda.h>
#include "quota.h"

namespace gpupool::shim {

// Linear memory is handed out in 512-byte rows and pieces on every GPU the
// shim knows, and the simulated driver does the same.
constexpr uint64_t kLinearAlign = 512;

// Saturating arithmetic: sizes come from the application and may be absurd;
// an absurd size must be refused by the quota, not wrap into a small one.
inline uint64_t add_sat(uint64_t a, uint64_t b) { return a > UINT64_MAX - b ? UINT64_MAX : a + b; }
inline uint64_t mul_sat(uint64_t a, uint64_t b) {
  uint64_t r = 0;
  return __builtin_mul_overflow(a, b, &r) ? UINT64_MAX : r;
}
inline uint64_t round_up(uint64_t v, uint64_t a) {
  return v > UINT64_MAX - (a - 1) ? UINT64_MAX : (v + a - 1) / a * a;
}

// The device of the calling thread's current context; -1 when there is none.
int current_device();

// The device a stream-ordered allocation on `stream` comes from.
int stream_device(CUstream stream);

// Reserves `bytes` on `device`; false (and a log line naming `call`) when the
// job may not have them.
bool charge(int device, uint64_t bytes, const char* call);

// Records a successful allocation of `bytes` on `device` under `key`.
void remember(Resource kind, uint64_t key, int device, uint64_t bytes);

// Charge, call, record. `call(uint64_t* key)` runs the real allocation and
// stores the key of what it made (0: nothing was made).
template <typename Call>
CUresult charged(Resource kind, int device, uint64_t bytes, const char* name, Call call) {
  if (!charge(device, bytes, name)) return CUDA_ERROR_OUT_OF_MEMORY;
  uint64_t key = 0;
  CUresult r = call(&key);
  if (r != CUDA_SUCCESS || key == 0) {
    quota_uncharge(device, bytes);  // failed, or nothing allocated (0 bytes)
    return r;
  }
  remember(kind, key, device, bytes);
  return r;
}

// Take the record, free, uncharge — or restore the record if the driver refuses.
template <typename Call>
CUresult uncharged(Resource kind, uint64_t key, Call call) {
  Allocation a;
  bool known = key != 0 && allocation_take(kind, key, &a);
  CUresult r = call();
  if (known) {
    if (r == CUDA_SUCCESS) quota_uncharge(a.device, a.bytes);
    else allocation_restore(kind, key, a);
  }
  return r;
}

}  // namespace gpupool::shim

#endif  // GPUPOOL_SHIM_CHARGING_H_
