// connection.cc — see connection.h.
#include "connection.h"

#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <algorithm>
#include <cstring>

#include "remote.h"

namespace gpupool::remote {
namespace {

// Flush the pending batch once it is this large (a frame is at most 4 MiB and
// one HtoD chunk 1 MiB plus a few bytes).
constexpr size_t kFlushBytes = 2 * wire::kMaxChunkBytes;
// post_data copies up to this many bytes into the batch (a few small copies
// then share one frame); larger ones are sent from the caller's memory.
constexpr size_t kInlineDataBytes = 64 << 10;

void log_error(const char* fmt, const char* a = "", const char* b = "") {
  std::fprintf(stderr, "gpupool-remote: ");
  std::fprintf(stderr, fmt, a, b);
  std::fputc('\n', stderr);
}

const char* env(const char* name) {
  const char* v = std::getenv(name);
  return v != nullptr && *v != 0 ? v : nullptr;
}

// "host:port" or "[v6]:port".
bool split_host_port(const std::string& text, std::string* host, std::string* port) {
  size_t colon = text.rfind(':');
  if (colon == std::string::npos || colon + 1 == text.size()) return false;
  *host = text.substr(0, colon);
  *port = text.substr(colon + 1);
  if (host->size() >= 2 && host->front() == '[' && host->back() == ']')
    *host = host->substr(1, host->size() - 2);
  if (host->empty()) *host = "127.0.0.1";
  return true;
}

int connect_to(const std::string& host, const std::string& port) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* list = nullptr;
  if (getaddrinfo(host.c_str(), port.c_str(), &hints, &list) != 0) return -1;
  int fd = -1;
  for (addrinfo* a = list; a != nullptr; a = a->ai_next) {
    fd = socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, a->ai_protocol);
    if (fd < 0) continue;
    if (connect(fd, a->ai_addr, a->ai_addrlen) == 0) break;
    close(fd);
    fd = -1;
  }
  freeaddrinfo(list);
  if (fd >= 0) {
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  }
  return fd;
}

bool parse_hex(const char* text, std::string* out) {
  size_t n = std::strlen(text);
  if (n == 0 || n % 2 != 0) return false;
  out->clear();
  for (size_t i = 0; i < n; i += 2) {
    char pair[3] = {text[i], text[i + 1], 0};
    char* end = nullptr;
    long v = std::strtol(pair, &end, 16);
    if (end != pair + 2) return false;
    out->push_back(static_cast<char>(v));
  }
  return true;
}

// "4GiB", "512MiB", "1.5GB", "4096".
bool parse_size(const char* text, uint64_t* bytes) {
  char* end = nullptr;
  double v = std::strtod(text, &end);
  if (end == text || v < 0) return false;
  std::string unit(end);
  double mult = 1;
  if (unit.empty() || unit == "B") mult = 1;
  else if (unit == "KiB" || unit == "K") mult = 1024.0;
  else if (unit == "MiB" || unit == "M") mult = 1024.0 * 1024;
  else if (unit == "GiB" || unit == "G") mult = 1024.0 * 1024 * 1024;
  else if (unit == "TiB" || unit == "T") mult = 1024.0 * 1024 * 1024 * 1024;
  else if (unit == "KB") mult = 1e3;
  else if (unit == "MB") mult = 1e6;
  else if (unit == "GB") mult = 1e9;
  else if (unit == "TB") mult = 1e12;
  else return false;
  double total = v * mult;
  if (total >= 1.8e19) return false;
  *bytes = static_cast<uint64_t>(total);
  return true;
}

CUresult refused_result(int reason) {
  switch (reason) {
    case 1: return CUDA_ERROR_NOT_PERMITTED;          // BAD_TOKEN
    case 3: return CUDA_ERROR_CALL_REQUIRES_NEWER_DRIVER;   // VERSION
    case 5: return CUDA_ERROR_OUT_OF_MEMORY;          // NEVER_FITS
    case 2: return CUDA_ERROR_INVALID_VALUE;          // BAD_REQUEST
    default: return CUDA_ERROR_DEVICE_UNAVAILABLE;    // NO_CAPACITY, UNAVAILABLE
  }
}

}  // namespace

bool Connection::send_iov(iovec* iov, int count) {
  // One sendmsg per frame (a frame split over several segments costs the
  // worker an extra wakeup with TCP_NODELAY); partial sends resume mid-vector.
  while (count > 0) {
    msghdr msg{};
    msg.msg_iov = iov;
    msg.msg_iovlen = static_cast<size_t>(count);
    ssize_t n = ::sendmsg(fd_, &msg, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    size_t done = static_cast<size_t>(n);
    while (count > 0 && done >= iov->iov_len) {
      done -= iov->iov_len;
      ++iov;
      --count;
    }
    if (count > 0) {
      iov->iov_base = static_cast<char*>(iov->iov_base) + done;
      iov->iov_len -= done;
    }
  }
  return true;
}

bool Connection::send_frame(const std::string& message) {
  std::string head;
  wire::append_varint(&head, message.size());
  iovec iov[2] = {{head.data(), head.size()}, {const_cast<char*>(message.data()), message.size()}};
  return send_iov(iov, 2);
}

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
    ssize_t n = ::recv(fd_, inbuf_.data() + inend_, inbuf_.size() - inend_, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    inend_ += static_cast<size_t>(n);
  }
}

bool Connection::read_server_message(wire::ServerMessage* m) {
  m->kind = wire::ServerMessage::kUnknown;
  m->replies.clear();
  const char* frame = nullptr;
  size_t size = 0;
  return read_frame(&frame, &size) && wire::decode_server_message(frame, size, m);
}

CUresult Connection::attach(const std::string& secret) {
  if (!send_frame(wire::encode_attach(secret))) {
    log_error("cannot send Attach to the worker");
    return CUDA_ERROR_DEVICE_UNAVAILABLE;
  }
  wire::ServerMessage m;
  if (!read_server_message(&m)) {
    log_error("the worker closed the connection during Attach");
    return CUDA_ERROR_DEVICE_UNAVAILABLE;
  }
  if (m.kind == wire::ServerMessage::kRefused) {
    log_error("the worker refused the session: %s", m.message.c_str());
    return refused_result(m.refused_reason);
  }
  if (m.kind != wire::ServerMessage::kWelcome) {
    log_error("unexpected answer to Attach");
    return CUDA_ERROR_DEVICE_UNAVAILABLE;
  }
  welcome_ = std::move(m.welcome);
  return CUDA_SUCCESS;
}

CUresult Connection::open(Connection** out) {
  auto* c = new Connection;
  std::string host, port;
  CUresult r = CUDA_SUCCESS;
  if (const char* worker = env("GPUPOOL_REMOTE_WORKER")) {
    std::string secret;
    const char* hex = env("GPUPOOL_REMOTE_SECRET");
    if (hex == nullptr || !parse_hex(hex, &secret)) {
      log_error("GPUPOOL_REMOTE_WORKER needs GPUPOOL_REMOTE_SECRET=<hex secret>");
      r = CUDA_ERROR_INVALID_VALUE;
    } else if (!split_host_port(worker, &host, &port) || (c->fd_ = connect_to(host, port)) < 0) {
      log_error("cannot connect to the worker at %s", worker);
      r = CUDA_ERROR_DEVICE_UNAVAILABLE;
    } else {
      r = c->attach(secret);
    }
  } else if (const char* agent = env("GPUPOOL_REMOTE")) {
    wire::Hello hello;
    if (const char* t = env("GPUPOOL_TOKEN")) hello.token = t;
    if (const char* m = env("GPUPOOL_REMOTE_MEMORY")) {
      if (!parse_size(m, &hello.memory_bytes)) {
        log_error("GPUPOOL_REMOTE_MEMORY=%s is not a size (e.g. 4GiB)", m);
        delete c;
        return CUDA_ERROR_INVALID_VALUE;
      }
    }
    const char* name = env("GPUPOOL_JOB_NAME");
    hello.name = name != nullptr ? name : program_invocation_short_name;
    if (const char* team = env("GPUPOOL_TEAM")) hello.team = team;
    hello.client_cuda_version = CUDA_VERSION;
    if (!split_host_port(agent, &host, &port) || (c->fd_ = connect_to(host, port)) < 0) {
      log_error("cannot connect to the agent at %s", agent);
      r = CUDA_ERROR_DEVICE_UNAVAILABLE;
    } else if (!c->send_frame(wire::encode_hello(hello))) {
      r = CUDA_ERROR_DEVICE_UNAVAILABLE;
    } else {
      bool said_queued = false;
      for (;;) {
        wire::ServerMessage m;
        if (!c->read_server_message(&m)) {
          log_error("the agent closed the connection");
          r = CUDA_ERROR_DEVICE_UNAVAILABLE;
          break;
        }
        if (m.kind == wire::ServerMessage::kQueued) {
          if (!said_queued)
            std::fprintf(stderr, "gpupool-remote: queued (%u ahead) %s\n", m.ahead, m.reason.c_str());
          said_queued = true;
          continue;
        }
        if (m.kind == wire::ServerMessage::kRefused) {
          log_error("the agent refused the session: %s", m.message.c_str());
          r = refused_result(m.refused_reason);
          break;
        }
        if (m.kind != wire::ServerMessage::kRedirect) {
          log_error("unexpected answer from the agent");
          r = CUDA_ERROR_DEVICE_UNAVAILABLE;
          break;
        }
        ::close(c->fd_);
        c->fd_ = -1;
        std::string whost = m.host.empty() ? host : m.host;
        std::string wport = std::to_string(m.port);
        c->inpos_ = c->inend_ = 0;
        if ((c->fd_ = connect_to(whost, wport)) < 0) {
          log_error("cannot connect to the worker at %s:%s", whost.c_str(), wport.c_str());
          r = CUDA_ERROR_DEVICE_UNAVAILABLE;
        } else {
          r = c->attach(m.secret);
        }
        break;
      }
    }
  } else {
    log_error("set GPUPOOL_REMOTE=host:port (and GPUPOOL_TOKEN) to use a remote GPU");
    r = CUDA_ERROR_NO_DEVICE;
  }
  if (r != CUDA_SUCCESS) {
    if (c->fd_ >= 0) ::close(c->fd_);
    delete c;
    return r;
  }
  *out = c;
  return CUDA_SUCCESS;
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
  bool ok = send_iov(iov, count);
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
  for (;;) {
    ssize_t n = ::recv(fd_, inbuf_.data() + inend_, max_bytes, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    inend_ += static_cast<size_t>(n);
    return true;
  }
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
      msghdr msg{};
      msg.msg_iov = iov;
      msg.msg_iovlen = 2;
      ssize_t got = ::recvmsg(fd_, &msg, 0);
      if (got < 0 && errno == EINTR) continue;
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
  CUresult result = await_reply_locked(seq, reply, on_data, sink);
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
