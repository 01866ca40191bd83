// hooks_gated.h — one line per gated copy or memset hook (hooks_copy.cc,
// hooks_memset.cc): the exported entry point calls exactly its own real
// variant through the time-slice gate (gate.h).
//   GATED_SYNC(name, per_thread, (params), (args))   no stream: the NULL stream
//                                                    (per-thread for _ptds)
//   GATED_ASYNC(name, per_thread, (params), (args))  on the parameter hStream
#pragma once

#include "gate.h"
#include "hook_table.h"
#include "real_driver.h"

#define GPUPOOL_GATED_HOOK(name, per_thread, synchronous, stream, params, args)            \
  SHIM_EXPORT CUresult name params {                                                        \
    auto real = SHIM_REAL(name);                                                            \
    if (__builtin_expect(real == nullptr, 0)) return ::gpupool::shim::missing_real_result(); \
    GPUPOOL_GATED((::gpupool::shim::GateTarget{stream, per_thread, synchronous}), real args); \
  }

#define GATED_SYNC(name, per_thread, params, args) \
  GPUPOOL_GATED_HOOK(name, per_thread, true, nullptr, params, args)
#define GATED_ASYNC(name, per_thread, params, args) \
  GPUPOOL_GATED_HOOK(name, per_thread, false, hStream, params, args)
