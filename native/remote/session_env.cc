// session_env.cc — see session_env.h.
#include "session_env.h"

#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace gpupool::remote {

void log_error(const char* fmt, const char* a, const char* b) {
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

bool parse_endpoint(const char* text, Endpoint* out) {
  std::string rest(text);
  out->tls = false;
  bool scheme = false;
  for (const char* prefix : {"gpupools://", "gpupool://"}) {
    if (rest.compare(0, std::strlen(prefix), prefix) == 0) {
      out->tls = prefix[7] == 's';
      rest = rest.substr(std::strlen(prefix));
      scheme = true;
      break;
    }
  }
  if (scheme && !rest.empty() && rest.back() == '/') rest.pop_back();
  if (rest.empty() || rest.find_first_of("/?#@ \t") != std::string::npos) return false;
  // A scheme's port may be left out; "[v6]" alone has no port either.
  size_t colon = rest.rfind(':');
  bool has_port = colon != std::string::npos && (rest.front() != '[' || colon > rest.find(']'));
  if (scheme && !has_port) rest += ":7070";
  if (!split_host_port(rest, &out->host, &out->port)) return false;
  if (out->port.find_first_not_of("0123456789") != std::string::npos || out->port.size() > 5 ||
      std::stoul(out->port) == 0 || std::stoul(out->port) > 65535)
    return false;
  return out->host.find_first_of("[]") == std::string::npos;
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

}  // namespace gpupool::remote
