// capture.cc — stream capture: recording stream work as graph nodes, and the
// rules that keep a capture sequence sound.
//
// While a stream captures, work enqueued on it (enqueue_work) becomes a node
// depending on the stream's current dependency set, and the set becomes that
// node. An event recorded on a capturing stream remembers the set; a stream
// that waits on it joins the capture (a fork) or merges the set into its own
// (a join). Calls that would tie captured work to work that really runs are
// refused with the driver's errors and invalidate the capture, which then
// fails at cuStreamEndCapture (CUDA_ERROR_STREAM_CAPTURE_INVALIDATED):
//   - the legacy stream while a blocking stream of its context captures (IMPLICIT);
//   - synchronising or querying a capturing stream, or its context (UNSUPPORTED);
//   - "potentially unsafe" calls (allocation, synchronous copies) by a thread
//     the capture modes prohibit them for (UNSUPPORTED);
//   - waiting on an event recorded outside the capture (ISOLATION) or in
//     another capture (MERGE); querying an event recorded in a capture (CAPTURED_EVENT).
// With no capture active anywhere the checks cost one atomic load. Events are
// in capture_events.cc.
#include <algorithm>
#include <atomic>

#include "graph.h"

namespace gpupool::sim {
namespace {

std::atomic<int> g_active_count{0};
std::vector<Capture*> g_active;  // guarded by graph_lock()
std::atomic<uint64_t> g_next_capture_id{1};
thread_local CUstreamCaptureMode t_mode = CU_STREAM_CAPTURE_MODE_GLOBAL;

bool any_active() { return g_active_count.load(std::memory_order_acquire) != 0; }

bool blocking(const Stream* s) { return (s->flags & CU_STREAM_NON_BLOCKING) == 0; }

}  // namespace

bool captures_active() { return any_active(); }

Capture* active_capture(uint64_t id) {
  for (Capture* c : g_active)
    if (c->id == id) return c;
  return nullptr;
}

std::mutex& graph_lock() {
  static std::mutex m;
  return m;
}

Capture* begin_capture(Stream* stream, Graph* graph, CUstreamCaptureMode mode, std::vector<GraphNode*> deps) {
  auto* c = new Capture;
  c->id = g_next_capture_id.fetch_add(1);
  c->graph = graph;
  c->mode = mode;
  c->origin = stream;
  c->owner = std::this_thread::get_id();
  c->streams.push_back(stream);
  graph->capture = c;
  stream->capture = c;
  stream->capture_deps = std::move(deps);
  g_active.push_back(c);
  g_active_count.fetch_add(1, std::memory_order_release);
  return c;
}

void end_capture(Capture* c, std::vector<GraphNode*>* origin_deps, std::vector<std::vector<GraphNode*>>* other_deps) {
  for (Stream* s : c->streams) {
    if (s == c->origin) *origin_deps = std::move(s->capture_deps);
    else other_deps->push_back(std::move(s->capture_deps));
    s->capture = nullptr;
    s->capture_deps.clear();
  }
  c->graph->capture = nullptr;
  g_active.erase(std::find(g_active.begin(), g_active.end(), c));
  g_active_count.fetch_sub(1, std::memory_order_release);
  forget_captured_events(c->id);
  delete c;  // not a handle: nothing can refer to it any more
}

bool legacy_blocked(const Stream* stream, bool invalidate) {
  if (!stream->legacy) return false;
  bool blocked = false;
  for (Capture* c : g_active) {
    for (Stream* s : c->streams) {
      if (s->ctx == stream->ctx && blocking(s)) {
        blocked = true;
        if (invalidate) c->invalidated = true;
        break;
      }
    }
  }
  return blocked;
}

CUresult enqueue_work(Stream* stream, CUgraphNodeType type, std::function<CUresult()> work, bool synchronous) {
  if (any_active()) {
    std::lock_guard<std::mutex> lock(graph_lock());
    if (legacy_blocked(stream, true)) return CUDA_ERROR_STREAM_CAPTURE_IMPLICIT;
    if (Capture* c = stream->capture) {
      if (synchronous) {
        c->invalidated = true;
        return CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED;
      }
      if (c->invalidated) return CUDA_ERROR_STREAM_CAPTURE_INVALIDATED;
      GraphNode* node = add_node(c->graph, type, stream->capture_deps, std::move(work), stream->ctx->device);
      stream->capture_deps.assign(1, node);
      return CUDA_SUCCESS;
    }
  }
  submit(stream, std::move(work));
  return CUDA_SUCCESS;
}

void captures_release_context(Context* ctx) {
  if (!any_active()) return;
  std::lock_guard<std::mutex> lock(graph_lock());
  std::vector<Capture*> doomed;
  for (Capture* c : g_active) {
    for (Stream* s : c->streams)
      if (s->ctx == ctx) {
        doomed.push_back(c);
        break;
      }
  }
  for (Capture* c : doomed) {
    Graph* g = c->owns_graph ? c->graph : nullptr;
    std::vector<GraphNode*> origin;
    std::vector<std::vector<GraphNode*>> others;
    end_capture(c, &origin, &others);
    if (g != nullptr) retire_graph(g);
  }
}

CUresult capture_check_legacy(Stream* stream) {
  if (!any_active() || !stream->legacy) return CUDA_SUCCESS;
  std::lock_guard<std::mutex> lock(graph_lock());
  return legacy_blocked(stream, true) ? CUDA_ERROR_STREAM_CAPTURE_IMPLICIT : CUDA_SUCCESS;
}

bool stream_capturing(const Stream* stream) {
  if (!any_active()) return false;
  std::lock_guard<std::mutex> lock(graph_lock());
  return stream->capture != nullptr;
}

void capture_invalidate(Stream* stream) {
  if (!any_active()) return;
  std::lock_guard<std::mutex> lock(graph_lock());
  if (stream->capture) stream->capture->invalidated = true;
}

CUresult capture_check_unsafe() {
  if (!any_active() || t_mode == CU_STREAM_CAPTURE_MODE_RELAXED) return CUDA_SUCCESS;
  std::lock_guard<std::mutex> lock(graph_lock());
  auto self = std::this_thread::get_id();
  bool prohibited = false;
  for (Capture* c : g_active) {
    bool own = c->owner == self && c->mode != CU_STREAM_CAPTURE_MODE_RELAXED;
    bool foreign = c->owner != self && c->mode == CU_STREAM_CAPTURE_MODE_GLOBAL &&
                   t_mode == CU_STREAM_CAPTURE_MODE_GLOBAL;
    if (own || foreign) {
      c->invalidated = true;
      prohibited = true;
    }
  }
  return prohibited ? CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED : CUDA_SUCCESS;
}

CUresult capture_check_stream_sync(Stream* stream) {
  if (!any_active()) return CUDA_SUCCESS;
  std::lock_guard<std::mutex> lock(graph_lock());
  if (stream->capture) {
    stream->capture->invalidated = true;
    return CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED;
  }
  return legacy_blocked(stream, true) ? CUDA_ERROR_STREAM_CAPTURE_IMPLICIT : CUDA_SUCCESS;
}

CUresult capture_check_context_sync(Context* ctx) {
  if (CUresult r = capture_check_unsafe(); r != CUDA_SUCCESS) return r;
  if (!any_active()) return CUDA_SUCCESS;
  std::lock_guard<std::mutex> lock(graph_lock());
  bool capturing = false;
  for (Capture* c : g_active) {
    for (Stream* s : c->streams) {
      if (s->ctx == ctx) {
        c->invalidated = true;
        capturing = true;
      }
    }
  }
  return capturing ? CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED : CUDA_SUCCESS;
}

// ---- the thread's capture interaction mode ----------------------------------------

CUstreamCaptureMode exchange_thread_capture_mode(CUstreamCaptureMode mode) {
  CUstreamCaptureMode old = t_mode;
  t_mode = mode;
  return old;
}

}  // namespace gpupool::sim
