// CUDA graphs: stream capture -> instantiate -> launch (results correct over
// several launches, captured work not run at capture time, kernel parameters
// and host sources read at the right moment), explicit construction (kernel,
// memset, memcpy nodes; node queries), a launch in stream order with other
// work, an exec that outlives its graph, handle and argument errors, and the
// device time of a graph launch measured with events.
// The capture rules (modes, invalidation, forks and joins) are in
// test_graph_capture.cc.
#include <vector>

#include "driver_test.h"

namespace {

struct Kernels {
  CUfunction spin, fill, saxpy;
};

constexpr int kN = 4096;
constexpr size_t kBytes = kN * sizeof(float);

int count_type(CUgraph g, CUgraphNodeType want) {
  size_t n = 0;
  CHECK_CU(cuGraphGetNodes(g, nullptr, &n), CUDA_SUCCESS);
  std::vector<CUgraphNode> nodes(n);
  CHECK_CU(cuGraphGetNodes(g, nodes.data(), &n), CUDA_SUCCESS);
  int found = 0;
  for (CUgraphNode node : nodes) {
    CUgraphNodeType type;
    if (CHECK_CU(cuGraphNodeGetType(node, &type), CUDA_SUCCESS) && type == want) ++found;
  }
  return found;
}

bool all_u32(CUdeviceptr p, uint32_t want, size_t n) {
  std::vector<uint32_t> v(n, ~want);
  CHECK_CU(cuMemcpyDtoH(v.data(), p, n * sizeof(uint32_t)), CUDA_SUCCESS);
  for (uint32_t u : v)
    if (u != want) return false;
  return true;
}

void check_capture_launch(const Kernels& k) {
  dt::section("capture -> instantiate -> launch");
  CUstream s = nullptr;
  REQUIRE_CU(cuStreamCreate(&s, CU_STREAM_NON_BLOCKING), CUDA_SUCCESS);
  CUdeviceptr x = 0, y = 0;
  REQUIRE_CU(cuMemAlloc(&x, kBytes), CUDA_SUCCESS);
  REQUIRE_CU(cuMemAlloc(&y, kBytes), CUDA_SUCCESS);
  float* hx = nullptr;
  float* hy = nullptr;
  REQUIRE_CU(cuMemAllocHost(reinterpret_cast<void**>(&hx), kBytes), CUDA_SUCCESS);
  REQUIRE_CU(cuMemAllocHost(reinterpret_cast<void**>(&hy), kBytes), CUDA_SUCCESS);
  for (int i = 0; i < kN; ++i) hx[i] = static_cast<float>(i), hy[i] = 0.0f;
  const uint32_t sentinel = dt::float_bits(-7.0f);
  REQUIRE_CU(cuMemsetD32(y, sentinel, kN), CUDA_SUCCESS);

  REQUIRE_CU(cuStreamBeginCapture(s, CU_STREAM_CAPTURE_MODE_GLOBAL), CUDA_SUCCESS);
  CUstreamCaptureStatus status = CU_STREAM_CAPTURE_STATUS_NONE;
  CHECK_CU(cuStreamIsCapturing(s, &status), CUDA_SUCCESS);
  CHECK_EQ(status, CU_STREAM_CAPTURE_STATUS_ACTIVE);
  CHECK_CU(cuMemcpyHtoDAsync(x, hx, kBytes, s), CUDA_SUCCESS);
  CHECK_CU(cuMemsetD32Async(y, dt::float_bits(1.0f), kN, s), CUDA_SUCCESS);
  int n = kN;
  float a = 2.0f;
  void* args[] = {&n, &a, &x, &y};
  CHECK_CU(cuLaunchKernel(k.saxpy, (kN + 127) / 128, 1, 1, 128, 1, 1, 0, s, args, nullptr), CUDA_SUCCESS);
  a = 100.0f;  // parameters were copied when the launch was captured
  CHECK_CU(cuMemcpyDtoHAsync(hy, y, kBytes, s), CUDA_SUCCESS);

  cuuint64_t id = 0;
  CUgraph capturing = nullptr;
  const CUgraphNode* deps = nullptr;
  size_t num_deps = 0;
  CHECK_CU(cuStreamGetCaptureInfo(s, &status, &id, &capturing, &deps, nullptr, &num_deps), CUDA_SUCCESS);
  CHECK_EQ(status, CU_STREAM_CAPTURE_STATUS_ACTIVE);
  CHECK(id != 0);
  CHECK(capturing != nullptr);
  CHECK_EQ(num_deps, 1u);  // a chain: the next node depends on the last one
  CUgraphNodeType type = CU_GRAPH_NODE_TYPE_EMPTY;
  if (num_deps == 1) {
    CHECK_CU(cuGraphNodeGetType(deps[0], &type), CUDA_SUCCESS);
    CHECK_EQ(type, CU_GRAPH_NODE_TYPE_MEMCPY);
  }

  CUgraph g = nullptr;
  REQUIRE_CU(cuStreamEndCapture(s, &g), CUDA_SUCCESS);
  REQUIRE(g != nullptr);
  CHECK(g == capturing);
  CHECK_CU(cuStreamIsCapturing(s, &status), CUDA_SUCCESS);
  CHECK_EQ(status, CU_STREAM_CAPTURE_STATUS_NONE);
  // Captured, not executed.
  CHECK_CU(cuStreamSynchronize(s), CUDA_SUCCESS);
  CHECK_MSG(all_u32(y, sentinel, kN), "captured work ran at capture time");
  CHECK_EQ(hy[0], 0.0f);

  size_t count = 0;
  CHECK_CU(cuGraphGetNodes(g, nullptr, &count), CUDA_SUCCESS);
  CHECK_EQ(count, 4u);
  CHECK_EQ(count_type(g, CU_GRAPH_NODE_TYPE_MEMCPY), 2);
  CHECK_EQ(count_type(g, CU_GRAPH_NODE_TYPE_MEMSET), 1);
  CHECK_EQ(count_type(g, CU_GRAPH_NODE_TYPE_KERNEL), 1);
  CHECK_CU(cuGraphGetRootNodes(g, nullptr, &count), CUDA_SUCCESS);
  CHECK_EQ(count, 1u);

  CUgraphExec exec = nullptr;
  REQUIRE_CU(cuGraphInstantiate(&exec, g, 0), CUDA_SUCCESS);
  for (int launch = 0; launch < 3; ++launch) {
    // The host source is read when the graph runs, not when it was captured.
    for (int i = 0; i < kN; ++i) hx[i] = static_cast<float>(i + launch), hy[i] = 0.0f;
    CHECK_CU(cuGraphLaunch(exec, s), CUDA_SUCCESS);
    CHECK_CU(cuStreamSynchronize(s), CUDA_SUCCESS);
    int wrong = 0;
    for (int i = 0; i < kN; ++i) wrong += hy[i] != 2.0f * static_cast<float>(i + launch) + 1.0f;
    CHECK_MSG(wrong == 0, "launch " + std::to_string(launch) + ": " + std::to_string(wrong) + " wrong, y[1] = " +
                              dt::repr(hy[1]));
  }
  // Any stream will do, the legacy one included.
  for (int i = 0; i < kN; ++i) hy[i] = 0.0f;
  CHECK_CU(cuGraphLaunch(exec, nullptr), CUDA_SUCCESS);
  CHECK_CU(cuStreamSynchronize(nullptr), CUDA_SUCCESS);
  CHECK_EQ(hy[kN - 1], 2.0f * static_cast<float>(kN - 1 + 2) + 1.0f);

  dt::section("capture of cuLaunchKernelEx and a device copy");
  CUgraph g2 = nullptr;
  REQUIRE_CU(cuStreamBeginCapture(s, CU_STREAM_CAPTURE_MODE_GLOBAL), CUDA_SUCCESS);
  cuuint64_t id2 = 0;
  CHECK_CU(cuStreamGetCaptureInfo(s, &status, &id2, nullptr, nullptr, nullptr, nullptr), CUDA_SUCCESS);
  CHECK_MSG(id2 != id, "capture ids are unique");
  CUlaunchConfig config{};
  config.gridDimX = (kN + 255) / 256;
  config.gridDimY = config.gridDimZ = 1;
  config.blockDimX = 256;
  config.blockDimY = config.blockDimZ = 1;
  config.hStream = s;
  uint32_t value = 0x5eed;
  unsigned long long elements = kN;
  void* fill_args[] = {&x, &value, &elements};
  CHECK_CU(cuLaunchKernelEx(&config, k.fill, fill_args, nullptr), CUDA_SUCCESS);
  CHECK_CU(cuMemcpyDtoDAsync(y, x, kBytes, s), CUDA_SUCCESS);
  REQUIRE_CU(cuStreamEndCapture(s, &g2), CUDA_SUCCESS);
  CUgraphExec exec2 = nullptr;
  REQUIRE_CU(cuGraphInstantiate(&exec2, g2, 0), CUDA_SUCCESS);
  CHECK_CU(cuGraphLaunch(exec2, s), CUDA_SUCCESS);
  CHECK_CU(cuStreamSynchronize(s), CUDA_SUCCESS);
  CHECK(all_u32(y, 0x5eed, kN));

  CHECK_CU(cuGraphExecDestroy(exec2), CUDA_SUCCESS);
  CHECK_CU(cuGraphDestroy(g2), CUDA_SUCCESS);
  CHECK_CU(cuGraphExecDestroy(exec), CUDA_SUCCESS);
  CHECK_CU(cuGraphDestroy(g), CUDA_SUCCESS);
  CHECK_CU(cuMemFreeHost(hx), CUDA_SUCCESS);
  CHECK_CU(cuMemFreeHost(hy), CUDA_SUCCESS);
  CHECK_CU(cuMemFree(x), CUDA_SUCCESS);
  CHECK_CU(cuMemFree(y), CUDA_SUCCESS);
  CHECK_CU(cuStreamDestroy(s), CUDA_SUCCESS);
}

void check_explicit(const Kernels& k) {
  dt::section("explicit construction: memset, kernel and memcpy nodes");
  CUcontext ctx = nullptr;
  CHECK_CU(cuCtxGetCurrent(&ctx), CUDA_SUCCESS);
  CUstream s = nullptr;
  REQUIRE_CU(cuStreamCreate(&s, CU_STREAM_NON_BLOCKING), CUDA_SUCCESS);
  CUdeviceptr x = 0, y = 0;
  REQUIRE_CU(cuMemAlloc(&x, kBytes), CUDA_SUCCESS);
  REQUIRE_CU(cuMemAlloc(&y, kBytes), CUDA_SUCCESS);
  float* hy = nullptr;
  REQUIRE_CU(cuMemAllocHost(reinterpret_cast<void**>(&hy), kBytes), CUDA_SUCCESS);

  CUgraph g = nullptr;
  REQUIRE_CU(cuGraphCreate(&g, 0), CUDA_SUCCESS);
  CUDA_MEMSET_NODE_PARAMS ms{};
  ms.dst = x;
  ms.value = dt::float_bits(2.0f);
  ms.elementSize = 4;
  ms.width = kN;
  ms.height = 1;
  CUgraphNode set_x = nullptr, set_y = nullptr, saxpy = nullptr, copy_out = nullptr;
  CHECK_CU(cuGraphAddMemsetNode(&set_x, g, nullptr, 0, &ms, ctx), CUDA_SUCCESS);
  ms.dst = y;
  ms.value = dt::float_bits(3.0f);
  CHECK_CU(cuGraphAddMemsetNode(&set_y, g, nullptr, 0, &ms, ctx), CUDA_SUCCESS);

  int n = kN;
  float a = 4.0f;
  void* args[] = {&n, &a, &x, &y};
  CUDA_KERNEL_NODE_PARAMS kp{};
  kp.func = k.saxpy;
  kp.gridDimX = (kN + 127) / 128;
  kp.gridDimY = kp.gridDimZ = 1;
  kp.blockDimX = 128;
  kp.blockDimY = kp.blockDimZ = 1;
  kp.kernelParams = args;
  CUgraphNode both[] = {set_x, set_y};
  CHECK_CU(cuGraphAddKernelNode(&saxpy, g, both, 2, &kp), CUDA_SUCCESS);
  a = -1.0f;  // "the argument values it points to, are copied during this call"

  CUDA_MEMCPY3D cp{};
  cp.srcMemoryType = CU_MEMORYTYPE_DEVICE;
  cp.srcDevice = y;
  cp.dstMemoryType = CU_MEMORYTYPE_HOST;
  cp.dstHost = hy;
  cp.WidthInBytes = kBytes;
  cp.Height = 1;
  cp.Depth = 1;
  CHECK_CU(cuGraphAddMemcpyNode(&copy_out, g, &saxpy, 1, &cp, ctx), CUDA_SUCCESS);

  CUgraphNode nodes[6];
  size_t count = 6;
  CHECK_CU(cuGraphGetNodes(g, nodes, &count), CUDA_SUCCESS);
  CHECK_EQ(count, 4u);
  CHECK(nodes[4] == nullptr && nodes[5] == nullptr);  // "the remaining entries ... set to NULL"
  count = 2;
  CHECK_CU(cuGraphGetNodes(g, nodes, &count), CUDA_SUCCESS);
  CHECK_EQ(count, 2u);
  CHECK_CU(cuGraphGetRootNodes(g, nullptr, &count), CUDA_SUCCESS);
  CHECK_EQ(count, 2u);
  CUgraphNodeType type = CU_GRAPH_NODE_TYPE_EMPTY;
  CHECK_CU(cuGraphNodeGetType(saxpy, &type), CUDA_SUCCESS);
  CHECK_EQ(type, CU_GRAPH_NODE_TYPE_KERNEL);
  CHECK_CU(cuGraphNodeGetType(copy_out, &type), CUDA_SUCCESS);
  CHECK_EQ(type, CU_GRAPH_NODE_TYPE_MEMCPY);
  CHECK_CU(cuGraphNodeGetDependencies(saxpy, nullptr, nullptr, &count), CUDA_SUCCESS);
  CHECK_EQ(count, 2u);

  CUgraphExec exec = nullptr;
  REQUIRE_CU(cuGraphInstantiate(&exec, g, 0), CUDA_SUCCESS);
  cuuint64_t flags = 99;
  CHECK_CU(cuGraphExecGetFlags(exec, &flags), CUDA_SUCCESS);
  CHECK_EQ(flags, 0u);
  // The executable graph is independent of the graph it came from.
  CHECK_CU(cuGraphDestroy(g), CUDA_SUCCESS);
  for (int launch = 0; launch < 2; ++launch) {
    for (int i = 0; i < kN; ++i) hy[i] = 0.0f;
    CHECK_CU(cuGraphLaunch(exec, s), CUDA_SUCCESS);
    CHECK_CU(cuStreamSynchronize(s), CUDA_SUCCESS);
    int wrong = 0;
    for (int i = 0; i < kN; ++i) wrong += hy[i] != 11.0f;  // 4 * 2 + 3
    CHECK_MSG(wrong == 0, std::to_string(wrong) + " wrong, y[0] = " + dt::repr(hy[0]));
  }

  dt::section("a graph launch is in stream order with the stream's other work");
  CHECK_CU(dt::launch_spin(k.spin, s, 20), CUDA_SUCCESS);            // the graph is queued behind it
  CHECK_CU(cuGraphLaunch(exec, s), CUDA_SUCCESS);                    // y = 11
  CHECK_CU(dt::launch_fill(k.fill, s, y, 7, kN), CUDA_SUCCESS);      // then y = 7
  CHECK_CU(cuStreamSynchronize(s), CUDA_SUCCESS);
  CHECK(all_u32(y, 7, kN));
  CHECK_CU(dt::launch_fill(k.fill, s, y, 8, kN), CUDA_SUCCESS);
  CHECK_CU(cuGraphLaunch(exec, s), CUDA_SUCCESS);
  CHECK_CU(cuStreamSynchronize(s), CUDA_SUCCESS);
  CHECK(all_u32(y, dt::float_bits(11.0f), kN));

  CHECK_CU(cuGraphExecDestroy(exec), CUDA_SUCCESS);
  CHECK_CU(cuMemFreeHost(hy), CUDA_SUCCESS);
  CHECK_CU(cuMemFree(x), CUDA_SUCCESS);
  CHECK_CU(cuMemFree(y), CUDA_SUCCESS);
  CHECK_CU(cuStreamDestroy(s), CUDA_SUCCESS);
}

void check_timing(const Kernels& k) {
  dt::section("device time of a graph launch (spin)");
  CUstream s = nullptr;
  REQUIRE_CU(cuStreamCreate(&s, CU_STREAM_NON_BLOCKING), CUDA_SUCCESS);
  const double spin_ms = 50;
  CUgraph g = nullptr;
  REQUIRE_CU(cuStreamBeginCapture(s, CU_STREAM_CAPTURE_MODE_GLOBAL), CUDA_SUCCESS);
  CHECK_CU(dt::launch_spin(k.spin, s, spin_ms), CUDA_SUCCESS);
  REQUIRE_CU(cuStreamEndCapture(s, &g), CUDA_SUCCESS);
  CUgraphExec exec = nullptr;
  REQUIRE_CU(cuGraphInstantiate(&exec, g, 0), CUDA_SUCCESS);
  CHECK_CU(cuGraphUpload(exec, s), CUDA_SUCCESS);
  CUevent start = nullptr, stop = nullptr;
  REQUIRE_CU(cuEventCreate(&start, CU_EVENT_DEFAULT), CUDA_SUCCESS);
  REQUIRE_CU(cuEventCreate(&stop, CU_EVENT_DEFAULT), CUDA_SUCCESS);
  CHECK_CU(cuEventRecord(start, s), CUDA_SUCCESS);
  CHECK_CU(cuGraphLaunch(exec, s), CUDA_SUCCESS);
  CHECK_CU(cuEventRecord(stop, s), CUDA_SUCCESS);
  CHECK_CU(cuEventSynchronize(stop), CUDA_SUCCESS);
  float ms = 0.0f;
  CHECK_CU(cuEventElapsedTime(&ms, start, stop), CUDA_SUCCESS);
  CHECK_MSG(ms >= 0.5 * spin_ms && ms < 100 * spin_ms, "elapsed " + dt::repr(ms) + " ms");
  dt::info("graph of spin(%.0f ms): %.3f ms of device time", spin_ms, ms);
  CHECK_CU(cuEventDestroy(start), CUDA_SUCCESS);
  CHECK_CU(cuEventDestroy(stop), CUDA_SUCCESS);
  CHECK_CU(cuGraphExecDestroy(exec), CUDA_SUCCESS);
  CHECK_CU(cuGraphDestroy(g), CUDA_SUCCESS);
  CHECK_CU(cuStreamDestroy(s), CUDA_SUCCESS);
}

void check_errors(const Kernels& k) {
  dt::section("argument and handle errors");
  CUcontext ctx = nullptr;
  CHECK_CU(cuCtxGetCurrent(&ctx), CUDA_SUCCESS);
  CUgraph g = nullptr, other = nullptr;
  CHECK_CU(cuGraphCreate(nullptr, 0), CUDA_ERROR_INVALID_VALUE);
  CHECK_CU_MSG(cuGraphCreate(&g, 1), CUDA_ERROR_INVALID_VALUE, "flags must be 0");
  REQUIRE_CU(cuGraphCreate(&g, 0), CUDA_SUCCESS);
  REQUIRE_CU(cuGraphCreate(&other, 0), CUDA_SUCCESS);
  CUgraphExec exec = nullptr;
  CHECK_CU(cuGraphInstantiate(&exec, nullptr, 0), CUDA_ERROR_INVALID_VALUE);
  CHECK_CU(cuGraphInstantiate(nullptr, g, 0), CUDA_ERROR_INVALID_VALUE);
  CHECK_CU(cuGraphInstantiate(&exec, g, 0x100), CUDA_ERROR_INVALID_VALUE);
  CHECK_CU(cuGraphLaunch(nullptr, nullptr), CUDA_ERROR_INVALID_VALUE);
  CHECK_CU(cuGraphDestroy(nullptr), CUDA_ERROR_INVALID_VALUE);
  CHECK_CU(cuGraphExecDestroy(nullptr), CUDA_ERROR_INVALID_VALUE);
  size_t count = 0;
  CHECK_CU(cuGraphGetNodes(nullptr, nullptr, &count), CUDA_ERROR_INVALID_VALUE);

  CUgraphNode a = nullptr, b = nullptr, foreign = nullptr;
  CHECK_CU(cuGraphAddEmptyNode(&a, g, nullptr, 0), CUDA_SUCCESS);
  CHECK_CU(cuGraphAddEmptyNode(&foreign, other, nullptr, 0), CUDA_SUCCESS);
  CHECK_CU_MSG(cuGraphAddEmptyNode(&b, g, nullptr, 1), CUDA_ERROR_INVALID_VALUE, "dependencies NULL, count 1");
  CUgraphNode twice[] = {a, a};
  CHECK_CU_MSG(cuGraphAddEmptyNode(&b, g, twice, 2), CUDA_ERROR_INVALID_VALUE, "duplicate dependencies");
  CHECK_CU_MSG(cuGraphAddEmptyNode(&b, g, &foreign, 1), CUDA_ERROR_INVALID_VALUE, "a node of another graph");

  CUdeviceptr p = 0;
  REQUIRE_CU(cuMemAlloc(&p, 1024), CUDA_SUCCESS);
  CUDA_MEMSET_NODE_PARAMS ms{};
  ms.dst = p;
  ms.elementSize = 3;
  ms.width = 16;
  ms.height = 1;
  CHECK_CU_MSG(cuGraphAddMemsetNode(&b, g, nullptr, 0, &ms, ctx), CUDA_ERROR_INVALID_VALUE, "element size 3");
  ms.elementSize = 4;
  ms.width = 257;  // 1028 bytes into a 1024-byte allocation
  CHECK_CU(cuGraphAddMemsetNode(&b, g, nullptr, 0, &ms, ctx), CUDA_ERROR_INVALID_VALUE);
  CHECK_CU(cuGraphAddMemsetNode(&b, g, nullptr, 0, nullptr, ctx), CUDA_ERROR_INVALID_VALUE);
  CUDA_KERNEL_NODE_PARAMS kp{};
  kp.gridDimX = kp.gridDimY = kp.gridDimZ = 1;
  kp.blockDimX = kp.blockDimY = kp.blockDimZ = 1;
  CHECK_CU_MSG(cuGraphAddKernelNode(&b, g, nullptr, 0, &kp), CUDA_ERROR_INVALID_VALUE, "no function");
  kp.func = k.fill;
  kp.gridDimX = 0;
  CHECK_CU_MSG(cuGraphAddKernelNode(&b, g, nullptr, 0, &kp), CUDA_ERROR_INVALID_VALUE, "empty grid");
  CHECK_CU(cuGraphGetNodes(g, nullptr, &count), CUDA_SUCCESS);
  CHECK_EQ(count, 1u);  // nothing was added by the failed calls

  if (!dt::skip_destroyed_handles()) {
    dt::section("destroyed handles [destroyed handle]");
    REQUIRE_CU(cuGraphInstantiate(&exec, g, 0), CUDA_SUCCESS);
    CUstream s = nullptr;
    REQUIRE_CU(cuStreamCreate(&s, CU_STREAM_NON_BLOCKING), CUDA_SUCCESS);
    CHECK_CU(cuStreamDestroy(s), CUDA_SUCCESS);
    CHECK_CU_ANY(cuGraphLaunch(exec, s), CUDA_ERROR_INVALID_HANDLE, CUDA_ERROR_INVALID_VALUE);
    CHECK_CU(cuGraphExecDestroy(exec), CUDA_SUCCESS);
    CHECK_CU_ANY(cuGraphLaunch(exec, nullptr), CUDA_ERROR_INVALID_VALUE, CUDA_ERROR_INVALID_HANDLE);
    CHECK_CU_ANY(cuGraphExecDestroy(exec), CUDA_ERROR_INVALID_VALUE, CUDA_ERROR_INVALID_HANDLE);
    CHECK_CU(cuGraphDestroy(other), CUDA_SUCCESS);
    CHECK_CU_ANY(cuGraphInstantiate(&exec, other, 0), CUDA_ERROR_INVALID_VALUE, CUDA_ERROR_INVALID_HANDLE);
    CHECK_CU_ANY(cuGraphAddEmptyNode(&b, other, nullptr, 0), CUDA_ERROR_INVALID_VALUE, CUDA_ERROR_INVALID_HANDLE);
    CHECK_CU_ANY(cuGraphDestroy(other), CUDA_ERROR_INVALID_VALUE, CUDA_ERROR_INVALID_HANDLE);
  } else {
    CHECK_CU(cuGraphDestroy(other), CUDA_SUCCESS);
  }
  CHECK_CU(cuGraphDestroy(g), CUDA_SUCCESS);
  CHECK_CU(cuMemFree(p), CUDA_SUCCESS);

  dt::section("NULL output pointers");
  REQUIRE_CU(cuGraphCreate(&g, 0), CUDA_SUCCESS);
  CHECK_CU(cuGraphGetNodes(g, nullptr, nullptr), CUDA_ERROR_INVALID_VALUE);
  CHECK_CU(cuGraphAddEmptyNode(nullptr, g, nullptr, 0), CUDA_ERROR_INVALID_VALUE);
  CHECK_CU(cuGraphDestroy(g), CUDA_SUCCESS);
}

}  // namespace

int main() {
  CUdevice dev = dt::init_primary();
  CUmodule spin_mod = dt::load_kernel_module("spin");
  CUmodule fill_mod = dt::load_kernel_module("fill_u32");
  CUmodule saxpy_mod = dt::load_kernel_module("saxpy");
  Kernels k{dt::get_function(spin_mod, "spin"), dt::get_function(fill_mod, "fill_u32"),
            dt::get_function(saxpy_mod, "saxpy")};

  check_capture_launch(k);
  check_explicit(k);
  check_timing(k);
  check_errors(k);

  CHECK_CU(cuCtxSynchronize(), CUDA_SUCCESS);
  CHECK_CU(cuModuleUnload(spin_mod), CUDA_SUCCESS);
  CHECK_CU(cuModuleUnload(fill_mod), CUDA_SUCCESS);
  CHECK_CU(cuModuleUnload(saxpy_mod), CUDA_SUCCESS);
  dt::release_primary(dev);
  return dt::finish();
}
