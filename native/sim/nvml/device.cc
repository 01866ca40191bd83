// device.cc — device enumeration and identity of the simulated NVML
// (contract: nvml_internal.h): count, handles by index and UUID, index, name,
// UUID and PCI information, all matching what the sim's driver reports for the
// same physical device.
#include <cstdio>
#include <cstring>

#include "nvml_internal.h"
#include "sim.h"

using namespace gpupool::sim_nvml;

namespace {

nvmlReturn_t count(unsigned int* deviceCount) {
  if (nvmlReturn_t r = require_init(); r != NVML_SUCCESS) return r;
  if (deviceCount == nullptr) return NVML_ERROR_INVALID_ARGUMENT;
  *deviceCount = device_count();
  return NVML_SUCCESS;
}

nvmlReturn_t by_index(unsigned int index, nvmlDevice_t* device) {
  if (nvmlReturn_t r = require_init(); r != NVML_SUCCESS) return r;
  if (device == nullptr) return NVML_ERROR_INVALID_ARGUMENT;
  nvmlDevice_st* d = device_at(index);
  if (d == nullptr) return NVML_ERROR_INVALID_ARGUMENT;
  *device = d;
  return NVML_SUCCESS;
}

}  // namespace

NVML_SIM_API nvmlReturn_t nvmlDeviceGetCount_v2(unsigned int* deviceCount) { return count(deviceCount); }
NVML_SIM_API nvmlReturn_t nvmlDeviceGetCount(unsigned int* deviceCount) { return count(deviceCount); }

NVML_SIM_API nvmlReturn_t nvmlDeviceGetHandleByIndex_v2(unsigned int index, nvmlDevice_t* device) {
  return by_index(index, device);
}
NVML_SIM_API nvmlReturn_t nvmlDeviceGetHandleByIndex(unsigned int index, nvmlDevice_t* device) {
  return by_index(index, device);
}

NVML_SIM_API nvmlReturn_t nvmlDeviceGetHandleByUUID(const char* uuid, nvmlDevice_t* device) {
  if (nvmlReturn_t r = require_init(); r != NVML_SUCCESS) return r;
  if (uuid == nullptr || device == nullptr) return NVML_ERROR_INVALID_ARGUMENT;
  for (unsigned i = 0, n = device_count(); i < n; ++i) {
    nvmlDevice_st* d = device_at(i);
    if (strcasecmp(d->uuid_text.c_str(), uuid) == 0) {
      *device = d;
      return NVML_SUCCESS;
    }
  }
  return NVML_ERROR_NOT_FOUND;
}

NVML_SIM_API nvmlReturn_t nvmlDeviceGetIndex(nvmlDevice_t device, unsigned int* index) {
  nvmlDevice_st* d = nullptr;
  if (nvmlReturn_t r = checked(device, &d); r != NVML_SUCCESS) return r;
  if (index == nullptr) return NVML_ERROR_INVALID_ARGUMENT;
  *index = d->index;
  return NVML_SUCCESS;
}

NVML_SIM_API nvmlReturn_t nvmlDeviceGetName(nvmlDevice_t device, char* name, unsigned int length) {
  nvmlDevice_st* d = nullptr;
  if (nvmlReturn_t r = checked(device, &d); r != NVML_SUCCESS) return r;
  return copy_text(d->name, name, length);
}

NVML_SIM_API nvmlReturn_t nvmlDeviceGetUUID(nvmlDevice_t device, char* uuid, unsigned int length) {
  nvmlDevice_st* d = nullptr;
  if (nvmlReturn_t r = checked(device, &d); r != NVML_SUCCESS) return r;
  return copy_text(d->uuid_text, uuid, length);
}

NVML_SIM_API nvmlReturn_t nvmlDeviceGetPciInfo_v3(nvmlDevice_t device, nvmlPciInfo_t* pci) {
  nvmlDevice_st* d = nullptr;
  if (nvmlReturn_t r = checked(device, &d); r != NVML_SUCCESS) return r;
  if (pci == nullptr) return NVML_ERROR_INVALID_ARGUMENT;
  *pci = nvmlPciInfo_t{};
  pci->domain = 0;
  pci->bus = static_cast<unsigned>(gpupool::sim::pci_bus(static_cast<int>(d->index)));
  pci->device = 0;
  // NVIDIA's vendor id (0x10DE) in the low half; the device ids are the sim's own.
  pci->pciDeviceId = 0x000010DEu;
  pci->pciSubSystemId = 0x000010DEu;
  // Same bus id as the sim's cuDeviceGetPCIBusId ("0000:01:00.0"), with
  // NVML's 8-digit domain in busId.
  std::snprintf(pci->busIdLegacy, sizeof(pci->busIdLegacy), "%04X:%02X:%02X.0", pci->domain, pci->bus, pci->device);
  std::snprintf(pci->busId, sizeof(pci->busId), "%08X:%02X:%02X.0", pci->domain, pci->bus, pci->device);
  return NVML_SUCCESS;
}
