// expect.h — the checks of the remote driver's small native tests: EXPECT(cond)
// counts a failure and names it on stderr, finish(name) prints "name: OK" or
// "name: FAILED" and gives the exit status. EXPECT may be used from any thread
// (a test's server thread, say): the count is atomic.
#pragma once

#include <atomic>
#include <cstdio>

namespace gpupool::remote::test {

inline std::atomic<int> g_failed{0};

inline int finish(const char* name) {
  std::printf("%s: %s\n", name, g_failed == 0 ? "OK" : "FAILED");
  return g_failed == 0 ? 0 : 1;
}

}  // namespace gpupool::remote::test

#define EXPECT(cond)                                                          \
  do {                                                                        \
    if (!(cond)) {                                                            \
      ++::gpupool::remote::test::g_failed;                                    \
      std::fprintf(stderr, "%s:%d: FAILED: %s\n", __FILE__, __LINE__, #cond); \
    }                                                                         \
  } while (0)
