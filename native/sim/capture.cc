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
// With no capture active anywhere the checks cost one atomic load.
#include <algorithm>
#include <atomic>
#include <unordered_map>

#include "graph.h"

namespace gpupool::sim {
namespace {

std::atomic<int> g_active_count{0};
std::vector<Capture*> g_active;  // guarded by graph_lock()
std::atomic<uint64_t> g_next_capture_id{1};
thread_local CUstreamCaptureMode t_mode = CU_STREAM_CAPTURE_MODE_GLOBAL;

struct CapturedRecord {
  uint64_t capture_id;
  std::vector<GraphNode*> nodes;
};
std::unordered_map<CUevent, CapturedRecord> g_captured_events;  // guarded by graph_lock()

bool any_active() { return g_active_count.load(std::memory_order_acquire) != 0; }

Capture* active_by_id(uint64_t id) {
  for (Capture* c : g_active)
    if (c->id == id) return c;
  return nullptr;
}

bool blocking(const Stream* s) { return (s->flags & CU_STREAM_NON_BLOCKING) == 0; }

// The active capture an event was last recorded into, or null.
Capture* capture_of_event(CUevent event, const CapturedRecord** record) {
  auto it = g_captured_events.find(event);
  if (it == g_captured_events.end()) return nullptr;
  *record = &it->second;
  return active_by_id(it->second.capture_id);
}

void add_unique(std::vector<GraphNode*>* set, const std::vector<GraphNode*>& more) {
  for (GraphNode* n : more)
    if (std::find(set->begin(), set->end(), n) == set->end()) set->push_back(n);
}

}  // namespace

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
  for (auto it = g_captured_events.begin(); it != g_captured_events.end();) {
    if (it->second.capture_id == c->id) it = g_captured_events.erase(it);
    else ++it;
  }
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

// ---- events (called from event.cc and stream.cc) ----------------------------------

// cuEventRecord on `stream`: while it captures, the event remembers the
// stream's dependency set instead of being queued (*handled = true).
CUresult capture_event_record(Stream* stream, CUevent event, bool* handled) {
  *handled = false;
  if (!any_active()) return CUDA_SUCCESS;
  std::lock_guard<std::mutex> lock(graph_lock());
  Capture* c = stream->capture;
  if (c == nullptr) {
    g_captured_events.erase(event);  // re-recorded outside any capture
    return CUDA_SUCCESS;
  }
  *handled = true;
  if (c->invalidated) return CUDA_ERROR_STREAM_CAPTURE_INVALIDATED;
  g_captured_events[event] = CapturedRecord{c->id, stream->capture_deps};
  return CUDA_SUCCESS;
}

// cuStreamWaitEvent: forks and joins between streams of one capture, and the
// errors for waits that would cross a capture's boundary.
CUresult capture_stream_wait_event(Stream* stream, CUevent event, unsigned flags, bool* handled) {
  *handled = false;
  if (!any_active()) return CUDA_SUCCESS;
  std::lock_guard<std::mutex> lock(graph_lock());
  const CapturedRecord* record = nullptr;
  Capture* ec = capture_of_event(event, &record);
  Capture* sc = stream->capture;
  if (ec == nullptr && sc == nullptr) return CUDA_SUCCESS;
  *handled = true;
  if (ec == nullptr) {
    // "It is invalid to wait on a non-captured event from a stream which is
    // being captured without specifying cudaEventWaitExternal." External
    // event-wait nodes are not simulated.
    sc->invalidated = true;
    return (flags & CU_EVENT_WAIT_EXTERNAL) ? CUDA_ERROR_NOT_SUPPORTED : CUDA_ERROR_STREAM_CAPTURE_ISOLATION;
  }
  if (sc != nullptr && sc != ec) {
    sc->invalidated = ec->invalidated = true;
    return CUDA_ERROR_STREAM_CAPTURE_MERGE;
  }
  if (stream->legacy) {
    ec->invalidated = true;
    return CUDA_ERROR_STREAM_CAPTURE_IMPLICIT;
  }
  if (ec->invalidated) return CUDA_ERROR_STREAM_CAPTURE_INVALIDATED;
  if (sc == nullptr) {  // fork: the stream joins the capture
    stream->capture = ec;
    stream->capture_deps = record->nodes;
    ec->streams.push_back(stream);
  } else {              // join
    add_unique(&stream->capture_deps, record->nodes);
  }
  return CUDA_SUCCESS;
}

// cuEventQuery / cuEventSynchronize: an event last recorded in an active
// capture represents no work that runs (CUDA_ERROR_CAPTURED_EVENT).
CUresult capture_check_event(CUevent event) {
  if (!any_active()) return CUDA_SUCCESS;
  std::lock_guard<std::mutex> lock(graph_lock());
  const CapturedRecord* record = nullptr;
  Capture* c = capture_of_event(event, &record);
  if (c == nullptr) return CUDA_SUCCESS;
  c->invalidated = true;
  return CUDA_ERROR_CAPTURED_EVENT;
}

// ---- the thread's capture interaction mode ----------------------------------------

CUstreamCaptureMode exchange_thread_capture_mode(CUstreamCaptureMode mode) {
  CUstreamCaptureMode old = t_mode;
  t_mode = mode;
  return old;
}

}  // namespace gpupool::sim
