// session_env.h — reading the session's settings from the environment
// (connection.h lists the variables) and the library's stderr messages.
//
// Contract
//   Pure parsing: nothing here connects or keeps state. Every parser returns
//   false for text it does not accept, leaving the caller to name the
//   variable in its message.
#pragma once

#include <cstdint>
#include <string>

namespace gpupool::remote {

// "gpupool-remote: " + printf(fmt, a, b) + newline, on stderr.
void log_error(const char* fmt, const char* a = "", const char* b = "");

// The variable's value, or nullptr when unset or empty.
const char* env(const char* name);

// "host:port" or "[v6]:port" (an empty host is 127.0.0.1).
bool split_host_port(const std::string& text, std::string* host, std::string* port);

// Where GPUPOOL_REMOTE (or GPUPOOL_REMOTE_WORKER) points: "host:port",
// "[v6]:port", "gpupool://host[:port]", or over TLS "gpupools://host[:port]"
// (a missing port is 7070, the agent's usual one; a trailing "/" is allowed).
struct Endpoint {
  bool tls = false;
  std::string host;
  std::string port;
};
bool parse_endpoint(const char* text, Endpoint* out);

// An even number of hex digits, as bytes.
bool parse_hex(const char* text, std::string* out);

// "4GiB", "512MiB", "1.5GB", "4096".
bool parse_size(const char* text, uint64_t* bytes);

}  // namespace gpupool::remote
