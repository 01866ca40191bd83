// graph.h — CUDA graphs and stream capture, shared by graph.cc (graphs and
// their nodes), graph_nodes.cc (kernel, memset, memcpy nodes), graph_exec.cc
// (instantiate, launch), capture.cc (recording stream work), capture_events.cc
// (events in captures) and capture_api.cc (cuStreamBeginCapture and friends).
//
// Model
//   A node is a unit of device work prepared when it is created: a closure with
//   everything it needs copied in (kernel parameter values, memset values, copy
//   ranges), exactly the closure a stream launch would queue. Nodes are only
//   ever added with dependencies already in the graph, so a graph's insertion
//   order is a valid topological order; instantiation copies the closures in
//   that order into an executable graph, which is independent of its graph from
//   then on (destroying the graph leaves the exec launchable). A launch queues
//   the whole exec as one item of device work on the stream, running its nodes
//   one after another on the device's executor — a legal schedule of the graph.
//
// Handles
//   CUgraph, CUgraphNode and CUgraphExec are pointers to the structs below,
//   checked against their registries like every sim handle; destroyed objects
//   are unregistered but kept, so a stale handle never aliases a new one.
//
// Threading
//   graph_lock() guards every Graph, GraphNode and Capture and the capture
//   fields of Stream. A GraphExec is immutable once created.
#pragma once

#include <functional>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "sim.h"

namespace gpupool::sim {

struct Graph;

struct GraphNode {
  Graph* graph = nullptr;
  CUgraphNodeType type = CU_GRAPH_NODE_TYPE_EMPTY;
  std::vector<GraphNode*> deps;
  std::function<CUresult()> work;  // empty for empty nodes
  Device* device = nullptr;        // where the work must run; null: anywhere (empty, host)
};

struct Graph {
  std::vector<GraphNode*> nodes;    // insertion order: dependencies first
  struct Capture* capture = nullptr;  // being captured into: not instantiable, not destroyable
};

struct GraphExec {
  // Node work in a topological order; shared with launches still in flight.
  std::shared_ptr<const std::vector<std::function<CUresult()>>> steps;
  Device* device = nullptr;  // the device the graph runs on
  unsigned long long flags = 0;
};

// A stream capture sequence: begun on `origin`, joined by other streams
// through captured events, ended on `origin`.
struct Capture {
  uint64_t id = 0;  // unique over the process (cuStreamGetCaptureInfo)
  Graph* graph = nullptr;
  CUstreamCaptureMode mode = CU_STREAM_CAPTURE_MODE_GLOBAL;
  Stream* origin = nullptr;
  std::thread::id owner;  // the thread that began it
  bool invalidated = false;
  bool owns_graph = true;        // false for cuStreamBeginCaptureToGraph: the caller's graph
  std::vector<Stream*> streams;  // origin first, then the streams that joined
};

std::mutex& graph_lock();

extern HandleRegistry<Graph> g_graphs;
extern HandleRegistry<GraphNode> g_graph_nodes;
extern HandleRegistry<GraphExec> g_graph_execs;

// ---- graphs (graph.cc); callers hold graph_lock() -------------------------------

// INVALID_VALUE unless `handle` is a live graph.
CUresult check_graph(CUgraph handle, Graph** out);
// INVALID_VALUE unless `deps` are `count` distinct live nodes of `graph`
// (`deps` may be null only when count is 0).
CUresult check_dependencies(const Graph* graph, const CUgraphNode* deps, size_t count);
// Adds a node (dependencies already checked) and registers it.
GraphNode* add_node(Graph* graph, CUgraphNodeType type, std::vector<GraphNode*> deps,
                    std::function<CUresult()> work, Device* device);
// Creates and registers an empty graph.
Graph* new_graph();
// Unregisters `graph` and its nodes (the objects are kept).
void retire_graph(Graph* graph);
// The explicit-construction entry points share this tail: validate the graph
// and dependencies, add the node, hand out its handle.
CUresult add_node_checked(CUgraphNode* out, CUgraph hGraph, const CUgraphNode* deps, size_t count,
                          CUgraphNodeType type, std::function<CUresult()> work, Device* device);

// ---- stream capture (capture.cc); callers hold graph_lock() ---------------------

// Begins a capture on `stream` into `graph` (which becomes owned by it).
Capture* begin_capture(Stream* stream, Graph* graph, CUstreamCaptureMode mode, std::vector<GraphNode*> deps);
// Ends `capture`: every stream leaves it and it is forgotten. Returns the
// origin's dependency set at the end and every other stream's set.
void end_capture(Capture* capture, std::vector<GraphNode*>* origin_deps,
                 std::vector<std::vector<GraphNode*>>* other_deps);
// Some capture is active (a lock-free hint; recheck under the lock).
bool captures_active();
// The active capture with `id`, or null once it has ended.
Capture* active_capture(uint64_t id);
// capture_events.cc: drops what events remember of an ended capture.
void forget_captured_events(uint64_t capture_id);
// The legacy stream `stream` is unusable: a blocking stream of its context
// captures. With `invalidate`, those captures are invalidated.
bool legacy_blocked(const Stream* stream, bool invalidate);

// ---- stream capture and events (capture.cc, capture_events.cc); callers hold no lock ----------------

// cuEventRecord on a capturing stream: the event remembers the stream's
// dependency set and nothing is queued (*handled = true).
CUresult capture_event_record(Stream* stream, CUevent event, bool* handled);
// cuStreamWaitEvent: a fork or join within one capture, or the error for a
// wait across a capture's boundary (*handled = true); otherwise not handled.
CUresult capture_stream_wait_event(Stream* stream, CUevent event, unsigned flags, bool* handled);
// cuEventQuery/Synchronize: CAPTURED_EVENT for an event last recorded in an
// active capture (which is invalidated).
CUresult capture_check_event(CUevent event);
// A context being torn down: the captures its streams take part in end, and
// the graphs they created are destroyed.
void captures_release_context(Context* ctx);
// Work submitted directly (not through enqueue_work) to the legacy stream
// while a blocking stream of its context captures: IMPLICIT, and those
// captures are invalidated.
CUresult capture_check_legacy(Stream* stream);
// Sets the calling thread's capture interaction mode; returns the previous one.
CUstreamCaptureMode exchange_thread_capture_mode(CUstreamCaptureMode mode);

// ---- work shared with stream launches -------------------------------------------

// launch.cc: validates a launch of `f` in `ctx` as cuLaunchKernel does and
// returns the work that runs it, with the parameter values copied now.
CUresult prepare_kernel(Context* ctx, CUfunction f, const unsigned grid[3], const unsigned block[3],
                        unsigned shared_bytes, void** kernel_params, void** extra,
                        std::function<CUresult()>* work);
// memset.cc: validates a (2D) memset of `element_size`-byte elements in `ctx`
// as cuMemsetD2D* does and returns its work.
CUresult prepare_memset(Context* ctx, CUdeviceptr dst, size_t pitch, unsigned value, unsigned element_size,
                        size_t width, size_t height, std::function<CUresult()>* work);

}  // namespace gpupool::sim
