// connection.h — the process's one session with a remote GPU worker.
//
// Contract
//   Connection::open() runs the handshake of proto/gpupool/v1/remote.proto
//   from the environment (handshake.cc):
//     GPUPOOL_REMOTE=host:port + GPUPOOL_TOKEN    through the agent: Hello,
//         Queued* (waits), Redirect -> connect to the worker, Attach, Welcome;
//     GPUPOOL_REMOTE_WORKER=host:port + GPUPOOL_REMOTE_SECRET=<64 hex>
//         straight to a worker: Attach, Welcome.
//   An address gpupools://host[:port] means TLS to the agent and to its
//   worker, both certificates verified against `host` and the certificates of
//   GPUPOOL_REMOTE_TRUST=<PEM file> (default: the system's trust store);
//   gpupool://host[:port] and host:port are plain TCP (tls_stream.h).
//   GPUPOOL_REMOTE_MEMORY (e.g. 4GiB) is the memory asked for in Hello,
//   GPUPOOL_JOB_NAME (else the program's name) its name, GPUPOOL_TEAM its team.
//   Afterwards:
//     post()  appends a pipelined Call to the outgoing CallBatch; the batch is
//             sent when the next synchronous call is made, when it holds
//             kFlushCalls calls (so the worker starts on a long stream of
//             launches while more are posted) or when it grows past half a
//             frame. Its failure comes back later, as the
//             deferred error of some synchronous call.
//     post_data()  post() of a call whose body is `head`, a bytes field
//             `field` holding [data, data + size), then `tail`. Large data is
//             not copied but sent straight from `data`, which must therefore
//             stay valid until the next flush_data() or call() (MemcpyHtoD
//             chunks go this way); small data is copied into the batch.
//     flush_data()  sends the batch if it still refers to post_data's bytes.
//     call()  sends the batch with a synchronous Call appended and waits for
//             its Reply (DtoH: every chunk, each handed to `on_data`). The
//             result is the call's, or the earlier pipelined call's error.
//     flush() sends the batch now (a host function's gate must reach the
//             worker even if the program makes no further call).
//   Host functions (remote.proto, LaunchHostFunc): HostFuncReady notices can
//   arrive between any frames. Whoever reads the socket hands each to
//   host_func_ready() (host_func.h) and reads on: a caller in call(), or,
//   when no call is in progress, the host-function thread through
//   pump_notices(). send_host_func_done() sends the answer as a frame of its
//   own, without waiting for a call in progress (that call may be waiting
//   for the very host function).
//   A synchronous call waits for its reply as the driver waits for the GPU
//   under the current context's CU_CTX_SCHED_* flag (wait_policy.h): spinning
//   or yielding on the socket for at most GPUPOOL_REMOTE_SPIN_US, then
//   blocking; the handshake and the host-function thread always block.
//   A broken connection (peer gone, malformed frame) is permanent: every later
//   call returns CUDA_ERROR_DEVICE_UNAVAILABLE (a message goes to stderr).
//
// Threading
//   Thread-safe. Two locks, always taken in this order: call_mutex_ serialises
//   synchronous calls and owns the receive side (a call holds it until its
//   reply, so replies need no demultiplexing); send_mutex_ owns the batch and
//   the send side (seq numbers are assigned and sent in order under it). A
//   post() from another thread therefore does not wait for a call in
//   progress. One connection per process, never closed before exit (the
//   worker frees everything when the socket closes).
//
// Ownership
//   Reply::data handed to on_data points into the connection's receive buffer
//   and is valid only during that callback.
#pragma once

#include <cuda.h>

#include <atomic>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "byte_stream.h"
#include "wait_policy.h"
#include "wire.h"

namespace gpupool::remote {

struct Endpoint;

class Connection {
 public:
  // Connects and attaches as the environment says; *out lives until exit.
  static CUresult open(Connection** out);

  const wire::Welcome& welcome() const { return welcome_; }

  CUresult post(wire::CallOp op, const wire::Writer& body) { return post(op, body.data().data(), body.size()); }
  CUresult post(wire::CallOp op, const char* body, size_t size);
  CUresult post_data(wire::CallOp op, const wire::Writer& head, uint32_t field, const void* data,
                     size_t size, const wire::Writer& tail);
  CUresult flush_data();
  CUresult flush();
  CUresult call(wire::CallOp op, const wire::Writer& body, wire::Reply* reply,
                const std::function<bool(const wire::Reply&)>& on_data = nullptr);
  // call() of a MemcpyDtoH whose chunks go to [dst, dst + size) at their
  // offsets: a large chunk arriving in order is received from the socket
  // straight into dst (no copy through the receive buffer).
  CUresult call_into(wire::CallOp op, const wire::Writer& body, wire::Reply* reply, void* dst, size_t size);

  // Sends ClientMessage{host_func_done{id}} now.
  CUresult send_host_func_done(uint64_t id);
  // Reads and dispatches the HostFuncReady notices that have arrived and
  // returns without waiting for more. False if a call holds the receive side
  // (it dispatches them itself): `wake_fd` is then written once that call
  // ended, so the caller of pump_notices can wait on it.
  bool pump_notices(int wake_fd);
  // The socket, for poll(): readable when something arrived (pump_notices
  // has read what the stream had buffered before it returned true).
  int fd() const { return stream_->fd(); }
  bool broken() const { return broken_; }

  // A batch is sent once it holds this many calls. Small enough that the worker starts on a
  // stream of launches while the program is still posting more (with 256, a program that
  // synchronises every 256 launches had the worker wait for all of them, then itself wait for
  // the worker), large enough that a send costs little per call.
  static constexpr size_t kFlushCalls = 64;

 private:
  Connection() = default;
  struct Dialer;  // handshake.cc
  CUresult open_worker(Dialer& dialer, const Endpoint& at);
  CUresult open_agent(Dialer& dialer, const Endpoint& at);
  CUresult attach(const std::string& secret);
  // Bytes already in batch_ ahead of its calls: room for the frame's length,
  // ClientMessage.calls's tag and the CallBatch's length, written at flush.
  static constexpr size_t kHeadroom = 16;
  struct External {  // post_data's bytes, to be sent after batch_[0, at)
    size_t at;
    const char* data;
    size_t size;
  };

  struct Sink {  // call_into's destination
    char* dst;
    size_t size;
    size_t expected;  // where the next in-order chunk goes
    bool in_order;
  };

  CUresult call_locked(wire::CallOp op, const wire::Writer& body, wire::Reply* reply,
                       const std::function<bool(const wire::Reply&)>& on_data, Sink* sink);
  CUresult await_reply_locked(uint64_t seq, wire::Reply* reply,
                              const std::function<bool(const wire::Reply&)>& on_data, Sink* sink);
  bool fill(size_t max_bytes);
  // Before a recv: spins or yields as reply_wait_ says while nothing is buffered.
  void await_bytes();
  int read_chunk_into(uint64_t seq, Sink* sink, wire::Reply* reply);
  bool send_frame(const std::string& message);
  bool read_frame(const char** frame, size_t* size);
  bool read_server_message(wire::ServerMessage* m);
  // A whole frame already buffered (no recv), or false.
  bool buffered_frame(const char** frame, size_t* size);
  // Reads frames until one that is not a HostFuncReady notice; notices are dispatched.
  bool read_reply_message(wire::ServerMessage* m);
  // Dispatches the notices among the frames already buffered.
  void drain_buffered_locked();
  // Writes the wake fd pump_notices() asked for, if it asked.
  void wake_reader();
  size_t batch_bytes() const { return batch_.size() - kHeadroom + external_bytes_; }
  bool reserve_locked(size_t call_bytes);
  void append_call_locked(uint64_t seq, wire::CallOp op, size_t call_bytes, const char* body, size_t size);
  bool flush_locked();
  CUresult broken_locked(const char* why);

  std::mutex call_mutex_;
  std::mutex send_mutex_;
  std::unique_ptr<ByteStream> stream_;  // set by open(), never replaced afterwards
  std::atomic<bool> broken_{false};
  std::atomic<int> reader_wake_fd_{-1};  // set by a pump_notices() that found a call reading
  uint64_t next_seq_ = 1;
  std::string batch_ = std::string(kHeadroom, '\0');  // headroom + CallBatch.calls fields, not yet sent
  std::vector<External> externals_;
  size_t external_bytes_ = 0;
  size_t batch_calls_ = 0;
  std::vector<char> inbuf_;  // bytes received: [inpos_, inend_) not yet consumed
  size_t inpos_ = 0, inend_ = 0;
  wire::ServerMessage message_;  // reused by call()
  WaitMode reply_wait_ = WaitMode::kBlock;  // during a call: its thread's; guarded by call_mutex_
  std::chrono::microseconds spin_limit_ = kDefaultSpinMicros;  // GPUPOOL_REMOTE_SPIN_US
  wire::Welcome welcome_;
};

}  // namespace gpupool::remote
