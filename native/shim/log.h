// log.h — the shim's diagnostics on stderr.
//
// Quiet by default: only errors are printed. GPUPOOL_LOG=debug|info|warn|error
// raises the level; an unknown value means warn, and says so once.
// Every line is "gpupool shim[<pid>]: <message>" (warnings, info and debug
// lines carry their level after the prefix), written with one write(2) to
// fd 2 from a stack buffer: no iostream, no allocation, safe to call from any
// thread (not from a signal handler: it uses snprintf). Lines longer than the
// buffer (1 KiB) are truncated.
#pragma once

namespace gpupool::shim {

enum class LogLevel { kError = 0, kWarn = 1, kInfo = 2, kDebug = 3 };

// Reads GPUPOOL_LOG (once; later calls do nothing). Called by
// shim_config_init(); logging before it uses the default level.
void log_init();

bool log_enabled(LogLevel level);

void log_write(LogLevel level, const char* fmt, ...) __attribute__((format(printf, 2, 3)));

// Parses a GPUPOOL_LOG value; false if it is not one of the level names.
bool log_parse_level(const char* text, LogLevel* level);

}  // namespace gpupool::shim

#define GPUPOOL_LOG(level, ...)                                                    \
  do {                                                                             \
    if (::gpupool::shim::log_enabled(::gpupool::shim::LogLevel::level))            \
      ::gpupool::shim::log_write(::gpupool::shim::LogLevel::level, __VA_ARGS__);   \
  } while (0)
#define GPUPOOL_LOG_ERROR(...) GPUPOOL_LOG(kError, __VA_ARGS__)
#define GPUPOOL_LOG_WARN(...) GPUPOOL_LOG(kWarn, __VA_ARGS__)
#define GPUPOOL_LOG_INFO(...) GPUPOOL_LOG(kInfo, __VA_ARGS__)
#define GPUPOOL_LOG_DEBUG(...) GPUPOOL_LOG(kDebug, __VA_ARGS__)
