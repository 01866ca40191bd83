// Swapping on oversubscribed devices (issue 6 item 3; native/shim/swap.h): a
// job's cuMemAlloc/cuMemAllocPitch memory on a device the agent oversubscribes
// is swapped out to host when the agent asks (slices[d].evict), and comes back
// at the same addresses, every byte intact, before the job's next operation.
//
// The scenario process is the fake agent (fake_agent.h): a table of two
// simulated devices with this job at kEntry, run as a child under the shim.
// The child maps the table read-write and plays the scheduler itself (grants,
// eviction requests), and reads its own gate rows from the job's region.
// Device 1 is oversubscribed too and has no memory of the job: an eviction
// request there is acknowledged at once, which tells the test that the shim's
// gate thread has looked at device 0 since (it polls the devices in order).
// Roles:
//   swap     allocations of several sizes (below the granularity, not
//            multiples of it, pitched) are VMM-backed, charged as asked and
//            counted resident rounded; an eviction leaves nothing mapped and
//            counts what it copied; kernels (saxpy, fill_u32) and copies
//            afterwards bring everything back at the same pointers, intact;
//            freeing and allocating while swapped out (the allocation waits
//            for the slice); a repeated request (same sequence) is not redone
//   empty    a process without swappable memory (managed only, no device work
//            yet) acknowledges at once
//   plain    on a device that is not oversubscribed allocations are the
//            driver's, requests are ignored, nothing is counted
//   context  destroying a context frees its swappable memory, resident or out
//   two      a second process of the job that only allocated (its shim thread
//            answers), a third that only asked for the memory size, and this
//            one all answer before the request is done
//   busy     three threads fill and check their memory in a loop while the
//            scheduler hands the device away, evicts and gives it back 20
//            times: no operation fails, no value is lost, every eviction
//            copies every byte and every one comes back
#include "fake_agent.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <functional>
#include <thread>

#include "gpupool/control_region.h"

namespace {

using namespace fa;

constexpr int kEntry = 3;
constexpr int kOther = 6;
constexpr uint32_t kMine = kEntry + 1;
constexpr uint32_t kTheirs = kOther + 1;

// ---- the job's side ------------------------------------------------------------------

// This process's gate rows and the job's usage, read from the region the shim
// maps (read-only here: only the shim writes it).
struct Region {
  const gpupool_region* r = nullptr;
  int slot = -1;
  const gpupool_region_gate& row(int d) const { return r->gates[slot].device[d]; }
  uint64_t resident(int d) const { return gpupool_gate_load_u64(&row(d).resident_bytes); }
  uint64_t out(int d) const { return gpupool_gate_load_u64(&row(d).swapped_out_bytes); }
  uint64_t in(int d) const { return gpupool_gate_load_u64(&row(d).swapped_in_bytes); }
  uint64_t evicted(int d) const { return gpupool_gate_load_u64(&row(d).evicted_seq); }
  uint32_t waiting(int d) const { return gpupool_gate_load_u32(&row(d).waiting); }
  uint64_t used(int d) const { return __atomic_load_n(&r->devices[d].used_bytes, __ATOMIC_ACQUIRE); }
};

Region my_region() {
  const std::string path = st::region_path(st::job());
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  REQUIRE(fd >= 0);
  void* map = mmap(nullptr, sizeof(gpupool_region), PROT_READ, MAP_SHARED, fd, 0);
  REQUIRE(map != MAP_FAILED);
  close(fd);
  Region reg{static_cast<const gpupool_region*>(map), -1};
  for (uint32_t i = 0; i < GPUPOOL_REGION_MAX_SLOTS; ++i)
    if (__atomic_load_n(&reg.r->slots[i].state, __ATOMIC_ACQUIRE) == GPUPOOL_SLOT_LIVE &&
        reg.r->slots[i].pid == getpid())
      reg.slot = static_cast<int>(i);
  REQUIRE(reg.slot >= 0);
  return reg;
}

// The scheduler's side of evictions, in this process's own mapping of the table.
struct Scheduler {
  Table tb;
  uint64_t seq = 1000;
  uint64_t request(int d, uint32_t holder) { return request_seq(d, holder, ++seq); }
  uint64_t request_seq(int d, uint32_t holder, uint64_t s) {
    gpupool_node_store_u64(&tb.t->slices[d].evict, GPUPOOL_SLICE_GRANT(s, holder));
    return s;
  }
  void clear(int d) { gpupool_node_store_u64(&tb.t->slices[d].evict, 0); }
};

// Asks this job to swap out device 0 (another job holds it) and waits for the ack.
void evict_device0(Scheduler& s, const Region& reg) {
  grant(s.tb, 0, kTheirs);
  const uint64_t seq = s.request(0, kMine);
  CHECK_MSG(eventually([&] { return reg.evicted(0) == seq; }), "the eviction request is never acknowledged");
  s.clear(0);
}

// Returns once the gate thread has looked at every device's request since now.
void gate_thread_looked(Scheduler& s, const Region& reg) {
  for (int round = 0; round < 2; ++round) {  // the second pass began after the first ended
    const uint64_t seq = s.request(1, kMine);
    REQUIRE(eventually([&] { return reg.evicted(1) == seq; }));
  }
  s.clear(1);
}

bool mapped(CUdeviceptr p) {
  CUmemLocation loc{};
  loc.type = CU_MEM_LOCATION_TYPE_DEVICE;
  loc.id = 0;
  unsigned long long flags = 0;
  return cuMemGetAccess(&flags, &loc, p) == CUDA_SUCCESS && flags == CU_MEM_ACCESS_FLAGS_PROT_READWRITE;
}

std::vector<uint8_t> pattern(size_t n, uint32_t seed) {
  std::vector<uint8_t> v(n);
  uint32_t x = seed * 2654435761u + 1;
  for (size_t i = 0; i < n; ++i) {
    x ^= x << 13, x ^= x >> 17, x ^= x << 5;
    v[i] = static_cast<uint8_t>(x);
  }
  return v;
}

std::vector<uint8_t> read_back(CUdeviceptr p, size_t n) {
  std::vector<uint8_t> v(n, 0);
  CHECK_CU(cuMemcpyDtoH(v.data(), p, n), CUDA_SUCCESS);
  return v;
}

struct Job {
  CUdevice dev = 0;
  CUcontext ctx = nullptr;
  Scheduler sched;
  uint64_t granularity = 0;
  uint64_t rounded(uint64_t n) const { return (n + granularity - 1) / granularity * granularity; }
};

Job start_job() {
  Job j;
  j.dev = dt::init_primary(&j.ctx);
  j.sched.tb = map_table(st::env_or("GPUPOOL_AGENT_TABLE", "?"));
  CUmemAllocationProp prop{};
  prop.type = CU_MEM_ALLOCATION_TYPE_PINNED;
  prop.location.type = CU_MEM_LOCATION_TYPE_DEVICE;
  size_t g = 0;
  REQUIRE_CU(cuMemGetAllocationGranularity(&g, &prop, CU_MEM_ALLOC_GRANULARITY_MINIMUM), CUDA_SUCCESS);
  j.granularity = g;
  return j;
}

// Runs `op` on its own thread with `ctx` current.
struct Submitter {
  std::atomic<bool> returned{false};
  CUresult result = CUDA_ERROR_UNKNOWN;
  std::thread thread;
  Submitter(CUcontext ctx, std::function<CUresult()> op) {
    thread = std::thread([this, ctx, op] {
      cuCtxSetCurrent(ctx);
      result = op();
      returned.store(true);
    });
  }
  void join() { thread.join(); }
};

// Pointer attributes of `ptr` inside an allocation of `bytes` at `base`, made
// in `ctx`: as for cuMemAlloc memory, resident or not.
void check_attributes(CUdeviceptr ptr, CUdeviceptr base, size_t bytes, CUcontext ctx) {
  CUcontext owner = nullptr;
  CUdeviceptr start = 0, device_pointer = 0;
  size_t range = 0;
  unsigned type = 0;
  int ordinal = -1;
  CHECK_CU(cuPointerGetAttribute(&owner, CU_POINTER_ATTRIBUTE_CONTEXT, ptr), CUDA_SUCCESS);
  CHECK(owner == ctx);
  CHECK_CU(cuPointerGetAttribute(&start, CU_POINTER_ATTRIBUTE_RANGE_START_ADDR, ptr), CUDA_SUCCESS);
  CHECK_EQ(start, base);
  CHECK_CU(cuPointerGetAttribute(&range, CU_POINTER_ATTRIBUTE_RANGE_SIZE, ptr), CUDA_SUCCESS);
  CHECK_EQ(range, bytes);
  CHECK_CU(cuPointerGetAttribute(&type, CU_POINTER_ATTRIBUTE_MEMORY_TYPE, ptr), CUDA_SUCCESS);
  CHECK_EQ(type, static_cast<unsigned>(CU_MEMORYTYPE_DEVICE));
  CHECK_CU(cuPointerGetAttribute(&device_pointer, CU_POINTER_ATTRIBUTE_DEVICE_POINTER, ptr), CUDA_SUCCESS);
  CHECK_EQ(device_pointer, ptr);
  CUpointer_attribute attributes[] = {CU_POINTER_ATTRIBUTE_CONTEXT, CU_POINTER_ATTRIBUTE_DEVICE_ORDINAL,
                                      CU_POINTER_ATTRIBUTE_RANGE_SIZE};
  void* values[] = {&owner, &ordinal, &range};
  owner = nullptr, range = 0;
  CHECK_CU(cuPointerGetAttributes(3, attributes, values, ptr), CUDA_SUCCESS);
  CHECK(owner == ctx && ordinal == 0 && range == bytes);
}

// `op` waits at the gate while another job holds device 0, runs once this one does.
CUresult after_grant(Job& j, const Region& reg, const char* what, std::function<CUresult()> op) {
  Submitter s(j.ctx, std::move(op));
  CHECK_MSG(eventually([&] { return reg.waiting(0) == 1; }), std::string(what) + " does not wait for the slice");
  CHECK_MSG(!s.returned.load(), std::string(what) + " ran while another job held the slice");
  grant(j.sched.tb, 0, kMine);
  s.join();
  return s.result;
}

// ---- roles -------------------------------------------------------------------------

int role_swap() {
  Job j = start_job();  // device 0 held by this job
  CUfunction saxpy = dt::get_function(dt::load_kernel_module("saxpy"), "saxpy");
  CUfunction fill = dt::get_function(dt::load_kernel_module("fill_u32"), "fill_u32");
  dt::info("granularity %llu bytes", static_cast<unsigned long long>(j.granularity));

  dt::section("allocations are VMM-backed, charged as asked, resident rounded");
  const size_t kFloats = 700 * 1000 + 3;  // x and y of saxpy: 2.67 MiB, not a granularity multiple
  const std::vector<size_t> sizes = {1000, j.granularity, kFloats * 4 + 123, 5 * st::kMiB + 7};
  std::vector<CUdeviceptr> p(sizes.size(), 0);
  for (size_t k = 0; k < sizes.size(); ++k) REQUIRE_CU(cuMemAlloc(&p[k], sizes[k]), CUDA_SUCCESS);
  CUdeviceptr pitched = 0;
  size_t pitch = 0;
  REQUIRE_CU(cuMemAllocPitch(&pitched, &pitch, 1000, 37, 4), CUDA_SUCCESS);
  CHECK(pitch >= 1000 && pitch % 512 == 0);
  const size_t pitched_bytes = pitch * 37;
  Region reg = my_region();
  uint64_t logical = pitched_bytes, physical = j.rounded(pitched_bytes);
  for (size_t k = 0; k < sizes.size(); ++k) logical += sizes[k], physical += j.rounded(sizes[k]);
  for (CUdeviceptr q : p) CHECK_MSG(mapped(q), "an allocation on an oversubscribed device is not VMM memory");
  CHECK(mapped(pitched));
  CHECK_EQ(reg.used(0), logical);
  CHECK_EQ(reg.resident(0), physical);
  for (size_t k = 0; k < sizes.size(); ++k) {
    CUdeviceptr base = 0;
    size_t size = 0;
    CHECK_CU(cuMemGetAddressRange(&base, &size, p[k] + sizes[k] / 2), CUDA_SUCCESS);
    CHECK_EQ(base, p[k]);
    CHECK_EQ(size, sizes[k]);
    check_attributes(p[k] + sizes[k] / 2, p[k], sizes[k], j.ctx);
  }

  // Known contents: bytes in p[0], p[1] and the pitched one; saxpy's x and y.
  std::vector<std::vector<uint8_t>> data(sizes.size());
  for (size_t k : {0, 1}) data[k] = pattern(sizes[k], static_cast<uint32_t>(k));
  std::vector<float> x(kFloats), y(kFloats);
  for (size_t i = 0; i < kFloats; ++i) x[i] = static_cast<float>(i % 1013), y[i] = static_cast<float>(i % 777);
  data[2] = pattern(sizes[2], 2);
  std::memcpy(data[2].data(), y.data(), kFloats * 4);
  data[3] = pattern(sizes[3], 3);
  std::memcpy(data[3].data(), x.data(), kFloats * 4);
  const std::vector<uint8_t> pitched_data = pattern(pitched_bytes, 9);
  for (size_t k = 0; k < sizes.size(); ++k) REQUIRE_CU(cuMemcpyHtoD(p[k], data[k].data(), sizes[k]), CUDA_SUCCESS);
  REQUIRE_CU(cuMemcpyHtoD(pitched, pitched_data.data(), pitched_bytes), CUDA_SUCCESS);
  CHECK_CU(cuCtxSynchronize(), CUDA_SUCCESS);

  dt::section("evicted: nothing mapped, nothing resident, the copied bytes counted");
  evict_device0(j.sched, reg);
  CHECK_EQ(reg.resident(0), uint64_t{0});
  CHECK_EQ(reg.out(0), logical);
  CHECK_EQ(reg.in(0), uint64_t{0});
  CHECK_EQ(reg.used(0), logical);  // the quota is not the device: unchanged
  for (CUdeviceptr q : p) CHECK_MSG(!mapped(q), "physical memory is still mapped after the eviction");
  CHECK(!mapped(pitched));
  CUdeviceptr base = 0;
  size_t size = 0;
  CHECK_CU(cuMemGetAddressRange(&base, &size, p[3] + 5), CUDA_SUCCESS);  // the shim still knows it
  CHECK(base == p[3] && size == sizes[3]);
  check_attributes(p[3] + 5, p[3], sizes[3], j.ctx);

  dt::section("a kernel afterwards waits for the slice, brings everything back, computes on it");
  CHECK_CU(after_grant(j, reg, "saxpy", [&] { return dt::launch_saxpy(saxpy, nullptr, kFloats, 2.0f, p[3], p[2]); }),
           CUDA_SUCCESS);
  CHECK_EQ(reg.resident(0), physical);
  CHECK_EQ(reg.in(0), logical);
  for (CUdeviceptr q : p) CHECK(mapped(q));
  CHECK_CU(dt::launch_fill(fill, nullptr, p[0], 0xdeadbeefu, 100), CUDA_SUCCESS);
  CHECK_CU(cuCtxSynchronize(), CUDA_SUCCESS);
  for (size_t i = 0; i < kFloats; ++i) y[i] = 2.0f * x[i] + y[i];
  std::memcpy(data[2].data(), y.data(), kFloats * 4);
  for (size_t i = 0; i < 400; ++i) data[0][i] = static_cast<uint8_t>(0xdeadbeefu >> (8 * (i % 4)));
  for (size_t k = 0; k < sizes.size(); ++k)
    CHECK_MSG(read_back(p[k], sizes[k]) == data[k], "allocation " + std::to_string(k) + " differs after swap-in");
  CHECK_MSG(read_back(pitched, pitched_bytes) == pitched_data, "the pitched allocation differs after swap-in");

  dt::section("free and allocate while swapped out: the allocation waits for the slice");
  evict_device0(j.sched, reg);
  CHECK_EQ(reg.resident(0), uint64_t{0});
  CHECK_EQ(reg.out(0), 2 * logical);
  CHECK_CU(cuMemFree(p[1]), CUDA_SUCCESS);  // no device needed: nothing comes back
  CHECK_EQ(reg.in(0), logical);
  CHECK_EQ(reg.resident(0), uint64_t{0});
  CHECK_EQ(reg.used(0), logical - sizes[1]);
  logical -= sizes[1];
  physical -= j.rounded(sizes[1]);
  CUdeviceptr fresh = 0;
  const size_t fresh_bytes = st::kMiB + 5;
  CHECK_CU(after_grant(j, reg, "cuMemAlloc", [&] { return cuMemAlloc(&fresh, fresh_bytes); }), CUDA_SUCCESS);
  CHECK_EQ(reg.in(0), 2 * logical + sizes[1]);  // the rest came back first
  CHECK_EQ(reg.resident(0), physical + j.rounded(fresh_bytes));
  CHECK(mapped(fresh));
  const std::vector<uint8_t> fresh_data = pattern(fresh_bytes, 11);
  CHECK_CU(cuMemcpyHtoD(fresh, fresh_data.data(), fresh_bytes), CUDA_SUCCESS);
  CHECK(read_back(fresh, fresh_bytes) == fresh_data);
  for (size_t k : {0, 2, 3}) CHECK(read_back(p[k], sizes[k]) == data[k]);
  CHECK(read_back(pitched, pitched_bytes) == pitched_data);

  dt::section("a request with an old sequence is not redone");
  const uint64_t out_before = reg.out(0), in_before = reg.in(0), resident_before = reg.resident(0);
  const uint64_t old_seq = reg.evicted(0);
  j.sched.request_seq(0, kMine, old_seq);
  gate_thread_looked(j.sched, reg);
  CHECK_EQ(reg.evicted(0), old_seq);
  CHECK_EQ(reg.resident(0), resident_before);
  CHECK_EQ(reg.out(0), out_before);
  CHECK(read_back(fresh, fresh_bytes) == fresh_data);
  CHECK_EQ(reg.in(0), in_before);
  j.sched.clear(0);

  dt::section("freed: nothing resident, nothing charged");
  for (size_t k : {0, 2, 3}) CHECK_CU(cuMemFree(p[k]), CUDA_SUCCESS);
  CHECK_CU(cuMemFree(pitched), CUDA_SUCCESS);
  CHECK_CU(cuMemFree(fresh), CUDA_SUCCESS);
  CHECK_EQ(reg.resident(0), uint64_t{0});
  CHECK_EQ(reg.used(0), uint64_t{0});
  CHECK_CU(cuMemFree(fresh), CUDA_ERROR_INVALID_VALUE);  // a second free is the driver's error
  dt::release_primary(j.dev);
  return dt::finish();
}

int role_empty() {
  Job j = start_job();  // holder: this job
  // Memory the shim cannot swap, and no device work: the charge alone starts
  // the shim's thread that answers.
  CUdeviceptr managed = 0;
  REQUIRE_CU(cuMemAllocManaged(&managed, st::kMiB, CU_MEM_ATTACH_GLOBAL), CUDA_SUCCESS);
  CHECK(!mapped(managed));
  CUfunction spin = dt::get_function(dt::load_kernel_module("spin"), "spin");
  Region reg = my_region();
  evict_device0(j.sched, reg);
  CHECK_EQ(reg.resident(0), uint64_t{0});
  CHECK_EQ(reg.out(0), uint64_t{0});
  grant(j.sched.tb, 0, kMine);
  CHECK_CU(dt::launch_spin(spin, nullptr, 1), CUDA_SUCCESS);
  CHECK_CU(cuCtxSynchronize(), CUDA_SUCCESS);
  CHECK_EQ(reg.in(0), uint64_t{0});
  CHECK_CU(cuMemFree(managed), CUDA_SUCCESS);
  dt::release_primary(j.dev);
  return dt::finish();
}

int role_plain() {
  Job j = start_job();  // device 0 is not oversubscribed; device 1 is
  CUdeviceptr p = 0, pitched = 0;
  size_t pitch = 0;
  REQUIRE_CU(cuMemAlloc(&p, 1000), CUDA_SUCCESS);
  REQUIRE_CU(cuMemAllocPitch(&pitched, &pitch, 1000, 3, 4), CUDA_SUCCESS);
  Region reg = my_region();
  CHECK_MSG(!mapped(p) && !mapped(pitched), "memory on a device that is not oversubscribed is VMM memory");
  CUdeviceptr base = 0;
  size_t size = 0;
  CHECK_CU(cuMemGetAddressRange(&base, &size, p), CUDA_SUCCESS);
  CHECK(base == p && size == 1000);
  CHECK_EQ(reg.used(0), 1000 + pitch * 3);
  CHECK_EQ(reg.resident(0), uint64_t{0});
  const std::vector<uint8_t> data = pattern(1000, 5);
  CHECK_CU(cuMemcpyHtoD(p, data.data(), 1000), CUDA_SUCCESS);
  j.sched.request(0, kMine);
  gate_thread_looked(j.sched, reg);
  CHECK_EQ(reg.evicted(0), uint64_t{0});  // not oversubscribed: no request to serve
  CHECK_EQ(reg.out(0), uint64_t{0});
  CHECK(read_back(p, 1000) == data);
  j.sched.clear(0);
  CHECK_CU(cuMemFree(p), CUDA_SUCCESS);
  CHECK_CU(cuMemFree(pitched), CUDA_SUCCESS);
  CHECK_EQ(reg.used(0), uint64_t{0});
  dt::release_primary(j.dev);
  return dt::finish();
}

int role_context() {
  Job j = start_job();  // holder: this job
  for (bool swapped_out : {false, true}) {
    dt::section(swapped_out ? "a context destroyed with swapped-out memory" : "a context destroyed with resident memory");
    CUcontext own = nullptr;
    REQUIRE_CU(cuCtxCreate(&own, nullptr, 0, j.dev), CUDA_SUCCESS);
    CUdeviceptr p = 0;
    REQUIRE_CU(cuMemAlloc(&p, 3 * st::kMiB), CUDA_SUCCESS);
    Region reg = my_region();
    CHECK_EQ(reg.resident(0), j.rounded(3 * st::kMiB));
    if (swapped_out) {
      evict_device0(j.sched, reg);
      CHECK_EQ(reg.resident(0), uint64_t{0});
      grant(j.sched.tb, 0, kMine);
    }
    CHECK_CU(cuCtxDestroy(own), CUDA_SUCCESS);
    CHECK_EQ(reg.resident(0), uint64_t{0});
    CHECK_EQ(reg.used(0), uint64_t{0});
    CUdeviceptr base = 0;
    size_t size = 0;
    CHECK_CU(cuCtxSetCurrent(j.ctx), CUDA_SUCCESS);
    CHECK_MSG(cuMemGetAddressRange(&base, &size, p) != CUDA_SUCCESS, "the memory outlived its context");
  }
  dt::release_primary(j.dev);
  return dt::finish();
}

int role_busy() {
  Job j = start_job();  // holder: this job
  CUfunction fill = dt::get_function(dt::load_kernel_module("fill_u32"), "fill_u32");
  constexpr int kThreads = 3;
  constexpr size_t kWords = 300 * 1000;  // 1.14 MiB each
  std::vector<CUdeviceptr> p(kThreads, 0);
  for (auto& q : p) REQUIRE_CU(cuMemAlloc(&q, kWords * 4), CUDA_SUCCESS);
  Region reg = my_region();
  std::atomic<bool> stop{false};
  std::atomic<int> failures{0}, rounds{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t)
    threads.emplace_back([&, t] {
      cuCtxSetCurrent(j.ctx);
      CUstream s = nullptr;
      if (cuStreamCreate(&s, CU_STREAM_NON_BLOCKING) != CUDA_SUCCESS) ++failures;
      std::vector<uint32_t> back(kWords);
      for (uint32_t i = 1; !stop.load(); ++i) {
        const uint32_t v = (static_cast<uint32_t>(t) << 24) | i;
        if (dt::launch_fill(fill, s, p[t], v, kWords) != CUDA_SUCCESS ||
            cuMemcpyDtoHAsync(back.data(), p[t], kWords * 4, s) != CUDA_SUCCESS ||
            cuStreamSynchronize(s) != CUDA_SUCCESS ||
            !std::all_of(back.begin(), back.end(), [v](uint32_t w) { return w == v; }))
          ++failures;
        ++rounds;
      }
      cuStreamDestroy(s);
    });
  // The scheduler: hand the device away, evict, give it back, again and again.
  const gpupool_region_gate& row = reg.row(0);
  for (int i = 0; i < 20; ++i) {
    const int before = rounds.load();
    CHECK(eventually([&] { return rounds.load() >= before + kThreads; }));
    grant(j.sched.tb, 0, GPUPOOL_SLICE_NOBODY);
    CHECK(eventually([&] { return gpupool_gate_load_u32(&row.in_flight) == 0; }));
    evict_device0(j.sched, reg);
    CHECK_EQ(reg.resident(0), uint64_t{0});
    grant(j.sched.tb, 0, kMine);
  }
  stop.store(true);
  for (auto& t : threads) t.join();
  dt::info("%d rounds of fill and check in 3 threads, %llu bytes swapped out", rounds.load(),
           static_cast<unsigned long long>(reg.out(0)));
  CHECK_EQ(failures.load(), 0);
  CHECK_EQ(reg.out(0), 20 * kThreads * kWords * 4);
  CHECK_EQ(reg.in(0), reg.out(0));
  for (CUdeviceptr q : p) CHECK_CU(cuMemFree(q), CUDA_SUCCESS);
  CHECK_EQ(reg.resident(0), uint64_t{0});
  dt::release_primary(j.dev);
  return dt::finish();
}

// A second process of the job: allocates and submits nothing until told, so
// only the shim's own thread (started by the allocation) can answer.
int role_second() {
  Job j = start_job();
  CUdeviceptr p = 0;
  const size_t bytes = 3 * st::kMiB + 1;
  REQUIRE_CU(cuMemAlloc(&p, bytes), CUDA_SUCCESS);
  Region reg = my_region();
  CHECK_EQ(reg.resident(0), j.rounded(bytes));
  st::write_line(1, "allocated");
  REQUIRE(st::read_line(0) == "check");
  CHECK_EQ(reg.resident(0), uint64_t{0});
  CHECK_EQ(reg.out(0), uint64_t{bytes});
  const std::vector<uint8_t> data = pattern(bytes, 21);
  CHECK_CU(cuMemcpyHtoD(p, data.data(), bytes), CUDA_SUCCESS);  // the slice is this job's again
  CHECK(read_back(p, bytes) == data);
  CHECK_EQ(reg.resident(0), j.rounded(bytes));
  CHECK_CU(cuMemFree(p), CUDA_SUCCESS);
  dt::release_primary(j.dev);
  return dt::finish();
}

// A third process of the job that only asked about memory (it has a slot in
// the region, so the agent waits for it too).
int role_viewer() {
  REQUIRE_CU(cuInit(0), CUDA_SUCCESS);
  size_t total = 0;
  REQUIRE_CU(cuDeviceTotalMem(&total, 0), CUDA_SUCCESS);
  CHECK_EQ(total, size_t{512} * st::kMiB);  // the job's quota
  st::write_line(1, "asked");
  REQUIRE(st::read_line(0) == "done");
  return dt::finish();
}

int slot_of(const Region& reg, pid_t pid) {
  for (uint32_t i = 0; i < GPUPOOL_REGION_MAX_SLOTS; ++i)
    if (__atomic_load_n(&reg.r->slots[i].state, __ATOMIC_ACQUIRE) == GPUPOOL_SLOT_LIVE && reg.r->slots[i].pid == pid)
      return static_cast<int>(i);
  return -1;
}

int role_two() {
  Job j = start_job();  // holder: this job
  CUdeviceptr p = 0;
  REQUIRE_CU(cuMemAlloc(&p, st::kMiB), CUDA_SUCCESS);
  Region reg = my_region();
  st::SpawnOptions o;
  o.capture_stdout = true;
  o.pipe_stdin = true;
  st::Child second = st::spawn_self("second", {}, o);
  st::Child viewer = st::spawn_self("viewer", {}, o);
  REQUIRE(wait_for(second.out_fd, "allocated"));
  REQUIRE(wait_for(viewer.out_fd, "asked"));
  const Region theirs{reg.r, slot_of(reg, second.pid)}, viewers{reg.r, slot_of(reg, viewer.pid)};
  REQUIRE(theirs.slot >= 0 && viewers.slot >= 0);
  grant(j.sched.tb, 0, kTheirs);
  const uint64_t seq = j.sched.request(0, kMine);
  CHECK_MSG(eventually([&] { return reg.evicted(0) == seq && theirs.evicted(0) == seq && viewers.evicted(0) == seq; }),
            "not every process of the job acknowledged the eviction");
  st::write_line(viewer.in_fd, "done");
  close(viewer.in_fd);
  CHECK(st::read_all(viewer.out_fd).find(" checks, 0 failed") != std::string::npos);
  CHECK_EQ(st::wait_child(viewer.pid), 0);
  j.sched.clear(0);
  CHECK_EQ(reg.resident(0) + theirs.resident(0), uint64_t{0});
  grant(j.sched.tb, 0, kMine);
  st::write_line(second.in_fd, "check");
  close(second.in_fd);
  const std::string rest = st::read_all(second.out_fd);
  std::printf("   second process: %s", rest.c_str());
  CHECK_MSG(rest.find(" checks, 0 failed") != std::string::npos, "the second process found its memory changed");
  CHECK_EQ(st::wait_child(second.pid), 0);
  CHECK_CU(cuMemFree(p), CUDA_SUCCESS);
  dt::release_primary(j.dev);
  return dt::finish();
}

// ---- the scenario (the fake agent) ---------------------------------------------------

Table swap_table(const std::string& tag, bool device0_oversubscribed) {
  Table tb = create_table(tag);
  publish(tb, kOther, "someone-else", {0}, {64 * st::kMiB});
  publish(tb, kEntry, st::job(), {0, 1}, {512 * st::kMiB, 512 * st::kMiB});
  if (device0_oversubscribed) tb.t->slices[0].flags = GPUPOOL_SLICE_FLAG_OVERSUBSCRIBED;
  tb.t->slices[1].flags = GPUPOOL_SLICE_FLAG_OVERSUBSCRIBED;
  grant(tb, 0, kMine);
  grant(tb, 1, kMine);
  return tb;
}

void run(const char* what, const std::string& role, const Table& tb) {
  dt::section(what);
  check_passed(run_role(role, {}, agent_env(tb, kEntry, "0,1")));
}

void main_scenario() {
  run("swap out and back in at the same addresses", "swap", swap_table("swap", true));
  run("a process without swappable memory acknowledges", "empty", swap_table("empty", true));
  run("a device that is not oversubscribed: as before", "plain", swap_table("plain", false));
  run("context teardown frees swappable memory", "context", swap_table("context", true));
  run("two processes of the job: both swap out and acknowledge", "two", swap_table("two", true));
  run("threads computing while the device is evicted and given back", "busy", swap_table("busy", true));
}

}  // namespace

int main(int argc, char** argv) {
  if (!st::is_inner()) std::atexit(remove_leftover_tables);  // run_isolated() exits
  st::run_isolated(argc, argv);
  const std::string role = argc > 1 ? argv[1] : "main";
  if (role == "swap") return role_swap();
  if (role == "empty") return role_empty();
  if (role == "plain") return role_plain();
  if (role == "context") return role_context();
  if (role == "busy") return role_busy();
  if (role == "two") return role_two();
  if (role == "second") return role_second();
  if (role == "viewer") return role_viewer();
  if (role != "main") REQUIRE(!"unknown scenario");
  main_scenario();
  remove_tables();
  return dt::finish();
}
