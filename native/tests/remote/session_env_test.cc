// session_env_test.cc — ctest remote_session_env: the address forms of
// GPUPOOL_REMOTE / GPUPOOL_REMOTE_WORKER (native/remote/session_env.h).
#include <cstdio>
#include <string>

#include "session_env.h"

using gpupool::remote::Endpoint;
using gpupool::remote::parse_endpoint;

namespace {

int g_failed = 0;

void accepts(const char* text, bool tls, const char* host, const char* port) {
  Endpoint e;
  bool ok = parse_endpoint(text, &e);
  if (!ok || e.tls != tls || e.host != host || e.port != port) {
    ++g_failed;
    std::fprintf(stderr, "FAILED: '%s' -> ok=%d tls=%d host='%s' port='%s'; expected tls=%d host='%s' port='%s'\n",
                 text, ok, e.tls, e.host.c_str(), e.port.c_str(), tls, host, port);
  }
}

void rejects(const char* text) {
  Endpoint e;
  if (parse_endpoint(text, &e)) {
    ++g_failed;
    std::fprintf(stderr, "FAILED: '%s' accepted (host '%s', port '%s')\n", text, e.host.c_str(), e.port.c_str());
  }
}

}  // namespace

int main() {
  accepts("gpunode:7070", false, "gpunode", "7070");
  accepts(":7070", false, "127.0.0.1", "7070");
  accepts("[::1]:7071", false, "::1", "7071");
  accepts("gpupool://gpunode:7000", false, "gpunode", "7000");
  accepts("gpupool://gpunode", false, "gpunode", "7070");
  accepts("gpupools://gpunode", true, "gpunode", "7070");
  accepts("gpupools://gpunode:443/", true, "gpunode", "443");
  accepts("gpupools://10.0.0.7:7070", true, "10.0.0.7", "7070");
  accepts("gpupools://[fe80::1]", true, "fe80::1", "7070");
  accepts("gpupools://[fe80::1]:9", true, "fe80::1", "9");
  rejects("");
  rejects("gpunode");             // no port without a scheme
  rejects("gpunode:");
  rejects("gpunode:0");
  rejects("gpunode:65536");
  rejects("gpunode:70x");
  rejects("gpupools://");
  rejects("gpupools://gpunode:7070/path");
  rejects("gpupools://gpunode:7070?token=x");  // the token goes in GPUPOOL_TOKEN
  rejects("gpupools://user@gpunode:7070");
  rejects("https://gpunode:7070");
  rejects("gpupools://gpu node:7070");
  rejects("[::1:7070");
  std::printf("%s\n", g_failed == 0 ? "session_env: OK" : "session_env: FAILED");
  return g_failed == 0 ? 0 : 1;
}
