// receive.cc — the Connection's receive side (connection.h): frames out of
// the receive buffer, and large DtoH chunks straight into their destination.
// Runs under call_mutex_ only.
#include <sys/uio.h>

#include <algorithm>
#include <cstring>

#include "connection.h"

namespace gpupool::remote {

bool Connection::read_frame(const char** frame, size_t* size) {
  // Reads until a whole frame is buffered; frames may be split or coalesced.
  // The frame is decoded where it lies; the buffer grows to the largest frame
  // seen and unconsumed bytes move to its front only when a frame would not
  // fit behind them.
  for (;;) {
    const uint8_t* base = reinterpret_cast<const uint8_t*>(inbuf_.data());
    const uint8_t* p = base + inpos_;
    const uint8_t* end = base + inend_;
    uint64_t len = 0;
    const uint8_t* q = p;
    bool have_len = wire::read_varint(&q, end, &len);
    if (!have_len && end - p >= 5) return false;  // a varint32 is at most 5 bytes
    size_t need = 5;
    if (have_len) {
      if (len > wire::kMaxFrameBytes) return false;
      if (static_cast<uint64_t>(end - q) >= len) {
        *frame = reinterpret_cast<const char*>(q);
        *size = static_cast<size_t>(len);
        inpos_ = static_cast<size_t>((q + len) - base);
        if (inpos_ == inend_) inpos_ = inend_ = 0;  // the next recv starts at the front
        return true;
      }
      need = static_cast<size_t>(q - p) + static_cast<size_t>(len);
    }
    if (inpos_ + need > inbuf_.size()) {
      if (inpos_ > 0) {
        std::memmove(inbuf_.data(), inbuf_.data() + inpos_, inend_ - inpos_);
        inend_ -= inpos_;
        inpos_ = 0;
      }
      if (need > inbuf_.size()) inbuf_.resize(std::max(need, std::max<size_t>(inbuf_.size() * 2, 256 << 10)));
    }
    await_bytes();
    ssize_t n = stream_->recv_some(inbuf_.data() + inend_, inbuf_.size() - inend_);
    if (n <= 0) return false;
    inend_ += static_cast<size_t>(n);
  }
}

void Connection::await_bytes() {
  if (reply_wait_ != WaitMode::kBlock && !stream_->has_buffered())
    await_readable(stream_->fd(), reply_wait_, spin_limit_);
}

bool Connection::read_server_message(wire::ServerMessage* m) {
  m->kind = wire::ServerMessage::kUnknown;
  m->replies.clear();
  const char* frame = nullptr;
  size_t size = 0;
  return read_frame(&frame, &size) && wire::decode_server_message(frame, size, m);
}

bool Connection::fill(size_t max_bytes) {
  // One recv of at most max_bytes behind the buffered bytes.
  if (inpos_ == inend_) inpos_ = inend_ = 0;
  if (inbuf_.size() - inend_ < max_bytes) {
    if (inpos_ > 0) {
      std::memmove(inbuf_.data(), inbuf_.data() + inpos_, inend_ - inpos_);
      inend_ -= inpos_;
      inpos_ = 0;
    }
    if (inbuf_.size() - inend_ < max_bytes) inbuf_.resize(std::max(inend_ + max_bytes, size_t{256} << 10));
  }
  await_bytes();
  ssize_t n = stream_->recv_some(inbuf_.data() + inend_, max_bytes);
  if (n <= 0) return false;
  inend_ += static_cast<size_t>(n);
  return true;
}

int Connection::read_chunk_into(uint64_t seq, Sink* sink, wire::Reply* reply) {
  // The worker sends each large DtoH chunk as a frame of its own:
  // ServerMessage{replies{replies{seq, data, offset, last}}}. Its head is read
  // (small recvs, so the data does not land in the receive buffer), then the
  // data straight into the destination, together with the next few bytes
  // (the trailer, the next frame's head) into the buffer. 1: a chunk was
  // placed, *reply its Reply (data in the destination); 0: the next frame is
  // something else, still unread (read it the ordinary way); -1: connection
  // broken or malformed.
  constexpr size_t kHead = 64;           // more than a chunk frame's head
  constexpr size_t kDirectMin = 64 << 10; // smaller frames are not worth it
  constexpr uint64_t kServerReplies = (4 << 3) | wire::kLen, kBatchReply = (1 << 3) | wire::kLen,
                     kReplyData = (12 << 3) | wire::kLen;
  if (!sink->in_order) return 0;
  const uint8_t* base;
  const uint8_t* q;
  const uint8_t* end;
  uint64_t len = 0;
  for (;;) {
    base = reinterpret_cast<const uint8_t*>(inbuf_.data());
    const uint8_t* p = base + inpos_;
    end = base + inend_;
    q = p;
    if (wire::read_varint(&q, end, &len)) {
      if (len > wire::kMaxFrameBytes) return -1;
      if (len < kDirectMin) return 0;
      if (static_cast<uint64_t>(end - q) >= kHead) break;
    } else if (end - p >= 5) {
      return -1;
    }
    if (!fill(kHead)) return -1;
  }
  const uint8_t* fend = q + len;  // may lie beyond what is buffered
  const uint8_t* b = q;
  uint64_t v = 0;
  auto rest = [&] { return static_cast<uint64_t>(fend - b); };
  if (!wire::read_varint(&b, end, &v) || v != kServerReplies) return 0;
  if (!wire::read_varint(&b, end, &v) || v != rest()) return 0;
  if (!wire::read_varint(&b, end, &v) || v != kBatchReply) return 0;
  if (!wire::read_varint(&b, end, &v) || v != rest()) return 0;
  uint64_t chunk_seq = 0;
  for (;;) {  // the Reply's varint fields before its data
    if (!wire::read_varint(&b, end, &v)) return 0;
    if (v == kReplyData) break;
    uint64_t tag = v;
    if ((tag & 7) != wire::kVarint || !wire::read_varint(&b, end, &v)) return 0;
    if ((tag >> 3) == 1) chunk_seq = v;
    else return 0;  // result, deferred_seq, ...: not a plain chunk
  }
  uint64_t n = 0;
  if (!wire::read_varint(&b, end, &n) || n > rest() || chunk_seq != seq) return 0;
  size_t at = sink->expected;
  if (n > sink->size - at) return 0;
  char* out = sink->dst + at;
  size_t trailer = static_cast<size_t>(rest() - n);
  size_t buffered = std::min<size_t>(static_cast<size_t>(n), static_cast<size_t>(end - b));
  std::memcpy(out, b, buffered);
  size_t left = static_cast<size_t>(n) - buffered;
  if (left == 0) {
    inpos_ = static_cast<size_t>((b + n) - base);
  } else {
    inpos_ = inend_ = 0;
    if (inbuf_.size() < kHead) inbuf_.resize(size_t{256} << 10);
    char* to = out + buffered;
    while (left > 0) {
      iovec iov[2] = {{to, left}, {inbuf_.data(), kHead}};
      await_bytes();
      ssize_t got = stream_->recv_some_iov(iov, 2);
      if (got <= 0) return -1;
      size_t g = static_cast<size_t>(got);
      if (g <= left) {
        left -= g;
        to += g;
      } else {
        inend_ = g - left;
        left = 0;
      }
    }
  }
  while (inend_ - inpos_ < trailer)
    if (!fill(std::max(trailer, kHead))) return -1;
  wire::Reply r;
  r.seq = seq;
  r.value = wire::Reply::kData;
  r.data = reinterpret_cast<const uint8_t*>(out);
  r.data_size = static_cast<size_t>(n);
  if (!wire::decode_reply(reinterpret_cast<const uint8_t*>(inbuf_.data()) + inpos_, trailer, &r) ||
      r.value != wire::Reply::kData || r.result != 0)
    return -1;
  inpos_ += trailer;
  if (inpos_ == inend_) inpos_ = inend_ = 0;
  if (r.offset != at) {  // not where the next chunk goes: move it there
    if (r.offset > sink->size || r.data_size > sink->size - r.offset) return -1;
    std::memmove(sink->dst + r.offset, out, r.data_size);
    r.data = reinterpret_cast<const uint8_t*>(sink->dst + r.offset);
    sink->in_order = false;
  } else {
    sink->expected += r.data_size;
  }
  *reply = r;
  return 1;
}

}  // namespace gpupool::remote
