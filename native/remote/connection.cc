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
#include <cstring>

#include "remote.h"

namespace gpupool::remote {
namespace {

// Flush the pending batch once it is this large (a frame is at most 4 MiB and
// one HtoD chunk 1 MiB plus a few bytes).
constexpr size_t kFlushBytes = 2 * wire::kMaxChunkBytes;

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

bool Connection::send_all(const void* data, size_t size) {
  const char* p = static_cast<const char*>(data);
  while (size > 0) {
    ssize_t n = ::send(fd_, p, size, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    p += n;
    size -= static_cast<size_t>(n);
  }
  return true;
}

bool Connection::send_frame(const std::string& message) {
  std::string head;
  wire::append_varint(&head, message.size());
  return send_all(head.data(), head.size()) && send_all(message.data(), message.size());
}

bool Connection::read_frame(std::string* frame) {
  // Reads until a whole frame is buffered; frames may be split or coalesced.
  for (;;) {
    const uint8_t* p = reinterpret_cast<const uint8_t*>(inbuf_.data()) + inpos_;
    const uint8_t* end = reinterpret_cast<const uint8_t*>(inbuf_.data()) + inbuf_.size();
    uint64_t len = 0;
    const uint8_t* q = p;
    bool have_len = wire::read_varint(&q, end, &len);
    if (!have_len && end - p >= 5) return false;  // a varint32 is at most 5 bytes
    if (have_len) {
      if (len > wire::kMaxFrameBytes) return false;
      if (static_cast<uint64_t>(end - q) >= len) {
        frame->assign(reinterpret_cast<const char*>(q), len);
        inpos_ = static_cast<size_t>((q + len) - reinterpret_cast<const uint8_t*>(inbuf_.data()));
        if (inpos_ == inbuf_.size()) {
          inbuf_.clear();
          inpos_ = 0;
        }
        return true;
      }
    }
    if (inpos_ > 0) {
      inbuf_.erase(0, inpos_);
      inpos_ = 0;
    }
    char buf[65536];
    ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    inbuf_.append(buf, static_cast<size_t>(n));
  }
}

bool Connection::read_server_message(wire::ServerMessage* m) {
  *m = wire::ServerMessage();
  return read_frame(&frame_) && wire::decode_server_message(frame_.data(), frame_.size(), m);
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
        c->inbuf_.clear();
        c->inpos_ = 0;
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
  if (!broken_) log_error("connection to the worker lost: %s", why);
  broken_ = true;
  note_result(CUDA_ERROR_DEVICE_UNAVAILABLE);
  return CUDA_ERROR_DEVICE_UNAVAILABLE;
}

bool Connection::flush_locked() {
  if (batch_.empty()) return true;
  // ClientMessage{calls = 3: CallBatch{calls = 1: Call...}}, framed.
  std::string head;
  size_t inner = 1 + wire::varint_size(batch_.size()) + batch_.size();
  wire::append_varint(&head, inner);
  head.push_back(static_cast<char>((3 << 3) | wire::kLen));
  wire::append_varint(&head, batch_.size());
  bool ok = send_all(head.data(), head.size()) && send_all(batch_.data(), batch_.size());
  batch_.clear();
  return ok;
}

CUresult Connection::post(wire::CallOp op, const wire::Writer& body) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (broken_) return CUDA_ERROR_DEVICE_UNAVAILABLE;
  std::string call = wire::encode_call(next_seq_++, op, body);
  if (batch_.size() + call.size() + 16 > kFlushBytes && !flush_locked())
    return broken_locked("send failed");
  batch_.push_back(static_cast<char>((1 << 3) | wire::kLen));
  wire::append_varint(&batch_, call.size());
  batch_.append(call);
  if (batch_.size() >= kFlushBytes && !flush_locked()) return broken_locked("send failed");
  return CUDA_SUCCESS;
}

CUresult Connection::call(wire::CallOp op, const wire::Writer& body, wire::Reply* reply,
                          const std::function<bool(const wire::Reply&)>& on_data) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (broken_) return CUDA_ERROR_DEVICE_UNAVAILABLE;
  uint64_t seq = next_seq_++;
  std::string call = wire::encode_call(seq, op, body);
  if (batch_.size() + call.size() + 16 > kFlushBytes && !flush_locked())
    return broken_locked("send failed");
  batch_.push_back(static_cast<char>((1 << 3) | wire::kLen));
  wire::append_varint(&batch_, call.size());
  batch_.append(call);
  if (!flush_locked()) return broken_locked("send failed");
  for (;;) {
    wire::ServerMessage m;
    if (!read_server_message(&m)) return broken_locked("no reply");
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
