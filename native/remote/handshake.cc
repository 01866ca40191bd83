// handshake.cc — Connection::open (connection.h): from the environment to
// an attached session, through the agent (Hello, Queued*, Redirect) or
// straight to a worker, then Attach and Welcome.
#include <errno.h>

#include <memory>
#include <cstdio>
#include <string>

#include "connection.h"
#include "remote.h"
#include "session_env.h"

namespace gpupool::remote {
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

std::unique_ptr<ByteStream> dial(const std::string& host, const std::string& port) {
  std::string error;
  int fd = connect_tcp(host, port, &error);
  return fd < 0 ? nullptr : plain_stream(fd);
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
    } else if (!split_host_port(worker, &host, &port) || !(c->stream_ = dial(host, port))) {
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
    if (!split_host_port(agent, &host, &port) || !(c->stream_ = dial(host, port))) {
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
        c->stream_.reset();
        std::string whost = m.host.empty() ? host : m.host;
        std::string wport = std::to_string(m.port);
        c->inpos_ = c->inend_ = 0;
        if (!(c->stream_ = dial(whost, wport))) {
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
    delete c;
    return r;
  }
  *out = c;
  return CUDA_SUCCESS;
}

}  // namespace gpupool::remote
