// connection.cc — the Connection's call transport (connection.h): the
// outgoing batch of pipelined calls, its flushing, and synchronous calls with
// their replies. The handshake is handshake.cc, the receive buffer receive.cc,
// the bytes' transport byte_stream.h.
#include "connection.h"

#include <sys/uio.h>

#include <cstring>

#include "remote.h"
#include "session_env.h"

namespace gpupool::remote {
namespace {

// Flush the pending batch once it is this large (a frame is at most 4 MiB and
// one HtoD chunk 1 MiB plus a few bytes).
constexpr size_t kFlushBytes = 2 * wire::kMaxChunkBytes;
// post_data copies up to this many bytes into the batch (a few small copies
// then share one frame); larger ones are sent from the caller's memory.
constexpr size_t kInlineDataBytes = 64 << 10;

}  // namespace

bool Connection::send_frame(const std::string& message) {
  std::string head;
  wire::append_varint(&head, message.size());
  iovec iov[2] = {{head.data(), head.size()}, {const_cast<char*>(message.data()), message.size()}};
  return stream_->send_all(iov, 2);
}

CUresult Connection::broken_locked(const char* why) {
  if (!broken_.exchange(true)) log_error("connection to the worker lost: %s", why);
  note_result(CUDA_ERROR_DEVICE_UNAVAILABLE);
  return CUDA_ERROR_DEVICE_UNAVAILABLE;
}

bool Connection::flush_locked() {
  if (batch_.size() == kHeadroom && externals_.empty()) return true;
  // ClientMessage{calls = 3: CallBatch{calls = 1: Call...}}, framed: the head
  // goes into the headroom, right before the calls.
  size_t calls = batch_bytes();
  size_t inner = 1 + wire::varint_size(calls) + calls;
  std::string head;
  wire::append_varint(&head, inner);
  head.push_back(static_cast<char>((3 << 3) | wire::kLen));
  wire::append_varint(&head, calls);
  size_t start = kHeadroom - head.size();
  std::memcpy(&batch_[start], head.data(), head.size());
  iovec stack_iov[9];
  std::vector<iovec> heap_iov;
  iovec* iov = stack_iov;
  if (2 * externals_.size() + 1 > 9) {
    heap_iov.resize(2 * externals_.size() + 1);
    iov = heap_iov.data();
  }
  int count = 0;
  size_t at = start;
  for (const External& e : externals_) {
    if (e.at > at) iov[count++] = {&batch_[at], e.at - at};
    iov[count++] = {const_cast<char*>(e.data), e.size};
    at = e.at;
  }
  if (batch_.size() > at) iov[count++] = {&batch_[at], batch_.size() - at};
  bool ok = stream_->send_all(iov, count);
  batch_.resize(kHeadroom);
  batch_calls_ = 0;
  externals_.clear();
  external_bytes_ = 0;
  return ok;
}

bool Connection::reserve_locked(size_t call_bytes) {
  // Flush first when this call would take the batch past the threshold.
  return batch_bytes() + call_bytes + 16 <= kFlushBytes || flush_locked();
}

void Connection::append_call_locked(uint64_t seq, wire::CallOp op, size_t call_bytes, const char* body,
                                    size_t size) {
  // CallBatch.calls's tag and length, then Call{seq, op = body}: the head assembled here and
  // appended at once (one append per varint cost more than encoding a launch).
  char head[1 + 10 + 1 + 10 + 10 + 10];
  char* p = head;
  *p++ = static_cast<char>((1 << 3) | wire::kLen);
  p = wire::put_varint(p, call_bytes);
  if (seq != 0) {
    *p++ = static_cast<char>((1 << 3) | wire::kVarint);
    p = wire::put_varint(p, seq);
  }
  p = wire::put_varint(p, (uint64_t{op} << 3) | wire::kLen);
  p = wire::put_varint(p, size);
  batch_.append(head, static_cast<size_t>(p - head));
  batch_.append(body, size);
  ++batch_calls_;
}

CUresult Connection::flush_data() {
  std::lock_guard<std::mutex> lock(send_mutex_);
  if (broken_) return CUDA_ERROR_DEVICE_UNAVAILABLE;
  if (externals_.empty()) return CUDA_SUCCESS;
  return flush_locked() ? CUDA_SUCCESS : broken_locked("send failed");
}

CUresult Connection::flush() {
  std::lock_guard<std::mutex> lock(send_mutex_);
  if (broken_) return CUDA_ERROR_DEVICE_UNAVAILABLE;
  return flush_locked() ? CUDA_SUCCESS : broken_locked("send failed");
}

CUresult Connection::post(wire::CallOp op, const char* body, size_t size) {
  std::lock_guard<std::mutex> lock(send_mutex_);
  if (broken_) return CUDA_ERROR_DEVICE_UNAVAILABLE;
  uint64_t seq = next_seq_++;
  size_t call_bytes = wire::call_size(seq, op, size);
  if (!reserve_locked(call_bytes)) return broken_locked("send failed");
  append_call_locked(seq, op, call_bytes, body, size);
  if ((batch_bytes() >= kFlushBytes || batch_calls_ >= kFlushCalls) && !flush_locked())
    return broken_locked("send failed");
  return CUDA_SUCCESS;
}

CUresult Connection::post_data(wire::CallOp op, const wire::Writer& head, uint32_t field,
                               const void* data, size_t size, const wire::Writer& tail) {
  std::lock_guard<std::mutex> lock(send_mutex_);
  if (broken_) return CUDA_ERROR_DEVICE_UNAVAILABLE;
  uint64_t seq = next_seq_++;
  uint64_t field_tag = (uint64_t{field} << 3) | wire::kLen;
  size_t body = head.size() + tail.size();
  if (size > 0) body += wire::varint_size(field_tag) + wire::varint_size(size) + size;
  size_t call_bytes = wire::call_size(seq, op, body);
  if (!reserve_locked(call_bytes)) return broken_locked("send failed");
  batch_.push_back(static_cast<char>((1 << 3) | wire::kLen));
  wire::append_varint(&batch_, call_bytes);
  wire::append_call_head(&batch_, seq, op, body);
  batch_.append(head.data());
  if (size > 0) {
    wire::append_varint(&batch_, field_tag);
    wire::append_varint(&batch_, size);
    if (size <= kInlineDataBytes) {
      batch_.append(static_cast<const char*>(data), size);
    } else {
      externals_.push_back({batch_.size(), static_cast<const char*>(data), size});
      external_bytes_ += size;
    }
  }
  batch_.append(tail.data());
  ++batch_calls_;
  if ((batch_bytes() >= kFlushBytes || batch_calls_ >= kFlushCalls) && !flush_locked())
    return broken_locked("send failed");
  return CUDA_SUCCESS;
}

CUresult Connection::call(wire::CallOp op, const wire::Writer& body, wire::Reply* reply,
                          const std::function<bool(const wire::Reply&)>& on_data) {
  CUresult r;
  {
    std::lock_guard<std::mutex> lock(call_mutex_);
    r = call_locked(op, body, reply, on_data, nullptr);
  }
  wake_reader();
  return r;
}

CUresult Connection::call_into(wire::CallOp op, const wire::Writer& body, wire::Reply* reply, void* dst,
                               size_t size) {
  struct WakeReader {  // after the lock is released
    Connection* c;
    ~WakeReader() { c->wake_reader(); }
  } wake{this};
  std::lock_guard<std::mutex> lock(call_mutex_);
  Sink sink{static_cast<char*>(dst), size, 0, true};
  // Chunks that come the ordinary way (small ones, or out of order) are copied
  // from the receive buffer.
  auto on_data = [&sink](const wire::Reply& r) {
    if (r.offset > sink.size || r.data_size > sink.size - r.offset) return false;
    std::memcpy(sink.dst + r.offset, r.data, r.data_size);
    if (r.offset == sink.expected) sink.expected += r.data_size;
    else sink.in_order = false;
    return true;
  };
  return call_locked(op, body, reply, on_data, &sink);
}

CUresult Connection::call_locked(wire::CallOp op, const wire::Writer& body, wire::Reply* reply,
                                 const std::function<bool(const wire::Reply&)>& on_data, Sink* sink) {
  if (broken_) return CUDA_ERROR_DEVICE_UNAVAILABLE;
  uint64_t seq;
  {
    std::lock_guard<std::mutex> send(send_mutex_);
    seq = next_seq_++;
    size_t call_bytes = wire::call_size(seq, op, body.size());
    if (!reserve_locked(call_bytes)) return broken_locked("send failed");
    append_call_locked(seq, op, call_bytes, body.data().data(), body.size());
    if (!flush_locked()) return broken_locked("send failed");
  }
  reply_wait_ = current_wait_mode();
  CUresult result = await_reply_locked(seq, reply, on_data, sink);
  reply_wait_ = WaitMode::kBlock;
  drain_buffered_locked();  // notices behind the reply go to the host-function thread now
  return result;
}

CUresult Connection::await_reply_locked(uint64_t seq, wire::Reply* reply,
                                        const std::function<bool(const wire::Reply&)>& on_data, Sink* sink) {
  wire::ServerMessage& m = message_;
  for (;;) {
    if (sink != nullptr) {
      wire::Reply chunk;
      int placed = read_chunk_into(seq, sink, &chunk);
      if (placed < 0) return broken_locked("no reply");
      if (placed > 0) {
        if (!chunk.last) continue;
        *reply = std::move(chunk);
        return CUDA_SUCCESS;
      }
    }
    if (!read_reply_message(&m)) return broken_locked("no reply");
    if (m.kind == wire::ServerMessage::kRefused) return broken_locked(m.message.c_str());
    if (m.kind != wire::ServerMessage::kReplies) return broken_locked("unexpected message");
    for (wire::Reply& r : m.replies) {
      if (r.seq != seq && r.deferred_seq == 0) return broken_locked("reply out of order");
      if (r.result != CUDA_SUCCESS) {
        CUresult result = static_cast<CUresult>(r.result);
        note_result(result);
        *reply = std::move(r);
        return result;
      }
      if (r.value == wire::Reply::kData && on_data) {
        if (!on_data(r)) return broken_locked("a data chunk outside the destination");
        if (!r.last) continue;
      }
      *reply = std::move(r);
      return CUDA_SUCCESS;
    }
  }
}

}  // namespace gpupool::remote
