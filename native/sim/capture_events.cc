// capture_events.cc — events and stream capture: an event recorded on a
// capturing stream stands for the stream's dependency set at that point; a
// stream that waits on it joins the capture (a fork) or merges that set into
// its own (a join). Waits across a capture's boundary, and queries of an event
// that stands for captured work, are refused with the driver's errors and
// invalidate the capture (see capture.cc for the rest of the rules).
#include <algorithm>
#include <unordered_map>

#include "graph.h"

namespace gpupool::sim {
namespace {

struct CapturedRecord {
  uint64_t capture_id;
  std::vector<GraphNode*> nodes;
};
std::unordered_map<CUevent, CapturedRecord> g_captured_events;  // guarded by graph_lock()

// The active capture an event was last recorded into, or null.
Capture* capture_of_event(CUevent event, const CapturedRecord** record) {
  auto it = g_captured_events.find(event);
  if (it == g_captured_events.end()) return nullptr;
  *record = &it->second;
  return active_capture(it->second.capture_id);
}

void add_unique(std::vector<GraphNode*>* set, const std::vector<GraphNode*>& more) {
  for (GraphNode* n : more)
    if (std::find(set->begin(), set->end(), n) == set->end()) set->push_back(n);
}

}  // namespace

void forget_captured_events(uint64_t capture_id) {
  for (auto it = g_captured_events.begin(); it != g_captured_events.end();) {
    if (it->second.capture_id == capture_id) it = g_captured_events.erase(it);
    else ++it;
  }
}

// cuEventRecord on `stream`: while it captures, the event remembers the
// stream's dependency set instead of being queued (*handled = true).
CUresult capture_event_record(Stream* stream, CUevent event, bool* handled) {
  *handled = false;
  if (!captures_active()) return CUDA_SUCCESS;
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
  if (!captures_active()) return CUDA_SUCCESS;
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
  if (!captures_active()) return CUDA_SUCCESS;
  std::lock_guard<std::mutex> lock(graph_lock());
  const CapturedRecord* record = nullptr;
  Capture* c = capture_of_event(event, &record);
  if (c == nullptr) return CUDA_SUCCESS;
  c->invalidated = true;
  return CUDA_ERROR_CAPTURED_EVENT;
}

}  // namespace gpupool::sim
