// handshake.cc — Connection::open (connection.h): from the environment to
// an attached session, through the agent (Hello, Queued*, Redirect) or
// straight to a worker, then Attach and Welcome; over TLS when the address
// is gpupools:// (the worker then speaks TLS too, with the agent's
// certificate, verified against the agent's host name as the Java client does).
#include <errno.h>

#include <cstdio>
#include <memory>
#include <string>

#include "connection.h"
#include "remote.h"
#include "session_env.h"
#include "tls_stream.h"

namespace gpupool::remote {

// How this session reaches its peers: plain TCP, or TLS verifying one name.
struct Connection::Dialer {
  std::unique_ptr<TlsClient> tls;  // null: plain

  // A stream to host:port, or null after a message naming `where`.
  std::unique_ptr<ByteStream> dial(const std::string& host, const std::string& port, const std::string& where) {
    std::string error;
    int fd = connect_tcp(host, port, &error);
    if (fd < 0) {
      log_error("cannot connect to %s: %s", where.c_str(), error.c_str());
      return nullptr;
    }
    if (!tls) return plain_stream(fd);
    std::unique_ptr<ByteStream> s = tls->handshake(fd, where, &error);
    if (!s) log_error("%s", error.c_str());
    return s;
  }
};

namespace {

CUresult refused_result(int reason) {
  switch (reason) {
    case 1: return CUDA_ERROR_NOT_PERMITTED;          // BAD_TOKEN
    case 3: return CUDA_ERROR_CALL_REQUIRES_NEWER_DRIVER;   // VERSION
    case 5: return CUDA_ERROR_OUT_OF_MEMORY;          // NEVER_FITS
    case 2: return CUDA_ERROR_INVALID_VALUE;          // BAD_REQUEST
    default: return CUDA_ERROR_DEVICE_UNAVAILABLE;    // NO_CAPACITY, UNAVAILABLE
  }
}

// GPUPOOL_REMOTE_TRUST, checked against the address's scheme, into `dialer`.
CUresult prepare_tls(const char* var, const Endpoint& at, std::unique_ptr<TlsClient>* tls) {
  const char* trust = env("GPUPOOL_REMOTE_TRUST");
  if (!at.tls) {
    if (trust == nullptr) return CUDA_SUCCESS;
    log_error("GPUPOOL_REMOTE_TRUST is for TLS: set %s=gpupools://host:port", var);
    return CUDA_ERROR_INVALID_VALUE;
  }
  std::string name = trust != nullptr ? std::string("GPUPOOL_REMOTE_TRUST=") + trust : "the system's trust store";
  std::string error;
  *tls = TlsClient::create(at.host, trust != nullptr ? trust : "", name, &error);
  if (*tls) return CUDA_SUCCESS;
  log_error("%s", error.c_str());
  return CUDA_ERROR_INVALID_VALUE;
}

}  // namespace

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

CUresult Connection::open_worker(Dialer& dialer, const Endpoint& at) {
  std::string secret;
  const char* hex = env("GPUPOOL_REMOTE_SECRET");
  if (hex == nullptr || !parse_hex(hex, &secret)) {
    log_error("GPUPOOL_REMOTE_WORKER needs GPUPOOL_REMOTE_SECRET=<hex secret>");
    return CUDA_ERROR_INVALID_VALUE;
  }
  if (!(stream_ = dialer.dial(at.host, at.port, "the worker at " + at.host + ":" + at.port)))
    return CUDA_ERROR_DEVICE_UNAVAILABLE;
  return attach(secret);
}

CUresult Connection::open_agent(Dialer& dialer, const Endpoint& at) {
  wire::Hello hello;
  if (const char* t = env("GPUPOOL_TOKEN")) hello.token = t;
  if (const char* m = env("GPUPOOL_REMOTE_MEMORY")) {
    if (!parse_size(m, &hello.memory_bytes)) {
      log_error("GPUPOOL_REMOTE_MEMORY=%s is not a size (e.g. 4GiB)", m);
      return CUDA_ERROR_INVALID_VALUE;
    }
  }
  const char* name = env("GPUPOOL_JOB_NAME");
  hello.name = name != nullptr ? name : program_invocation_short_name;
  if (const char* team = env("GPUPOOL_TEAM")) hello.team = team;
  hello.client_cuda_version = CUDA_VERSION;
  std::string agent = "the agent at " + at.host + ":" + at.port;
  if (!(stream_ = dialer.dial(at.host, at.port, agent))) return CUDA_ERROR_DEVICE_UNAVAILABLE;
  // A TLS listener drops a plain Hello without a word.
  const char* plain_hint = at.tls ? "" : " (if it serves TLS, set GPUPOOL_REMOTE=gpupools://host:port)";
  if (!send_frame(wire::encode_hello(hello))) {
    log_error("cannot send Hello to %s%s", agent.c_str(), plain_hint);
    return CUDA_ERROR_DEVICE_UNAVAILABLE;
  }
  bool said_queued = false;
  wire::ServerMessage m;
  for (;;) {
    if (!read_server_message(&m)) {
      log_error("%s closed the connection%s", agent.c_str(), plain_hint);
      return CUDA_ERROR_DEVICE_UNAVAILABLE;
    }
    if (m.kind != wire::ServerMessage::kQueued) break;
    if (!said_queued) std::fprintf(stderr, "gpupool-remote: queued (%u ahead) %s\n", m.ahead, m.reason.c_str());
    said_queued = true;
  }
  if (m.kind == wire::ServerMessage::kRefused) {
    log_error("the agent refused the session: %s", m.message.c_str());
    return refused_result(m.refused_reason);
  }
  if (m.kind != wire::ServerMessage::kRedirect) {
    log_error("unexpected answer from the agent");
    return CUDA_ERROR_DEVICE_UNAVAILABLE;
  }
  stream_.reset();
  inpos_ = inend_ = 0;
  std::string host = m.host.empty() ? at.host : m.host;
  std::string port = std::to_string(m.port);
  std::string worker = "the worker at " + host + ":" + port;
  if (dialer.tls) worker += " (as '" + dialer.tls->verify_host() + "')";
  if (!(stream_ = dialer.dial(host, port, worker))) return CUDA_ERROR_DEVICE_UNAVAILABLE;
  return attach(m.secret);
}

CUresult Connection::open(Connection** out) {
  const char* worker = env("GPUPOOL_REMOTE_WORKER");
  const char* var = worker != nullptr ? "GPUPOOL_REMOTE_WORKER" : "GPUPOOL_REMOTE";
  const char* text = worker != nullptr ? worker : env("GPUPOOL_REMOTE");
  if (text == nullptr) {
    log_error("set GPUPOOL_REMOTE=host:port (or gpupools://host:port for TLS) and GPUPOOL_TOKEN to use a remote GPU");
    return CUDA_ERROR_NO_DEVICE;
  }
  Endpoint at;
  if (!parse_endpoint(text, &at)) {
    log_error("%s=%s is not host:port, gpupool://host[:port] or gpupools://host[:port]", var, text);
    return CUDA_ERROR_INVALID_VALUE;
  }
  std::chrono::microseconds spin_limit = kDefaultSpinMicros;
  if (const char* spin = env("GPUPOOL_REMOTE_SPIN_US"); spin != nullptr && !parse_spin_micros(spin, &spin_limit)) {
    log_error("GPUPOOL_REMOTE_SPIN_US=%s is not a whole number of microseconds from 0 to 1000000", spin);
    return CUDA_ERROR_INVALID_VALUE;
  }
  Dialer dialer;
  if (CUresult r = prepare_tls(var, at, &dialer.tls); r != CUDA_SUCCESS) return r;
  std::unique_ptr<Connection> c(new Connection);
  c->spin_limit_ = spin_limit;
  CUresult r = worker != nullptr ? c->open_worker(dialer, at) : c->open_agent(dialer, at);
  if (r != CUDA_SUCCESS) return r;
  *out = c.release();
  return CUDA_SUCCESS;
}

}  // namespace gpupool::remote
