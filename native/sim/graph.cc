// graph.cc — graphs and their nodes: cuGraphCreate, cuGraphDestroy,
// cuGraphGetNodes, cuGraphGetRootNodes, cuGraphNodeGetType,
// cuGraphNodeGetDependencies, and the nodes that need no device work
// (cuGraphAddEmptyNode, cuGraphAddHostNode). Kernel, memset and memcpy nodes
// are in graph_nodes.cc; see graph.h for the model.
//
// The reference lists CUDA_ERROR_INVALID_VALUE for every bad argument of these
// calls, a null or unknown graph or node handle included.
#include <algorithm>

#include "graph.h"

namespace gpupool::sim {

HandleRegistry<Graph> g_graphs;
HandleRegistry<GraphNode> g_graph_nodes;
HandleRegistry<GraphExec> g_graph_execs;

CUresult check_graph(CUgraph handle, Graph** out) {
  if (!g_graphs.contains(handle)) return CUDA_ERROR_INVALID_VALUE;
  *out = reinterpret_cast<Graph*>(handle);
  return CUDA_SUCCESS;
}

CUresult check_dependencies(const Graph* graph, const CUgraphNode* deps, size_t count) {
  if (count == 0) return CUDA_SUCCESS;
  if (deps == nullptr) return CUDA_ERROR_INVALID_VALUE;
  for (size_t i = 0; i < count; ++i) {
    if (!g_graph_nodes.contains(deps[i])) return CUDA_ERROR_INVALID_VALUE;
    if (reinterpret_cast<GraphNode*>(deps[i])->graph != graph) return CUDA_ERROR_INVALID_VALUE;
    // "dependencies may not have any duplicate entries"
    if (std::find(deps, deps + i, deps[i]) != deps + i) return CUDA_ERROR_INVALID_VALUE;
  }
  return CUDA_SUCCESS;
}

GraphNode* add_node(Graph* graph, CUgraphNodeType type, std::vector<GraphNode*> deps, std::function<CUresult()> work,
                    Device* device) {
  auto* n = new GraphNode;
  n->graph = graph;
  n->type = type;
  n->deps = std::move(deps);
  n->work = std::move(work);
  n->device = device;
  graph->nodes.push_back(n);
  g_graph_nodes.add(n);
  return n;
}

Graph* new_graph() {
  auto* g = new Graph;
  g_graphs.add(g);
  return g;
}

void retire_graph(Graph* graph) {
  for (GraphNode* n : graph->nodes) g_graph_nodes.remove(n);
  g_graphs.remove(graph);
}

CUresult add_node_checked(CUgraphNode* out, CUgraph hGraph, const CUgraphNode* deps, size_t count,
                          CUgraphNodeType type, std::function<CUresult()> work, Device* device) {
  if (out == nullptr) return CUDA_ERROR_INVALID_VALUE;
  std::lock_guard<std::mutex> lock(graph_lock());
  Graph* g = nullptr;
  if (CUresult r = check_graph(hGraph, &g); r != CUDA_SUCCESS) return r;
  if (CUresult r = check_dependencies(g, deps, count); r != CUDA_SUCCESS) return r;
  std::vector<GraphNode*> list;
  for (size_t i = 0; i < count; ++i) list.push_back(reinterpret_cast<GraphNode*>(deps[i]));
  *out = reinterpret_cast<CUgraphNode>(add_node(g, type, std::move(list), std::move(work), device));
  return CUDA_SUCCESS;
}

namespace {

// The documented contract of the node-listing calls: with a null array only
// the count; otherwise up to *count entries, the rest of the array NULL, and
// the number actually written back in *count.
CUresult list_nodes(const std::vector<GraphNode*>& found, CUgraphNode* nodes, size_t* count) {
  if (count == nullptr) return CUDA_ERROR_INVALID_VALUE;
  if (nodes == nullptr) {
    *count = found.size();
    return CUDA_SUCCESS;
  }
  size_t n = std::min(*count, found.size());
  for (size_t i = 0; i < *count; ++i) nodes[i] = i < n ? reinterpret_cast<CUgraphNode>(found[i]) : nullptr;
  *count = n;
  return CUDA_SUCCESS;
}

CUresult check_node(CUgraphNode handle, GraphNode** out) {
  if (!g_graph_nodes.contains(handle)) return CUDA_ERROR_INVALID_VALUE;
  *out = reinterpret_cast<GraphNode*>(handle);
  return CUDA_SUCCESS;
}

}  // namespace
}  // namespace gpupool::sim

using namespace gpupool::sim;

SIM_API CUresult cuGraphCreate(CUgraph* phGraph, unsigned int flags) {
  if (CUresult r = require_init(); r != CUDA_SUCCESS) return r;
  if (phGraph == nullptr || flags != 0) return CUDA_ERROR_INVALID_VALUE;
  std::lock_guard<std::mutex> lock(graph_lock());
  *phGraph = reinterpret_cast<CUgraph>(new_graph());
  return CUDA_SUCCESS;
}

SIM_API CUresult cuGraphDestroy(CUgraph hGraph) {
  if (CUresult r = require_init(); r != CUDA_SUCCESS) return r;
  std::lock_guard<std::mutex> lock(graph_lock());
  Graph* g = nullptr;
  if (CUresult r = check_graph(hGraph, &g); r != CUDA_SUCCESS) return r;
  // "All operations other than destroy and node removal are permitted on the
  // graph while the capture sequence is in progress."
  if (g->capture != nullptr) return CUDA_ERROR_ILLEGAL_STATE;
  retire_graph(g);
  return CUDA_SUCCESS;
}

SIM_API CUresult cuGraphGetNodes(CUgraph hGraph, CUgraphNode* nodes, size_t* numNodes) {
  if (CUresult r = require_init(); r != CUDA_SUCCESS) return r;
  std::lock_guard<std::mutex> lock(graph_lock());
  Graph* g = nullptr;
  if (CUresult r = check_graph(hGraph, &g); r != CUDA_SUCCESS) return r;
  return list_nodes(g->nodes, nodes, numNodes);
}

SIM_API CUresult cuGraphGetRootNodes(CUgraph hGraph, CUgraphNode* rootNodes, size_t* numRootNodes) {
  if (CUresult r = require_init(); r != CUDA_SUCCESS) return r;
  std::lock_guard<std::mutex> lock(graph_lock());
  Graph* g = nullptr;
  if (CUresult r = check_graph(hGraph, &g); r != CUDA_SUCCESS) return r;
  std::vector<GraphNode*> roots;
  for (GraphNode* n : g->nodes)
    if (n->deps.empty()) roots.push_back(n);
  return list_nodes(roots, rootNodes, numRootNodes);
}

SIM_API CUresult cuGraphNodeGetType(CUgraphNode hNode, CUgraphNodeType* type) {
  if (CUresult r = require_init(); r != CUDA_SUCCESS) return r;
  std::lock_guard<std::mutex> lock(graph_lock());
  GraphNode* n = nullptr;
  if (CUresult r = check_node(hNode, &n); r != CUDA_SUCCESS) return r;
  if (type == nullptr) return CUDA_ERROR_INVALID_VALUE;
  *type = n->type;
  return CUDA_SUCCESS;
}

static CUresult node_dependencies(CUgraphNode hNode, CUgraphNode* deps, CUgraphEdgeData* edges, size_t* count) {
  if (CUresult r = require_init(); r != CUDA_SUCCESS) return r;
  std::lock_guard<std::mutex> lock(graph_lock());
  GraphNode* n = nullptr;
  if (CUresult r = check_node(hNode, &n); r != CUDA_SUCCESS) return r;
  if (edges != nullptr && deps == nullptr) return CUDA_ERROR_INVALID_VALUE;
  if (edges != nullptr && count != nullptr) {
    for (size_t i = 0; i < *count; ++i) edges[i] = CUgraphEdgeData{};  // no edge carries data here
  }
  return list_nodes(n->deps, deps, count);
}
SIM_API CUresult cuGraphNodeGetDependencies(CUgraphNode hNode, CUgraphNode* deps, size_t* count) {
  return node_dependencies(hNode, deps, nullptr, count);
}
SIM_API CUresult cuGraphNodeGetDependencies_v2(CUgraphNode hNode, CUgraphNode* deps, CUgraphEdgeData* edges,
                                               size_t* count) {
  return node_dependencies(hNode, deps, edges, count);
}

SIM_API CUresult cuGraphAddEmptyNode(CUgraphNode* phGraphNode, CUgraph hGraph, const CUgraphNode* dependencies,
                                     size_t numDependencies) {
  if (CUresult r = require_init(); r != CUDA_SUCCESS) return r;
  return add_node_checked(phGraphNode, hGraph, dependencies, numDependencies, CU_GRAPH_NODE_TYPE_EMPTY, nullptr,
                          nullptr);
}

// Host nodes run on the executor thread, like cuLaunchHostFunc; they must not
// call CUDA.
SIM_API CUresult cuGraphAddHostNode(CUgraphNode* phGraphNode, CUgraph hGraph, const CUgraphNode* dependencies,
                                    size_t numDependencies, const CUDA_HOST_NODE_PARAMS* nodeParams) {
  if (CUresult r = require_init(); r != CUDA_SUCCESS) return r;
  if (nodeParams == nullptr || nodeParams->fn == nullptr) return CUDA_ERROR_INVALID_VALUE;
  CUhostFn fn = nodeParams->fn;
  void* data = nodeParams->userData;
  auto work = [fn, data] {
    fn(data);
    return CUDA_SUCCESS;
  };
  return add_node_checked(phGraphNode, hGraph, dependencies, numDependencies, CU_GRAPH_NODE_TYPE_HOST, work,
                          nullptr);
}
