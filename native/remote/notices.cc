// notices.cc — the Connection's unsolicited messages (connection.h): the
// worker's HostFuncReady notices, read by whoever holds the receive side, and
// the client's HostFuncDone answers, sent past any call in progress.
#include <poll.h>
#include <unistd.h>

#include <cstring>

#include "connection.h"
#include "host_func.h"

namespace gpupool::remote {
namespace {

constexpr size_t kDrainBytes = 64 << 10;  // a TLS record is at most 16 KiB

}  // namespace

bool Connection::read_reply_message(wire::ServerMessage* m) {
  for (;;) {
    if (!read_server_message(m)) return false;
    if (m->kind != wire::ServerMessage::kHostFuncReady) return true;
    host_func_ready(m->host_func_id, static_cast<CUresult>(m->host_func_result));
  }
}

bool Connection::buffered_frame(const char** frame, size_t* size) {
  const uint8_t* base = reinterpret_cast<const uint8_t*>(inbuf_.data());
  const uint8_t* q = base + inpos_;
  const uint8_t* end = base + inend_;
  uint64_t len = 0;
  if (!wire::read_varint(&q, end, &len) || len > wire::kMaxFrameBytes) return false;
  if (static_cast<uint64_t>(end - q) < len) return false;
  *frame = reinterpret_cast<const char*>(q);
  *size = static_cast<size_t>(len);
  inpos_ = static_cast<size_t>((q + len) - base);
  if (inpos_ == inend_) inpos_ = inend_ = 0;
  return true;
}

void Connection::drain_buffered_locked() {
  // No call is waiting for anything now: a whole frame still buffered can only
  // be a notice (or the worker's Refused). What the stream holds (the rest of
  // a TLS record) comes into the buffer first: the host-function thread polls
  // the socket, which does not show it.
  while (!broken_ && stream_->has_buffered())
    if (!fill(kDrainBytes)) broken_locked("connection closed");
  const char* frame = nullptr;
  size_t size = 0;
  while (!broken_ && buffered_frame(&frame, &size)) {
    wire::ServerMessage m;
    if (!wire::decode_server_message(frame, size, &m)) {
      broken_locked("malformed frame");
    } else if (m.kind == wire::ServerMessage::kHostFuncReady) {
      host_func_ready(m.host_func_id, static_cast<CUresult>(m.host_func_result));
    } else if (m.kind == wire::ServerMessage::kRefused) {
      broken_locked(m.message.c_str());
    } else {
      broken_locked("a message no call asked for");
    }
  }
}

bool Connection::pump_notices(int wake_fd) {
  // Ask first, then try: a call that holds the lock sees the request when it
  // releases it (both are sequentially consistent).
  reader_wake_fd_.store(wake_fd);
  std::unique_lock<std::mutex> lock(call_mutex_, std::try_to_lock);
  if (!lock.owns_lock()) return false;
  reader_wake_fd_.store(-1);
  for (;;) {
    drain_buffered_locked();
    if (broken_) return true;
    // Only what has arrived: a partial frame's rest is on its way, so reading
    // it may wait; an empty socket returns.
    pollfd p{stream_->fd(), POLLIN, 0};
    bool partial = inend_ > inpos_ || stream_->has_buffered();
    if (!partial && ::poll(&p, 1, 0) <= 0) return true;
    wire::ServerMessage m;
    if (!read_server_message(&m)) {
      broken_locked("connection closed");
      return true;
    }
    if (m.kind == wire::ServerMessage::kHostFuncReady) {
      host_func_ready(m.host_func_id, static_cast<CUresult>(m.host_func_result));
    } else if (m.kind == wire::ServerMessage::kRefused) {
      broken_locked(m.message.c_str());
      return true;
    } else {
      broken_locked("a message no call asked for");
      return true;
    }
  }
}

void Connection::wake_reader() {
  int fd = reader_wake_fd_.exchange(-1);
  if (fd < 0) return;
  uint64_t one = 1;
  [[maybe_unused]] ssize_t n = ::write(fd, &one, sizeof one);
}

CUresult Connection::send_host_func_done(uint64_t id) {
  std::lock_guard<std::mutex> lock(send_mutex_);
  if (broken_) return CUDA_ERROR_DEVICE_UNAVAILABLE;
  // A frame of its own between batches: the pending batch stays pending.
  return send_frame(wire::encode_host_func_done(id)) ? CUDA_SUCCESS : broken_locked("send failed");
}

}  // namespace gpupool::remote
