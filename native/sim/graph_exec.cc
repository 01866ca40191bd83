// graph_exec.cc — executable graphs: cuGraphInstantiate (the CUDA 11 form,
// _v2, WithFlags, WithParams), cuGraphLaunch, cuGraphUpload,
// cuGraphExecDestroy, cuGraphExecGetFlags.
//
// Instantiation snapshots the graph's node work in a topological order (see
// graph.h), so the exec does not change when the graph does and outlives it.
// A launch is one item of device work on the stream: in stream order with the
// stream's other work, and behind every earlier launch of the same exec (all
// of them run on the exec's device, whose executor runs work in order). On a
// capturing stream the launch is recorded as a child-graph node instead.
// A graph whose nodes span several devices is not simulated
// (CUDA_ERROR_NOT_SUPPORTED); uploading has nothing to do in the sim.
#include "graph.h"

namespace gpupool::sim {
namespace {

constexpr unsigned long long kKnownFlags =
    CUDA_GRAPH_INSTANTIATE_FLAG_AUTO_FREE_ON_LAUNCH | CUDA_GRAPH_INSTANTIATE_FLAG_UPLOAD |
    CUDA_GRAPH_INSTANTIATE_FLAG_DEVICE_LAUNCH | CUDA_GRAPH_INSTANTIATE_FLAG_USE_NODE_PRIORITY;

CUresult check_flags(unsigned long long flags, bool upload_allowed) {
  if ((flags & ~kKnownFlags) != 0) return CUDA_ERROR_INVALID_VALUE;
  if ((flags & CUDA_GRAPH_INSTANTIATE_FLAG_UPLOAD) && !upload_allowed) return CUDA_ERROR_INVALID_VALUE;
  // "This flag cannot be used in conjunction with ..._AUTO_FREE_ON_LAUNCH."
  if ((flags & CUDA_GRAPH_INSTANTIATE_FLAG_DEVICE_LAUNCH) && (flags & CUDA_GRAPH_INSTANTIATE_FLAG_AUTO_FREE_ON_LAUNCH))
    return CUDA_ERROR_INVALID_VALUE;
  return CUDA_SUCCESS;
}

CUresult instantiate(CUgraphExec* out, CUgraph handle, unsigned long long flags) {
  Context* ctx = nullptr;
  if (CUresult r = require_context(&ctx); r != CUDA_SUCCESS) return r;
  if (out == nullptr) return CUDA_ERROR_INVALID_VALUE;
  std::lock_guard<std::mutex> lock(graph_lock());
  Graph* g = nullptr;
  if (CUresult r = check_graph(handle, &g); r != CUDA_SUCCESS) return r;
  if (g->capture != nullptr) return CUDA_ERROR_INVALID_VALUE;  // not instantiable before cuStreamEndCapture
  Device* device = nullptr;
  auto steps = std::make_shared<std::vector<std::function<CUresult()>>>();
  for (const GraphNode* n : g->nodes) {
    if (n->device != nullptr) {
      if (device != nullptr && device != n->device) return CUDA_ERROR_NOT_SUPPORTED;
      device = n->device;
    }
    if (n->work) steps->push_back(n->work);
  }
  auto* exec = new GraphExec;
  exec->steps = std::move(steps);
  exec->device = device != nullptr ? device : ctx->device;
  exec->flags = flags;
  g_graph_execs.add(exec);
  *out = reinterpret_cast<CUgraphExec>(exec);
  return CUDA_SUCCESS;
}

CUresult check_exec(CUgraphExec handle, GraphExec** out) {
  if (!g_graph_execs.contains(handle)) return CUDA_ERROR_INVALID_VALUE;
  *out = reinterpret_cast<GraphExec*>(handle);
  return CUDA_SUCCESS;
}

// The exec's stream in the current context; INVALID_VALUE for a stream of
// another device than the one the exec was instantiated for.
CUresult exec_and_stream(CUgraphExec handle, CUstream h, bool per_thread, GraphExec** exec, Stream** stream) {
  Context* ctx = nullptr;
  if (CUresult r = require_context(&ctx); r != CUDA_SUCCESS) return r;
  if (CUresult r = check_exec(handle, exec); r != CUDA_SUCCESS) return r;
  if (CUresult r = resolve_stream(ctx, h, per_thread, stream); r != CUDA_SUCCESS) return r;
  if ((*stream)->ctx->device != (*exec)->device) return CUDA_ERROR_INVALID_VALUE;
  return CUDA_SUCCESS;
}

CUresult launch(CUgraphExec handle, CUstream h, bool per_thread) {
  GraphExec* exec = nullptr;
  Stream* s = nullptr;
  if (CUresult r = exec_and_stream(handle, h, per_thread, &exec, &s); r != CUDA_SUCCESS) return r;
  auto steps = exec->steps;
  return enqueue_work(s, CU_GRAPH_NODE_TYPE_GRAPH, [steps] {
    for (const auto& step : *steps) {
      if (CUresult r = step(); r != CUDA_SUCCESS) return r;  // a fault stops the graph, as on a GPU
    }
    return CUDA_SUCCESS;
  }, false);
}

CUresult upload(CUgraphExec handle, CUstream h, bool per_thread) {
  GraphExec* exec = nullptr;
  Stream* s = nullptr;
  return exec_and_stream(handle, h, per_thread, &exec, &s);
}

}  // namespace
}  // namespace gpupool::sim

using namespace gpupool::sim;

SIM_API CUresult cuGraphInstantiateWithFlags(CUgraphExec* phGraphExec, CUgraph hGraph, unsigned long long flags) {
  if (CUresult r = require_init(); r != CUDA_SUCCESS) return r;
  if (CUresult r = check_flags(flags, false); r != CUDA_SUCCESS) return r;
  return instantiate(phGraphExec, hGraph, flags);
}

// The CUDA 10-11 form: no flags; an error node and a log, neither of which
// the sim's instantiation can produce.
static CUresult instantiate_with_log(CUgraphExec* phGraphExec, CUgraph hGraph, CUgraphNode* phErrorNode,
                                     char* logBuffer, size_t bufferSize) {
  CUresult r = instantiate(phGraphExec, hGraph, 0);
  if (phErrorNode != nullptr) *phErrorNode = nullptr;
  if (logBuffer != nullptr && bufferSize > 0) logBuffer[0] = '\0';
  return r;
}
SIM_API CUresult cuGraphInstantiate(CUgraphExec* e, CUgraph g, CUgraphNode* n, char* log, size_t size) {
  return instantiate_with_log(e, g, n, log, size);
}
SIM_API CUresult cuGraphInstantiate_v2(CUgraphExec* e, CUgraph g, CUgraphNode* n, char* log, size_t size) {
  return instantiate_with_log(e, g, n, log, size);
}

static CUresult instantiate_with_params(CUgraphExec* phGraphExec, CUgraph hGraph,
                                        CUDA_GRAPH_INSTANTIATE_PARAMS* params, bool per_thread) {
  if (CUresult r = require_init(); r != CUDA_SUCCESS) return r;
  if (params == nullptr) return CUDA_ERROR_INVALID_VALUE;
  params->hErrNode_out = nullptr;
  params->result_out = CUDA_GRAPH_INSTANTIATE_ERROR;
  if (CUresult r = check_flags(params->flags, true); r != CUDA_SUCCESS) return r;
  CUresult r = instantiate(phGraphExec, hGraph, params->flags);
  if (r != CUDA_SUCCESS) return r;
  if (params->flags & CUDA_GRAPH_INSTANTIATE_FLAG_UPLOAD) {
    r = upload(*phGraphExec, params->hUploadStream, per_thread);
    if (r != CUDA_SUCCESS) {
      cuGraphExecDestroy(*phGraphExec);
      *phGraphExec = nullptr;
      return r;
    }
  }
  params->result_out = CUDA_GRAPH_INSTANTIATE_SUCCESS;
  return CUDA_SUCCESS;
}
SIM_API CUresult cuGraphInstantiateWithParams(CUgraphExec* e, CUgraph g, CUDA_GRAPH_INSTANTIATE_PARAMS* p) {
  return instantiate_with_params(e, g, p, false);
}
SIM_API CUresult cuGraphInstantiateWithParams_ptsz(CUgraphExec* e, CUgraph g, CUDA_GRAPH_INSTANTIATE_PARAMS* p) {
  return instantiate_with_params(e, g, p, true);
}

SIM_API CUresult cuGraphLaunch(CUgraphExec hGraphExec, CUstream hStream) { return launch(hGraphExec, hStream, false); }
SIM_API CUresult cuGraphLaunch_ptsz(CUgraphExec hGraphExec, CUstream hStream) {
  return launch(hGraphExec, hStream, true);
}

SIM_API CUresult cuGraphUpload(CUgraphExec hGraphExec, CUstream hStream) { return upload(hGraphExec, hStream, false); }
SIM_API CUresult cuGraphUpload_ptsz(CUgraphExec hGraphExec, CUstream hStream) {
  return upload(hGraphExec, hStream, true);
}

// "If the executable graph is in-flight, it will not be terminated, but
// rather freed asynchronously on completion": launches hold their own
// reference to the node work.
SIM_API CUresult cuGraphExecDestroy(CUgraphExec hGraphExec) {
  if (CUresult r = require_init(); r != CUDA_SUCCESS) return r;
  GraphExec* exec = nullptr;
  if (CUresult r = check_exec(hGraphExec, &exec); r != CUDA_SUCCESS) return r;
  g_graph_execs.remove(exec);
  return CUDA_SUCCESS;
}

SIM_API CUresult cuGraphExecGetFlags(CUgraphExec hGraphExec, cuuint64_t* flags) {
  if (CUresult r = require_init(); r != CUDA_SUCCESS) return r;
  GraphExec* exec = nullptr;
  if (CUresult r = check_exec(hGraphExec, &exec); r != CUDA_SUCCESS) return r;
  if (flags == nullptr) return CUDA_ERROR_INVALID_VALUE;
  *flags = exec->flags;
  return CUDA_SUCCESS;
}
