// graph_nodes.cc — explicitly built device-work nodes: cuGraphAddKernelNode
// (CUDA 13: _v2 with kern/ctx; the v1 layout too), cuGraphAddMemsetNode,
// cuGraphAddMemcpyNode.
//
// Each node is validated as the equivalent stream call would be and prepared
// at once, with its arguments copied (kernel parameter values included: "The
// kernelParams or extra array, as well as the argument values it points to,
// are copied during this call"), so the caller may reuse its buffers.
// Not simulated (CUDA_ERROR_NOT_SUPPORTED): kernels given as CUkernel (the
// library API), CUDA arrays, and memcpy nodes deeper than one slice.
#include "graph.h"
#include "memory_internal.h"
#include "module.h"

namespace gpupool::sim {
namespace {

// The node's context: `handle`, or the current one when null.
CUresult node_context(CUcontext handle, Context** out) {
  if (handle == nullptr) return require_context(out);
  return check_context(handle, out);
}

CUresult add_kernel(CUgraphNode* out, CUgraph graph, const CUgraphNode* deps, size_t count,
                    const CUDA_KERNEL_NODE_PARAMS& p) {
  if (CUresult r = require_init(); r != CUDA_SUCCESS) return r;
  if (p.func == nullptr) return p.kern != nullptr ? CUDA_ERROR_NOT_SUPPORTED : CUDA_ERROR_INVALID_VALUE;
  const unsigned grid[3] = {p.gridDimX, p.gridDimY, p.gridDimZ};
  const unsigned block[3] = {p.blockDimX, p.blockDimY, p.blockDimZ};
  std::function<CUresult()> work;
  // "ctx ... is ignored if func is set": the function's own context runs it.
  if (CUresult r = prepare_kernel(nullptr, p.func, grid, block, p.sharedMemBytes, p.kernelParams, p.extra, &work);
      r != CUDA_SUCCESS)
    return r;
  Function* f = nullptr;
  if (CUresult r = check_function(p.func, &f); r != CUDA_SUCCESS) return r;
  return add_node_checked(out, graph, deps, count, CU_GRAPH_NODE_TYPE_KERNEL, std::move(work),
                          f->module->ctx->device);
}

uintptr_t side_base(CUmemorytype type, const void* host, CUdeviceptr device) {
  return type == CU_MEMORYTYPE_HOST ? reinterpret_cast<uintptr_t>(host) : static_cast<uintptr_t>(device);
}

}  // namespace
}  // namespace gpupool::sim

using namespace gpupool::sim;

SIM_API CUresult cuGraphAddKernelNode_v2(CUgraphNode* phGraphNode, CUgraph hGraph, const CUgraphNode* dependencies,
                                         size_t numDependencies, const CUDA_KERNEL_NODE_PARAMS* nodeParams) {
  if (nodeParams == nullptr) return CUDA_ERROR_INVALID_VALUE;
  return add_kernel(phGraphNode, hGraph, dependencies, numDependencies, *nodeParams);
}

SIM_API CUresult cuGraphAddKernelNode(CUgraphNode* phGraphNode, CUgraph hGraph, const CUgraphNode* dependencies,
                                      size_t numDependencies, const CUDA_KERNEL_NODE_PARAMS_v1* nodeParams) {
  if (nodeParams == nullptr) return CUDA_ERROR_INVALID_VALUE;
  CUDA_KERNEL_NODE_PARAMS p{};
  p.func = nodeParams->func;
  p.gridDimX = nodeParams->gridDimX;
  p.gridDimY = nodeParams->gridDimY;
  p.gridDimZ = nodeParams->gridDimZ;
  p.blockDimX = nodeParams->blockDimX;
  p.blockDimY = nodeParams->blockDimY;
  p.blockDimZ = nodeParams->blockDimZ;
  p.sharedMemBytes = nodeParams->sharedMemBytes;
  p.kernelParams = nodeParams->kernelParams;
  p.extra = nodeParams->extra;
  return add_kernel(phGraphNode, hGraph, dependencies, numDependencies, p);
}

SIM_API CUresult cuGraphAddMemsetNode(CUgraphNode* phGraphNode, CUgraph hGraph, const CUgraphNode* dependencies,
                                      size_t numDependencies, const CUDA_MEMSET_NODE_PARAMS* memsetParams,
                                      CUcontext ctx) {
  if (CUresult r = require_init(); r != CUDA_SUCCESS) return r;
  if (memsetParams == nullptr) return CUDA_ERROR_INVALID_VALUE;
  Context* c = nullptr;
  if (CUresult r = node_context(ctx, &c); r != CUDA_SUCCESS) return r;
  const CUDA_MEMSET_NODE_PARAMS& p = *memsetParams;
  if (p.width == 0 || p.height == 0) return CUDA_ERROR_INVALID_VALUE;
  std::function<CUresult()> work;
  if (CUresult r = prepare_memset(c, p.dst, p.pitch, p.value, p.elementSize, p.width, p.height, &work);
      r != CUDA_SUCCESS)
    return r;
  return add_node_checked(phGraphNode, hGraph, dependencies, numDependencies, CU_GRAPH_NODE_TYPE_MEMSET,
                          std::move(work), c->device);
}

// A memcpy node reads and writes host memory when the graph runs (nothing is
// staged), like a captured cuMemcpyAsync.
SIM_API CUresult cuGraphAddMemcpyNode(CUgraphNode* phGraphNode, CUgraph hGraph, const CUgraphNode* dependencies,
                                      size_t numDependencies, const CUDA_MEMCPY3D* copyParams, CUcontext ctx) {
  if (CUresult r = require_init(); r != CUDA_SUCCESS) return r;
  if (copyParams == nullptr) return CUDA_ERROR_INVALID_VALUE;
  Context* c = nullptr;
  if (CUresult r = node_context(ctx, &c); r != CUDA_SUCCESS) return r;
  const CUDA_MEMCPY3D& p = *copyParams;
  if (p.WidthInBytes == 0 || p.Height == 0 || p.Depth == 0) return CUDA_ERROR_INVALID_VALUE;
  if (p.Depth != 1 || p.srcZ != 0 || p.dstZ != 0 || p.srcLOD != 0 || p.dstLOD != 0) return CUDA_ERROR_NOT_SUPPORTED;
  CopySide src{p.srcMemoryType, side_base(p.srcMemoryType, p.srcHost, p.srcDevice), p.srcXInBytes, p.srcY,
               p.srcPitch};
  CopySide dst{p.dstMemoryType, side_base(p.dstMemoryType, p.dstHost, p.dstDevice), p.dstXInBytes, p.dstY,
               p.dstPitch};
  CopyPlan plan;
  plan.width = p.WidthInBytes;
  plan.rows = p.Height;
  plan.src_pitch = src.pitch;
  plan.dst_pitch = dst.pitch;
  if (CUresult r = check_copy_side(c, dst, plan.width, plan.rows, true, &plan.dst, &plan.dst_pageable);
      r != CUDA_SUCCESS)
    return r;
  if (CUresult r = check_copy_side(c, src, plan.width, plan.rows, false, &plan.src, &plan.src_pageable);
      r != CUDA_SUCCESS)
    return r;
  return add_node_checked(phGraphNode, hGraph, dependencies, numDependencies, CU_GRAPH_NODE_TYPE_MEMCPY,
                          copy_work(plan), c->device);
}
