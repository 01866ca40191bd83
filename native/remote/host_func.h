// host_func.h — cuLaunchHostFunc for the forwarding driver.
//
// Contract
//   The program's host function runs here, on the library's host-function
//   thread (never in the caller), after the stream's earlier work is done on
//   the worker and before its later work starts: the worker holds a gate in
//   the stream (remote.proto, LaunchHostFunc) that sends HostFuncReady when
//   reached and waits for HostFuncDone, which this thread sends when the
//   function returned. Functions run one at a time, in the order their
//   streams reach them. Everything else stays pipelined.
//
// Threading
//   launch_host_func() from any thread; host_func_ready() from whichever
//   thread reads the connection (it only queues). The thread is started by
//   the first launch and lives until exit. While gates wait for their
//   notices and no call reads the socket, it reads them itself
//   (Connection::pump_notices), so a program that waits for its host
//   function without calling the driver still sees it run.
#pragma once

#include <cuda.h>

#include <cstdint>

namespace gpupool::remote {

// Queues fn(data) behind the work already posted to `remote_stream` (the
// worker's stream value) and sends the gate at once.
CUresult launch_host_func(uint64_t remote_stream, CUhostFn fn, void* data);

// The worker's HostFuncReady{id, result}: run the function (result 0) or drop
// it (the gate could not be placed; the error also comes as a deferred one).
void host_func_ready(uint64_t id, CUresult result);

}  // namespace gpupool::remote
