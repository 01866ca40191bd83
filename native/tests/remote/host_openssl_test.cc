// host_openssl_test.cc — ctest remote_host_openssl: the forwarding driver in a
// process that has an OpenSSL of its own (as Python or a JVM's native code
// does). The program links the system's shared libssl and runs a TLS server
// with it; the forwarding driver (argv[1], dlopen'ed RTLD_GLOBAL as a loader
// might) connects to it over TLS with its own, hidden OpenSSL:
//   - the driver defines no OpenSSL symbol the process could see, and the
//     process's SSL_* still come from the system's libssl after the load;
//   - the handshake between the two OpenSSLs in one process succeeds, the
//     driver verifies the server's certificate (GPUPOOL_REMOTE_TRUST) and its
//     Hello arrives; the server then closes, so cuInit fails with
//     CUDA_ERROR_DEVICE_UNAVAILABLE, which is expected;
//   - with a trust file of another certificate the driver refuses the server
//     (checked in a child process: a failed cuInit is not retried in-process).
#include <arpa/inet.h>
#include <cuda.h>
#include <dlfcn.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>

#include "expect.h"
#include "tls_test_cert.h"

using gpupool::remote::test::self_signed;

namespace {

bool write_pem(const std::string& path, X509* cert) {
  FILE* f = std::fopen(path.c_str(), "w");
  if (f == nullptr) return false;
  bool ok = PEM_write_X509(f, cert) == 1;
  return std::fclose(f) == 0 && ok;
}

// From where `symbol` of the global scope comes.
std::string library_of(const char* symbol) {
  void* p = dlsym(RTLD_DEFAULT, symbol);
  Dl_info info{};
  return p != nullptr && dladdr(p, &info) != 0 && info.dli_fname != nullptr ? info.dli_fname : "";
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: %s <lib/remote/libcuda.so.1> <scratch dir>\n", argv[0]);
    return 2;
  }
  std::string dir = argv[2];
  OPENSSL_init_ssl(0, nullptr);
  EVP_PKEY* key = EVP_EC_gen("P-256");
  X509* cert = self_signed(key);
  X509* other = self_signed(key);  // same name, different serial/signature: not what the server sends
  ASN1_INTEGER_set(X509_get_serialNumber(other), 2);
  EVP_PKEY* other_key = EVP_EC_gen("P-256");
  X509_set_pubkey(other, other_key);
  X509_sign(other, other_key, EVP_sha256());
  EXPECT(write_pem(dir + "/server.pem", cert));
  EXPECT(write_pem(dir + "/other.pem", other));

  SSL_CTX* server = SSL_CTX_new(TLS_server_method());
  EXPECT(SSL_CTX_use_certificate(server, cert) == 1 && SSL_CTX_use_PrivateKey(server, key) == 1);
  int listener = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  EXPECT(bind(listener, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0 && listen(listener, 4) == 0);
  getsockname(listener, reinterpret_cast<sockaddr*>(&addr), &len);
  std::string remote = "gpupools://localhost:" + std::to_string(ntohs(addr.sin_port));

  // Serves two connections: the verified one (handshake, then a Hello frame),
  // then the refused one (handshake fails on the client's side).
  std::atomic<int> handshakes{0}, hello_bytes{0};
  std::thread serve([&] {
    for (int i = 0; i < 2; ++i) {
      int fd = accept(listener, nullptr, nullptr);
      if (fd < 0) return;
      SSL* ssl = SSL_new(server);
      SSL_set_fd(ssl, fd);
      if (SSL_accept(ssl) == 1) {
        ++handshakes;
        char buf[256];
        int n = SSL_read(ssl, buf, sizeof buf);
        if (n > 0) hello_bytes += n;
      }
      SSL_free(ssl);
      close(fd);
    }
  });

  setenv("GPUPOOL_REMOTE", remote.c_str(), 1);
  setenv("GPUPOOL_TOKEN", "gpt_test", 1);
  setenv("GPUPOOL_REMOTE_TRUST", (dir + "/server.pem").c_str(), 1);
  void* lib = dlopen(argv[1], RTLD_NOW | RTLD_GLOBAL);
  if (lib == nullptr) {
    std::fprintf(stderr, "dlopen %s: %s\n", argv[1], dlerror());
    return 1;
  }
  for (const char* symbol : {"SSL_new", "SSL_CTX_new", "SSL_connect", "OPENSSL_init_ssl", "X509_new", "ERR_get_error"})
    EXPECT(dlsym(lib, symbol) == nullptr);
  EXPECT(library_of("SSL_CTX_new").find("libssl.so") != std::string::npos);
  EXPECT(library_of("X509_new").find("libcrypto.so") != std::string::npos);
  auto init = reinterpret_cast<CUresult (*)(unsigned)>(dlsym(lib, "cuInit"));
  EXPECT(init != nullptr);

  // A child refuses the server whose certificate is not the trusted one.
  pid_t child = fork();
  if (child == 0) {
    setenv("GPUPOOL_REMOTE_TRUST", (dir + "/other.pem").c_str(), 1);
    _exit(init(0) == CUDA_ERROR_DEVICE_UNAVAILABLE ? 0 : 1);
  }
  int status = 0;
  waitpid(child, &status, 0);
  EXPECT(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  EXPECT(handshakes.load() == 0);

  // Verified: the handshake between the two OpenSSLs completes and the Hello arrives.
  EXPECT(init(0) == CUDA_ERROR_DEVICE_UNAVAILABLE);  // the server closed after the Hello
  serve.join();
  EXPECT(handshakes.load() == 1);
  EXPECT(hello_bytes.load() > 0);

  // The process's own OpenSSL still works and is still the system's.
  SSL_CTX* again = SSL_CTX_new(TLS_client_method());
  EXPECT(again != nullptr);
  SSL_CTX_free(again);
  EXPECT(library_of("SSL_CTX_new").find("libssl.so") != std::string::npos);
  close(listener);
  return gpupool::remote::test::finish("host_openssl");
}
