// capture_api.cc — the stream capture entry points: cuStreamBeginCapture
// (and _v2, ToGraph), cuStreamEndCapture, cuStreamIsCapturing,
// cuStreamGetCaptureInfo (v1, _v2, _v3), cuThreadExchangeStreamCaptureMode,
// each with its per-thread-stream (_ptsz) form.
//
// Errors where the reference leaves them open follow the driver: beginning a
// capture on a stream that already captures, or ending one on a stream that
// does not, is CUDA_ERROR_ILLEGAL_STATE; ending it on a stream that joined but
// did not begin it is CUDA_ERROR_STREAM_CAPTURE_UNMATCHED; the legacy stream
// cannot capture (CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED).
#include <algorithm>
#include <cstring>
#include <unordered_set>

#include "graph.h"

namespace gpupool::sim {
namespace {

bool valid_mode(CUstreamCaptureMode mode) {
  return mode == CU_STREAM_CAPTURE_MODE_GLOBAL || mode == CU_STREAM_CAPTURE_MODE_THREAD_LOCAL ||
         mode == CU_STREAM_CAPTURE_MODE_RELAXED;
}

CUresult current_stream(CUstream handle, bool per_thread, Stream** out) {
  Context* ctx = nullptr;
  if (CUresult r = require_context(&ctx); r != CUDA_SUCCESS) return r;
  return resolve_stream(ctx, handle, per_thread, out);
}

// `graph` null: capture into a new graph; otherwise into the caller's graph
// after `deps`.
CUresult begin_on(CUstream handle, CUstreamCaptureMode mode, bool per_thread, CUgraph graph, const CUgraphNode* deps,
               size_t count) {
  Stream* s = nullptr;
  if (CUresult r = current_stream(handle, per_thread, &s); r != CUDA_SUCCESS) return r;
  if (!valid_mode(mode)) return CUDA_ERROR_INVALID_VALUE;
  if (s->legacy) return CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED;
  std::lock_guard<std::mutex> lock(graph_lock());
  if (s->capture != nullptr) return CUDA_ERROR_ILLEGAL_STATE;
  Graph* g = nullptr;
  std::vector<GraphNode*> initial;
  if (graph != nullptr) {
    if (CUresult r = check_graph(graph, &g); r != CUDA_SUCCESS) return r;
    if (g->capture != nullptr) return CUDA_ERROR_ILLEGAL_STATE;
    if (CUresult r = check_dependencies(g, deps, count); r != CUDA_SUCCESS) return r;
    for (size_t i = 0; i < count; ++i) initial.push_back(reinterpret_cast<GraphNode*>(deps[i]));
  } else {
    g = new_graph();
  }
  begin_capture(s, g, mode, std::move(initial))->owns_graph = graph == nullptr;
  return CUDA_SUCCESS;
}

// Every node in `set` is `targets` or one of their ancestors.
bool all_reachable(const std::vector<GraphNode*>& targets, const std::vector<GraphNode*>& set) {
  std::unordered_set<GraphNode*> seen;
  std::vector<GraphNode*> todo(targets.begin(), targets.end());
  while (!todo.empty()) {
    GraphNode* n = todo.back();
    todo.pop_back();
    if (!seen.insert(n).second) continue;
    todo.insert(todo.end(), n->deps.begin(), n->deps.end());
  }
  return std::all_of(set.begin(), set.end(), [&](GraphNode* n) { return seen.count(n) != 0; });
}

CUresult end_on(CUstream handle, CUgraph* out, bool per_thread) {
  Stream* s = nullptr;
  if (CUresult r = current_stream(handle, per_thread, &s); r != CUDA_SUCCESS) return r;
  if (out == nullptr) return CUDA_ERROR_INVALID_VALUE;
  std::lock_guard<std::mutex> lock(graph_lock());
  Capture* c = s->capture;
  if (c == nullptr) return CUDA_ERROR_ILLEGAL_STATE;
  if (c->origin != s) return CUDA_ERROR_STREAM_CAPTURE_UNMATCHED;
  if (c->mode != CU_STREAM_CAPTURE_MODE_RELAXED && c->owner != std::this_thread::get_id())
    return CUDA_ERROR_STREAM_CAPTURE_WRONG_THREAD;
  Graph* g = c->graph;
  bool invalidated = c->invalidated;
  bool owns_graph = c->owns_graph;
  std::vector<GraphNode*> origin_deps;
  std::vector<std::vector<GraphNode*>> other_deps;
  end_capture(c, &origin_deps, &other_deps);
  CUresult result = invalidated ? CUDA_ERROR_STREAM_CAPTURE_INVALIDATED : CUDA_SUCCESS;
  for (const auto& set : other_deps) {
    if (result == CUDA_SUCCESS && !all_reachable(origin_deps, set)) result = CUDA_ERROR_STREAM_CAPTURE_UNJOINED;
  }
  if (result != CUDA_SUCCESS) {
    if (owns_graph) retire_graph(g);
    *out = nullptr;
    return result;
  }
  *out = reinterpret_cast<CUgraph>(g);
  return CUDA_SUCCESS;
}

CUresult capture_status(const Stream* s, CUstreamCaptureStatus* status) {
  if (legacy_blocked(s, false)) return CUDA_ERROR_STREAM_CAPTURE_IMPLICIT;  // not invalidated (documented)
  if (s->capture == nullptr) *status = CU_STREAM_CAPTURE_STATUS_NONE;
  else if (s->capture->invalidated) *status = CU_STREAM_CAPTURE_STATUS_INVALIDATED;
  else *status = CU_STREAM_CAPTURE_STATUS_ACTIVE;
  return CUDA_SUCCESS;
}

CUresult is_capturing(CUstream handle, CUstreamCaptureStatus* status, bool per_thread) {
  Stream* s = nullptr;
  if (CUresult r = current_stream(handle, per_thread, &s); r != CUDA_SUCCESS) return r;
  if (status == nullptr) return CUDA_ERROR_INVALID_VALUE;
  std::lock_guard<std::mutex> lock(graph_lock());
  return capture_status(s, status);
}

// No edge carries data in the sim's graphs: the edge data handed out is zeros,
// one per dependency, valid until this thread's next query.
thread_local std::vector<CUgraphEdgeData> t_edge_data;

CUresult capture_info(CUstream handle, CUstreamCaptureStatus* status, cuuint64_t* id, CUgraph* graph,
                      const CUgraphNode** deps, const CUgraphEdgeData** edges, size_t* count, bool per_thread) {
  Stream* s = nullptr;
  if (CUresult r = current_stream(handle, per_thread, &s); r != CUDA_SUCCESS) return r;
  if (status == nullptr || (edges != nullptr && deps == nullptr)) return CUDA_ERROR_INVALID_VALUE;
  std::lock_guard<std::mutex> lock(graph_lock());
  if (CUresult r = capture_status(s, status); r != CUDA_SUCCESS) return r;
  if (*status != CU_STREAM_CAPTURE_STATUS_ACTIVE) return CUDA_SUCCESS;
  const Capture* c = s->capture;
  if (id != nullptr) *id = c->id;
  if (graph != nullptr) *graph = reinterpret_cast<CUgraph>(c->graph);
  if (deps != nullptr) *deps = reinterpret_cast<const CUgraphNode*>(s->capture_deps.data());
  if (edges != nullptr) {
    t_edge_data.assign(s->capture_deps.size(), CUgraphEdgeData{});
    *edges = t_edge_data.data();
  }
  if (count != nullptr) *count = s->capture_deps.size();
  return CUDA_SUCCESS;
}

}  // namespace
}  // namespace gpupool::sim

using namespace gpupool::sim;

// cuStreamBeginCapture without a mode is the CUDA 10.0 form: global mode.
SIM_API CUresult cuStreamBeginCapture(CUstream h) { return begin_on(h, CU_STREAM_CAPTURE_MODE_GLOBAL, false, nullptr, nullptr, 0); }
SIM_API CUresult cuStreamBeginCapture_ptsz(CUstream h) {
  return begin_on(h, CU_STREAM_CAPTURE_MODE_GLOBAL, true, nullptr, nullptr, 0);
}
SIM_API CUresult cuStreamBeginCapture_v2(CUstream h, CUstreamCaptureMode mode) {
  return begin_on(h, mode, false, nullptr, nullptr, 0);
}
SIM_API CUresult cuStreamBeginCapture_v2_ptsz(CUstream h, CUstreamCaptureMode mode) {
  return begin_on(h, mode, true, nullptr, nullptr, 0);
}

// Edge data other than the default (zeros) is not simulated.
static bool default_edges(const CUgraphEdgeData* data, size_t count) {
  if (data == nullptr) return true;
  const CUgraphEdgeData zero{};
  for (size_t i = 0; i < count; ++i)
    if (std::memcmp(&data[i], &zero, sizeof zero) != 0) return false;
  return true;
}

static CUresult begin_to_graph(CUstream h, CUgraph g, const CUgraphNode* deps, const CUgraphEdgeData* data,
                               size_t count, CUstreamCaptureMode mode, bool per_thread) {
  if (g == nullptr) return CUDA_ERROR_INVALID_VALUE;
  if (!default_edges(data, count)) return CUDA_ERROR_NOT_SUPPORTED;
  return begin_on(h, mode, per_thread, g, deps, count);
}
SIM_API CUresult cuStreamBeginCaptureToGraph(CUstream h, CUgraph g, const CUgraphNode* deps,
                                             const CUgraphEdgeData* data, size_t count, CUstreamCaptureMode mode) {
  return begin_to_graph(h, g, deps, data, count, mode, false);
}
SIM_API CUresult cuStreamBeginCaptureToGraph_ptsz(CUstream h, CUgraph g, const CUgraphNode* deps,
                                                  const CUgraphEdgeData* data, size_t count,
                                                  CUstreamCaptureMode mode) {
  return begin_to_graph(h, g, deps, data, count, mode, true);
}

SIM_API CUresult cuStreamEndCapture(CUstream h, CUgraph* g) { return end_on(h, g, false); }
SIM_API CUresult cuStreamEndCapture_ptsz(CUstream h, CUgraph* g) { return end_on(h, g, true); }

SIM_API CUresult cuStreamIsCapturing(CUstream h, CUstreamCaptureStatus* st) { return is_capturing(h, st, false); }
SIM_API CUresult cuStreamIsCapturing_ptsz(CUstream h, CUstreamCaptureStatus* st) { return is_capturing(h, st, true); }

SIM_API CUresult cuStreamGetCaptureInfo(CUstream h, CUstreamCaptureStatus* st, cuuint64_t* id) {
  return capture_info(h, st, id, nullptr, nullptr, nullptr, nullptr, false);
}
SIM_API CUresult cuStreamGetCaptureInfo_ptsz(CUstream h, CUstreamCaptureStatus* st, cuuint64_t* id) {
  return capture_info(h, st, id, nullptr, nullptr, nullptr, nullptr, true);
}
SIM_API CUresult cuStreamGetCaptureInfo_v2(CUstream h, CUstreamCaptureStatus* st, cuuint64_t* id, CUgraph* g,
                                           const CUgraphNode** deps, size_t* n) {
  return capture_info(h, st, id, g, deps, nullptr, n, false);
}
SIM_API CUresult cuStreamGetCaptureInfo_v2_ptsz(CUstream h, CUstreamCaptureStatus* st, cuuint64_t* id, CUgraph* g,
                                                const CUgraphNode** deps, size_t* n) {
  return capture_info(h, st, id, g, deps, nullptr, n, true);
}
SIM_API CUresult cuStreamGetCaptureInfo_v3(CUstream h, CUstreamCaptureStatus* st, cuuint64_t* id, CUgraph* g,
                                           const CUgraphNode** deps, const CUgraphEdgeData** edges, size_t* n) {
  return capture_info(h, st, id, g, deps, edges, n, false);
}
SIM_API CUresult cuStreamGetCaptureInfo_v3_ptsz(CUstream h, CUstreamCaptureStatus* st, cuuint64_t* id, CUgraph* g,
                                                const CUgraphNode** deps, const CUgraphEdgeData** edges,
                                                size_t* n) {
  return capture_info(h, st, id, g, deps, edges, n, true);
}

SIM_API CUresult cuThreadExchangeStreamCaptureMode(CUstreamCaptureMode* mode) {
  if (CUresult r = require_init(); r != CUDA_SUCCESS) return r;
  if (mode == nullptr || !valid_mode(*mode)) return CUDA_ERROR_INVALID_VALUE;
  *mode = exchange_thread_capture_mode(*mode);
  return CUDA_SUCCESS;
}
