// job_uuids.cc — see job_uuids.h.
#include "job_uuids.h"

#include <gpupool/nvml_uuid.h>
#include <strings.h>

#include <atomic>

#include "hook_table.h"
#include "log.h"
#include "quota.h"
#include "real_driver.h"

namespace gpupool::shim {
namespace {

struct UuidTable {
  int count = 0;
  char uuid[kMaxDevices][GPUPOOL_NVML_UUID_TEXT_SIZE] = {};
};

std::atomic<const UuidTable*> g_table{nullptr};

const UuidTable* build() {
  auto* table = new UuidTable;
  // The shim's own cuInit hook, not the real one: see job_uuids.h.
  CUresult r = ::cuInit(0);
  auto count = SHIM_REAL(cuDeviceGetCount);
  auto get = SHIM_REAL(cuDeviceGet);
  auto uuid = SHIM_REAL(cuDeviceGetUuid_v2);
  int n = 0;
  if (r == CUDA_SUCCESS && count != nullptr && get != nullptr && uuid != nullptr &&
      count(&n) == CUDA_SUCCESS) {
    for (int i = 0; i < n && i < kMaxDevices; ++i) {
      CUdevice dev = 0;
      CUuuid u{};
      if (get(&dev, i) != CUDA_SUCCESS || uuid(&u, dev) != CUDA_SUCCESS) continue;
      gpupool_nvml_uuid_text(reinterpret_cast<const unsigned char*>(u.bytes), table->uuid[i]);
    }
    table->count = n < kMaxDevices ? n : kMaxDevices;
  } else {
    GPUPOOL_LOG_INFO("NVML memory queries pass through: the CUDA driver could not be initialised (CUresult %d)",
                     static_cast<int>(r));
  }
  const UuidTable* expected = nullptr;
  if (!g_table.compare_exchange_strong(expected, table, std::memory_order_acq_rel)) {
    delete table;
    return expected;
  }
  return table;
}

}  // namespace

int job_device_by_uuid(const char* uuid) {
  if (uuid == nullptr) return -1;
  const UuidTable* table = g_table.load(std::memory_order_acquire);
  if (table == nullptr) table = build();
  for (int i = 0; i < table->count; ++i)
    if (table->uuid[i][0] != 0 && strcasecmp(table->uuid[i], uuid) == 0) return i;
  return -1;
}

}  // namespace gpupool::shim
