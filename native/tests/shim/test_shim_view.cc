// The job's virtualised view of its devices. One program, one scenario per
// argument (each a ctest with its own environment):
//   basic          GPUPOOL_MEMORY_LIMIT=256MiB: cuMemGetInfo total == quota,
//                  free == quota - used; cuDeviceTotalMem == quota
//   capped         GPUPOOL_MEMORY_LIMIT=64TiB: capped by the physical memory
//   unlimited      no limit: the driver's own numbers
//   per-device     2 devices, GPUPOOL_MEMORY_LIMIT=256MiB, GPUPOOL_MEMORY_LIMIT_1=128MiB
//   only-device-1  2 devices, only GPUPOOL_MEMORY_LIMIT_1=128MiB
//   visible        4 devices, GPUPOOL_VISIBLE_DEVICES=2,3, GPUPOOL_MEMORY_LIMIT_1=128MiB:
//                  two devices, which are physical 2 and 3 (name, UUID, PCI bus
//                  id as a child without the shim sees them); the per-device
//                  limit applies to the job's ordinal 1
// "Physical" numbers come from a copy of this program run without LD_PRELOAD.
#include "shim_test.h"

namespace {

struct DeviceFacts {
  std::string name, uuid, pci;
  size_t total = 0;
  int pci_bus = -1;
};

std::string hex(const CUuuid& u) {
  std::string s;
  char b[3];
  for (char c : u.bytes) {
    std::snprintf(b, sizeof b, "%02x", static_cast<unsigned char>(c));
    s += b;
  }
  return s;
}

DeviceFacts facts(CUdevice d) {
  DeviceFacts f;
  char name[256] = {0}, pci[64] = {0};
  CUuuid u{};
  CHECK_CU(cuDeviceGetName(name, sizeof name, d), CUDA_SUCCESS);
  CHECK_CU(cuDeviceGetUuid(&u, d), CUDA_SUCCESS);
  CHECK_CU(cuDeviceGetPCIBusId(pci, sizeof pci, d), CUDA_SUCCESS);
  CHECK_CU(cuDeviceTotalMem(&f.total, d), CUDA_SUCCESS);
  CHECK_CU(cuDeviceGetAttribute(&f.pci_bus, CU_DEVICE_ATTRIBUTE_PCI_BUS_ID, d), CUDA_SUCCESS);
  f.name = name;
  f.uuid = hex(u);
  f.pci = pci;
  return f;
}

// Role "probe" (no shim): "name|uuid|pci|total|pci_bus|free" per device.
int probe() {
  if (cuInit(0) != CUDA_SUCCESS) return 2;
  int n = 0;
  if (cuDeviceGetCount(&n) != CUDA_SUCCESS) return 3;
  for (int i = 0; i < n; ++i) {
    DeviceFacts f = facts(i);
    CUcontext ctx = nullptr;
    size_t free = 0, total = 0;
    if (cuDevicePrimaryCtxRetain(&ctx, i) == CUDA_SUCCESS && cuCtxSetCurrent(ctx) == CUDA_SUCCESS)
      cuMemGetInfo(&free, &total);
    cuCtxSetCurrent(nullptr);
    cuDevicePrimaryCtxRelease(i);
    std::printf("%s|%s|%s|%zu|%d|%zu\n", f.name.c_str(), f.uuid.c_str(), f.pci.c_str(), f.total, f.pci_bus, free);
  }
  return dt::failure_count() == 0 ? 0 : 4;
}

struct Physical {
  std::vector<DeviceFacts> devices;
  std::vector<size_t> free;
};

Physical physical() {
  st::SpawnOptions o;
  // The driver alone, all devices (the shim may hand its device list to the
  // driver as CUDA_VISIBLE_DEVICES; these tests set none themselves).
  o.env.no_shim().drop("CUDA_VISIBLE_DEVICES");
  o.capture_stdout = true;
  st::Child c = st::spawn_self("probe", {}, o);
  std::string out = st::read_all(c.out_fd);
  int rc = st::wait_child(c.pid);
  REQUIRE(rc == 0);
  Physical p;
  size_t pos = 0;
  while (pos < out.size()) {
    size_t end = out.find('\n', pos);
    std::string line = out.substr(pos, end - pos);
    pos = end == std::string::npos ? out.size() : end + 1;
    std::vector<std::string> f;
    size_t s = 0;
    for (;;) {
      size_t bar = line.find('|', s);
      f.push_back(line.substr(s, bar - s));
      if (bar == std::string::npos) break;
      s = bar + 1;
    }
    if (f.size() != 6) continue;
    DeviceFacts d;
    d.name = f[0];
    d.uuid = f[1];
    d.pci = f[2];
    d.total = std::stoull(f[3]);
    d.pci_bus = std::stoi(f[4]);
    p.devices.push_back(d);
    p.free.push_back(std::stoull(f[5]));
  }
  dt::info("%zu physical device(s); device 0: %s, %s", p.devices.size(),
           p.devices.empty() ? "-" : p.devices[0].name.c_str(),
           p.devices.empty() ? "-" : st::mib(p.devices[0].total).c_str());
  REQUIRE(!p.devices.empty());
  return p;
}

// Makes `dev`'s primary context current; returns it retained.
CUcontext use_device(CUdevice dev) {
  CUcontext ctx = nullptr;
  REQUIRE_CU(cuDevicePrimaryCtxRetain(&ctx, dev), CUDA_SUCCESS);
  REQUIRE_CU(cuCtxSetCurrent(ctx), CUDA_SUCCESS);
  return ctx;
}

// The device whose context is current shows `limit`, and enforces it.
void check_limit_on_current(size_t limit, const std::string& what) {
  dt::section(what.c_str());
  st::MemInfo m = st::mem_info();
  CHECK_CU(m.r, CUDA_SUCCESS);
  CHECK_EQ(m.total, limit);
  CHECK_EQ(m.free, limit);
  CUdeviceptr p = 0, q = 0;
  CHECK_CU(cuMemAlloc(&p, limit + 2 * st::kMiB), CUDA_ERROR_OUT_OF_MEMORY);
  CHECK_CU(cuMemAlloc(&p, limit), CUDA_SUCCESS);
  CHECK_CU(cuMemAlloc(&q, 2 * st::kMiB), CUDA_ERROR_OUT_OF_MEMORY);
  m = st::mem_info();
  CHECK_EQ(m.free, size_t{0});
  CHECK_CU(cuMemFree(p), CUDA_SUCCESS);
}

void basic(const Physical& phys) {
  const size_t quota = st::configured_quota();
  REQUIRE(quota < phys.devices[0].total);
  CUdevice dev = dt::init_primary();
  dt::section("cuMemGetInfo and cuDeviceTotalMem show the quota");
  size_t total = 0;
  CHECK_CU(cuDeviceTotalMem(&total, dev), CUDA_SUCCESS);
  CHECK_EQ(total, quota);
  st::MemInfo m = st::mem_info();
  CHECK_CU(m.r, CUDA_SUCCESS);
  CHECK_EQ(m.total, quota);
  CHECK_EQ(m.free, quota);
  dt::section("free == quota - used");
  CUdeviceptr a = 0, b = 0;
  CHECK_CU(cuMemAlloc(&a, 100 * st::kMiB), CUDA_SUCCESS);
  m = st::mem_info();
  CHECK_EQ(m.total, quota);
  CHECK_EQ(m.free, quota - 100 * st::kMiB);
  CHECK_CU(cuMemAllocManaged(&b, 50 * st::kMiB, CU_MEM_ATTACH_GLOBAL), CUDA_SUCCESS);
  m = st::mem_info();
  CHECK_EQ(m.free, quota - 150 * st::kMiB);
  CHECK_CU(cuMemFree(a), CUDA_SUCCESS);
  m = st::mem_info();
  CHECK_EQ(m.free, quota - 50 * st::kMiB);
  CHECK_CU(cuMemFree(b), CUDA_SUCCESS);
  m = st::mem_info();
  CHECK_EQ(m.free, quota);
  CHECK_CU(cuDeviceTotalMem(&total, dev), CUDA_SUCCESS);
  CHECK_EQ(total, quota);
  dt::section("without a current context: the driver's error");
  CHECK_CU(cuCtxSetCurrent(nullptr), CUDA_SUCCESS);
  size_t f = 0, t = 0;
  CHECK_CU(cuMemGetInfo(&f, &t), CUDA_ERROR_INVALID_CONTEXT);
  CHECK_CU(cuCtxSetCurrent(nullptr), CUDA_SUCCESS);
  CHECK_CU(cuDevicePrimaryCtxRelease(dev), CUDA_SUCCESS);
}

// Capped (a quota above the device) and unlimited: the driver's numbers.
void physical_numbers(const Physical& phys, const char* what) {
  CUdevice dev = dt::init_primary();
  dt::section(what);
  size_t total = 0;
  CHECK_CU(cuDeviceTotalMem(&total, dev), CUDA_SUCCESS);
  CHECK_EQ(total, phys.devices[0].total);
  st::MemInfo m = st::mem_info();
  CHECK_CU(m.r, CUDA_SUCCESS);
  CHECK_EQ(m.total, phys.devices[0].total);
  CHECK_MSG(m.free <= m.total && m.free > 0, st::mib(m.free));
  // A real GPU's free memory moves with other processes and contexts (the
  // probe's own context, ~0.5 GiB on an H100, was alive when it measured).
  CHECK_MSG(m.free <= phys.free[0] + st::kGiB,
            "free " + st::mib(m.free) + " above the physical free " + st::mib(phys.free[0]));
  CUdeviceptr p = 0;
  CHECK_CU(cuMemAlloc(&p, 64 * st::kMiB), CUDA_SUCCESS);
  // How free moves is the driver's business here (other processes share a real GPU).
  st::MemInfo m2 = st::mem_info();
  CHECK_EQ(m2.total, phys.devices[0].total);
  dt::info("free %s -> %s after allocating 64 MiB", st::mib(m.free).c_str(), st::mib(m2.free).c_str());
  CHECK_CU(cuMemFree(p), CUDA_SUCCESS);
  CHECK_CU(cuMemAlloc(&p, phys.devices[0].total + 2 * st::kMiB), CUDA_ERROR_OUT_OF_MEMORY);
  dt::release_primary(dev);
}

void per_device(const Physical& phys, bool global_limit) {
  REQUIRE(phys.devices.size() == 2);
  REQUIRE_CU(cuInit(0), CUDA_SUCCESS);
  const size_t limit0 = global_limit ? st::configured_quota() : phys.devices[0].total;
  const size_t limit1 = st::parse_size(st::env_or("GPUPOOL_MEMORY_LIMIT_1", "0"));
  size_t t0 = 0, t1 = 0;
  CHECK_CU(cuDeviceTotalMem(&t0, 0), CUDA_SUCCESS);
  CHECK_CU(cuDeviceTotalMem(&t1, 1), CUDA_SUCCESS);
  CHECK_EQ(t0, limit0);
  CHECK_EQ(t1, limit1);

  CUcontext ctx1 = use_device(1);
  check_limit_on_current(limit1, "device 1: GPUPOOL_MEMORY_LIMIT_1");

  // cuMemCreate names its device in the properties, whatever context is current.
  dt::section("cuMemCreate for device 1 from device 0's context is charged to device 1");
  CUcontext ctx0_tmp = nullptr;
  REQUIRE_CU(cuDevicePrimaryCtxRetain(&ctx0_tmp, 0), CUDA_SUCCESS);
  REQUIRE_CU(cuCtxSetCurrent(ctx0_tmp), CUDA_SUCCESS);
  CUmemAllocationProp prop{};
  prop.type = CU_MEM_ALLOCATION_TYPE_PINNED;
  prop.location.type = CU_MEM_LOCATION_TYPE_DEVICE;
  prop.location.id = 1;
  size_t gran = 0;
  CHECK_CU(cuMemGetAllocationGranularity(&gran, &prop, CU_MEM_ALLOC_GRANULARITY_MINIMUM), CUDA_SUCCESS);
  CUmemGenericAllocationHandle h = 0;
  CHECK_CU(cuMemCreate(&h, limit1 + gran, &prop, 0), CUDA_ERROR_OUT_OF_MEMORY);
  if (CHECK_CU(cuMemCreate(&h, limit1, &prop, 0), CUDA_SUCCESS)) {
    CHECK_CU(cuCtxSetCurrent(ctx1), CUDA_SUCCESS);
    CUdeviceptr q = 0;
    CHECK_CU_MSG(cuMemAlloc(&q, 2 * st::kMiB), CUDA_ERROR_OUT_OF_MEMORY, "device 1 is full");
    CHECK_CU(cuCtxSetCurrent(ctx0_tmp), CUDA_SUCCESS);
    st::MemInfo m = st::mem_info();
    CHECK_EQ(m.free, limit0);
    CHECK_CU(cuMemRelease(h), CUDA_SUCCESS);
  }
  CHECK_CU(cuCtxSetCurrent(ctx1), CUDA_SUCCESS);
  CHECK_CU(cuDevicePrimaryCtxRelease(0), CUDA_SUCCESS);
  CUdeviceptr held = 0;
  CHECK_CU(cuMemAlloc(&held, limit1), CUDA_SUCCESS);  // device 1 full ...
  use_device(0);
  if (global_limit) {
    check_limit_on_current(limit0, "device 0: GPUPOOL_MEMORY_LIMIT (device 1 full)");
  } else {
    dt::section("device 0 has no limit (device 1 full)");
    st::MemInfo m = st::mem_info();
    CHECK_EQ(m.total, phys.devices[0].total);
    CUdeviceptr p = 0;
    CHECK_CU(cuMemAlloc(&p, 2 * limit1), CUDA_SUCCESS);
    CHECK_CU(cuMemFree(p), CUDA_SUCCESS);
  }
  CHECK_CU(cuCtxSetCurrent(ctx1), CUDA_SUCCESS);
  CHECK_CU(cuMemFree(held), CUDA_SUCCESS);
  CHECK_CU(cuCtxSetCurrent(nullptr), CUDA_SUCCESS);
  CHECK_CU(cuDevicePrimaryCtxRelease(0), CUDA_SUCCESS);
  CHECK_CU(cuDevicePrimaryCtxRelease(1), CUDA_SUCCESS);
}

void visible(const Physical& phys) {
  REQUIRE(phys.devices.size() == 4);
  REQUIRE_CU(cuInit(0), CUDA_SUCCESS);
  dt::section("GPUPOOL_VISIBLE_DEVICES=2,3: two devices, renumbered from 0");
  int n = 0;
  CHECK_CU(cuDeviceGetCount(&n), CUDA_SUCCESS);
  CHECK_EQ(n, 2);
  CUdevice d = -1;
  CHECK_CU(cuDeviceGet(&d, 0), CUDA_SUCCESS);
  CHECK_EQ(d, 0);
  CHECK_CU(cuDeviceGet(&d, 1), CUDA_SUCCESS);
  CHECK_EQ(d, 1);
  CHECK_CU(cuDeviceGet(&d, 2), CUDA_ERROR_INVALID_DEVICE);
  char name[64];
  CHECK_CU(cuDeviceGetName(name, sizeof name, 2), CUDA_ERROR_INVALID_DEVICE);

  for (int i = 0; i < 2; ++i) {
    const DeviceFacts& want = phys.devices[2 + i];
    DeviceFacts got = facts(i);
    std::string title = "job device " + std::to_string(i) + " is physical device " + std::to_string(2 + i);
    dt::section(title.c_str());
    CHECK_EQ(got.name, want.name);
    CHECK_EQ(got.uuid, want.uuid);
    CHECK_EQ(got.pci, want.pci);
    CHECK_EQ(got.pci_bus, want.pci_bus);
    CUdevice by_pci = -1;
    CHECK_CU(cuDeviceGetByPCIBusId(&by_pci, want.pci.c_str()), CUDA_SUCCESS);
    CHECK_EQ(by_pci, i);
  }
  dt::section("hidden devices cannot be reached by PCI bus id");
  for (int hidden = 0; hidden < 2; ++hidden) {
    CUdevice by_pci = -1;
    CHECK_CU_ANY(cuDeviceGetByPCIBusId(&by_pci, phys.devices[hidden].pci.c_str()), CUDA_ERROR_INVALID_DEVICE,
                 CUDA_ERROR_INVALID_VALUE);
  }

  dt::section("limits by the job's ordinals");
  size_t total = 0;
  CHECK_CU(cuDeviceTotalMem(&total, 0), CUDA_SUCCESS);
  CHECK_EQ(total, phys.devices[2].total);
  const size_t limit1 = st::parse_size(st::env_or("GPUPOOL_MEMORY_LIMIT_1", "0"));
  CHECK_CU(cuDeviceTotalMem(&total, 1), CUDA_SUCCESS);
  CHECK_EQ(total, limit1);
  use_device(1);
  CUdevice cur = -1;
  CHECK_CU(cuCtxGetDevice(&cur), CUDA_SUCCESS);
  CHECK_EQ(cur, 1);
  check_limit_on_current(limit1, "job device 1 (physical 3): GPUPOOL_MEMORY_LIMIT_1");
  CHECK_CU(cuCtxSetCurrent(nullptr), CUDA_SUCCESS);
  use_device(0);
  CHECK_CU(cuCtxGetDevice(&cur), CUDA_SUCCESS);
  CHECK_EQ(cur, 0);
  st::MemInfo m = st::mem_info();
  CHECK_EQ(m.total, phys.devices[2].total);
  CHECK_CU(cuCtxSetCurrent(nullptr), CUDA_SUCCESS);
  CHECK_CU(cuDevicePrimaryCtxRelease(0), CUDA_SUCCESS);
  CHECK_CU(cuDevicePrimaryCtxRelease(1), CUDA_SUCCESS);
}

// GPUPOOL_VISIBLE_DEVICES=2,3 and the job's own CUDA_VISIBLE_DEVICES=1: the
// job's list is indexed within what gpupool shows it, so it sees physical 3,
// and no CUDA_VISIBLE_DEVICES reaches a hidden device.
void visible_cuda(const Physical& phys) {
  REQUIRE(phys.devices.size() == 4);
  REQUIRE_CU(cuInit(0), CUDA_SUCCESS);
  dt::section("GPUPOOL_VISIBLE_DEVICES=2,3 with CUDA_VISIBLE_DEVICES=1: physical 3 only");
  int n = 0;
  CHECK_CU(cuDeviceGetCount(&n), CUDA_SUCCESS);
  CHECK_EQ(n, 1);
  DeviceFacts got = facts(0);
  CHECK_EQ(got.uuid, phys.devices[3].uuid);
  CHECK_EQ(got.pci, phys.devices[3].pci);
  for (int hidden = 0; hidden < 3; ++hidden) {
    CUdevice by_pci = -1;
    CHECK_CU_ANY(cuDeviceGetByPCIBusId(&by_pci, phys.devices[hidden].pci.c_str()), CUDA_ERROR_INVALID_DEVICE,
                 CUDA_ERROR_INVALID_VALUE);
  }
}

}  // namespace

int main(int argc, char** argv) {
  st::run_isolated(argc, argv);
  std::string role = argc > 1 ? argv[1] : "basic";
  if (role == "probe") return probe();
  Physical phys = physical();
  if (role == "basic") basic(phys);
  else if (role == "capped") physical_numbers(phys, "a quota above the device: capped by the physical memory");
  else if (role == "unlimited") physical_numbers(phys, "no limit: the driver's numbers");
  else if (role == "per-device") per_device(phys, true);
  else if (role == "only-device-1") per_device(phys, false);
  else if (role == "visible") visible(phys);
  else if (role == "visible-cuda") visible_cuda(phys);
  else REQUIRE(!"unknown scenario");
  return dt::finish();
}
