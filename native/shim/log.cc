// log.cc — see log.h.
#include "log.h"

#include <strings.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdarg>
#include <cstdio>
#include <cstdlib>

namespace gpupool::shim {
namespace {

std::atomic<int> g_level{static_cast<int>(LogLevel::kError)};
std::atomic<bool> g_initialised{false};

const char* level_tag(LogLevel level) {
  switch (level) {
    case LogLevel::kError: return "";
    case LogLevel::kWarn: return "warning: ";
    case LogLevel::kInfo: return "info: ";
    case LogLevel::kDebug: return "debug: ";
  }
  return "";
}

void write_all(const char* p, size_t n) {
  while (n > 0) {
    ssize_t w = ::write(2, p, n);
    if (w < 0) {
      if (errno == EINTR) continue;
      return;
    }
    p += w;
    n -= static_cast<size_t>(w);
  }
}

}  // namespace

bool log_parse_level(const char* text, LogLevel* level) {
  if (text == nullptr) return false;
  static const struct {
    const char* name;
    LogLevel level;
  } kNames[] = {{"error", LogLevel::kError},
                {"warn", LogLevel::kWarn},
                {"warning", LogLevel::kWarn},
                {"info", LogLevel::kInfo},
                {"debug", LogLevel::kDebug}};
  for (const auto& n : kNames) {
    if (strcasecmp(text, n.name) == 0) {
      *level = n.level;
      return true;
    }
  }
  return false;
}

void log_init() {
  if (g_initialised.exchange(true)) return;
  const char* v = std::getenv("GPUPOOL_LOG");
  if (v == nullptr || *v == 0) return;
  LogLevel level;
  if (log_parse_level(v, &level)) {
    g_level.store(static_cast<int>(level), std::memory_order_relaxed);
  } else {
    g_level.store(static_cast<int>(LogLevel::kWarn), std::memory_order_relaxed);
    log_write(LogLevel::kWarn, "GPUPOOL_LOG='%.64s' is not debug, info, warn or error; using warn",
              v);
  }
}

bool log_enabled(LogLevel level) {
  return static_cast<int>(level) <= g_level.load(std::memory_order_relaxed);
}

void log_write(LogLevel level, const char* fmt, ...) {
  char buf[1024];
  int n = std::snprintf(buf, sizeof buf, "gpupool shim[%d]: %s", static_cast<int>(::getpid()),
                        level_tag(level));
  if (n < 0) return;
  size_t used = static_cast<size_t>(n) < sizeof buf ? static_cast<size_t>(n) : sizeof buf - 1;
  va_list args;
  va_start(args, fmt);
  int m = std::vsnprintf(buf + used, sizeof buf - used, fmt, args);
  va_end(args);
  if (m > 0) used += static_cast<size_t>(m) < sizeof buf - used ? static_cast<size_t>(m)
                                                                 : sizeof buf - used - 1;
  if (used >= sizeof buf - 1) used = sizeof buf - 2;  // room for the newline
  buf[used++] = '\n';
  write_all(buf, used);
}

}  // namespace gpupool::shim
