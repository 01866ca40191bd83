// tls_stream_test.cc — ctest remote_tls_stream: the forwarding driver's TLS
// byte stream (native/remote/tls_stream.h) against an in-process TLS server
// (the same static OpenSSL, blocking, in a thread per connection):
//   - bytes arrive intact both ways, small pieces and 1 MiB ones, while a
//     receiver waits in recv_some on another thread (a stream that held its
//     lock across the wait would hang here: ctest's timeout);
//   - has_buffered() reports the rest of a decrypted record, and recv_some
//     hands it out;
//   - a server that went away makes send_all fail (no SIGPIPE: the test
//     process would die of it);
//   - the certificate is verified: another trusted certificate, or a name it
//     does not carry, fails the handshake with a message that says so;
//   - without a trust file, a missing default trust store falls back to a
//     distribution's CA bundle (unless SSL_CERT_FILE/SSL_CERT_DIR choose).
#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "tls_stream.h"
#include "expect.h"
#include "tls_test_cert.h"

using namespace gpupool::remote;

namespace {

struct Server {
  SSL_CTX* ctx;
  int listener;
  std::string port;
  // Accepts one connection, completes the handshake and hands it to `serve`.
  std::thread serve_one(std::function<void(SSL*)> serve) {
    return std::thread([this, serve] {
      int fd = accept(listener, nullptr, nullptr);
      SSL* ssl = SSL_new(ctx);
      SSL_set_fd(ssl, fd);
      if (SSL_accept(ssl) == 1) serve(ssl);
      SSL_free(ssl);
      close(fd);
    });
  }
};

std::unique_ptr<ByteStream> connect(Server& s, const std::string& trust, const std::string& host, std::string* error) {
  auto client = TlsClient::create(host, trust, "trust " + trust, error);
  if (!client) return nullptr;
  int fd = connect_tcp("127.0.0.1", s.port, error);
  return fd < 0 ? nullptr : client->handshake(fd, "the test server", error);
}

void echo(SSL* ssl) {
  std::vector<char> buf(64 << 10);
  for (;;) {
    int n = SSL_read(ssl, buf.data(), static_cast<int>(buf.size()));
    if (n <= 0 || SSL_write(ssl, buf.data(), n) != n) return;
  }
}

void both_ways_while_a_receiver_waits(Server& s, const std::string& trust) {
  std::thread server = s.serve_one(echo);
  std::string error;
  auto stream = connect(s, trust, "localhost", &error);
  EXPECT(stream != nullptr);
  if (!stream) {
    std::fprintf(stderr, "%s\n", error.c_str());
    server.join();
    return;
  }
  std::vector<char> sent(3 << 20);
  for (size_t i = 0; i < sent.size(); ++i) sent[i] = static_cast<char>(i * 131 + (i >> 12));
  std::vector<char> got(sent.size());
  std::thread receiver([&] {  // waits in recv before anything is sent
    size_t at = 0;
    while (at < got.size()) {
      iovec iov[2] = {{got.data() + at, std::min<size_t>(100000, got.size() - at)}, {nullptr, 0}};
      size_t second = std::min<size_t>(64, got.size() - at - iov[0].iov_len);
      iov[1] = {got.data() + at + iov[0].iov_len, second};
      ssize_t n = stream->recv_some_iov(iov, 2);
      if (n <= 0) break;
      at += static_cast<size_t>(n);
    }
    EXPECT(at == got.size());
  });
  // Pieces of 3 bytes .. 1 MiB, a few per send_all as a frame's head and bodies are.
  size_t at = 0;
  size_t sizes[] = {3, 10, 1 << 20, 5, 70000, 16384, 1, (1 << 20) + 7};
  size_t k = 0;
  while (at < sent.size()) {
    iovec iov[3];
    int count = 0;
    for (; count < 3 && at < sent.size(); ++count, ++k) {
      size_t n = std::min(sizes[k % 8], sent.size() - at);
      iov[count] = {sent.data() + at, n};
      at += n;
    }
    EXPECT(stream->send_all(iov, count));
  }
  receiver.join();
  EXPECT(std::memcmp(sent.data(), got.data(), sent.size()) == 0);
  stream.reset();  // closes: the echo server ends
  server.join();
}

void the_rest_of_a_record_is_buffered(Server& s, const std::string& trust) {
  std::thread server = s.serve_one([](SSL* ssl) {
    char record[100];
    std::memset(record, 'r', sizeof record);
    SSL_write(ssl, record, sizeof record);  // one record
    char c;
    SSL_read(ssl, &c, 1);  // until the client closes
  });
  std::string error;
  auto stream = connect(s, trust, "localhost", &error);
  EXPECT(stream != nullptr);
  if (stream) {
    char buf[100];
    EXPECT(stream->recv_some(buf, 10) == 10);
    EXPECT(stream->has_buffered());
    EXPECT(stream->recv_some(buf, sizeof buf) == 90);
    EXPECT(!stream->has_buffered());
    EXPECT(buf[89] == 'r');
  }
  stream.reset();
  server.join();
}

void a_server_gone_fails_sends_without_sigpipe(Server& s, const std::string& trust) {
  std::thread server = s.serve_one([](SSL*) {});  // handshake, then close
  std::string error;
  auto stream = connect(s, trust, "localhost", &error);
  EXPECT(stream != nullptr);
  server.join();
  if (stream) {
    std::vector<char> data(64 << 10, 'x');
    bool failed = false;
    for (int i = 0; i < 200 && !failed; ++i) {
      iovec iov{data.data(), data.size()};
      failed = !stream->send_all(&iov, 1);
      usleep(1000);
    }
    EXPECT(failed);
    char c;
    EXPECT(stream->recv_some(&c, 1) <= 0);
  }
}

void the_certificate_is_verified(Server& s, const std::string& trust, const std::string& other) {
  for (auto [with, host, expected] : {std::tuple{other, "localhost", "does not verify for 'localhost'"},
                                      std::tuple{trust, "127.0.0.1", "IP address mismatch"},
                                      std::tuple{trust, "gpunode", "hostname mismatch"}}) {
    std::thread server = s.serve_one([](SSL*) {});
    std::string error;
    auto stream = connect(s, with, host, &error);
    EXPECT(stream == nullptr);
    EXPECT(error.find(expected) != std::string::npos);
    if (error.find(expected) == std::string::npos) std::fprintf(stderr, "message: %s\n", error.c_str());
    server.join();
  }
  std::string error;
  EXPECT(TlsClient::create("localhost", "/nonexistent/ca.pem", "GPUPOOL_REMOTE_TRUST=/nonexistent/ca.pem", &error) ==
         nullptr);
  EXPECT(error == "GPUPOOL_REMOTE_TRUST=/nonexistent/ca.pem: cannot read the trust file: No such file or directory");
}

// Without SSL_CERT_FILE/SSL_CERT_DIR and with OpenSSL's default file missing,
// the first readable bundle of the list is loaded too; otherwise none.
void a_missing_default_trust_store_falls_back_to_a_distributions_bundle(const std::string& dir) {
  std::string present = dir + "/bundle-present.pem", later = dir + "/bundle-later.pem";
  for (const std::string& p : {present, later}) {
    FILE* f = std::fopen(p.c_str(), "w");
    EXPECT(f != nullptr && std::fclose(f) == 0);
  }
  std::string missing = dir + "/bundle-missing.pem";
  const char* saved_file = std::getenv("SSL_CERT_FILE");
  const char* saved_dir = std::getenv("SSL_CERT_DIR");
  std::string file_value = saved_file ? saved_file : "", dir_value = saved_dir ? saved_dir : "";
  unsetenv("SSL_CERT_FILE");
  unsetenv("SSL_CERT_DIR");

  EXPECT(gpupool::remote::fallback_trust_bundle(missing, {missing, present, later}) == present);
  EXPECT(gpupool::remote::fallback_trust_bundle(missing, {missing}).empty());
  EXPECT(gpupool::remote::fallback_trust_bundle(present, {later}).empty());  // the default is there
  setenv("SSL_CERT_FILE", later.c_str(), 1);
  EXPECT(gpupool::remote::fallback_trust_bundle(missing, {present}).empty());
  unsetenv("SSL_CERT_FILE");
  setenv("SSL_CERT_DIR", dir.c_str(), 1);
  EXPECT(gpupool::remote::fallback_trust_bundle(missing, {present}).empty());
  unsetenv("SSL_CERT_DIR");
  // Every entry of the real list is an absolute path to a PEM bundle.
  for (const std::string& b : gpupool::remote::kSystemTrustBundles) EXPECT(!b.empty() && b[0] == '/');

  if (saved_file) setenv("SSL_CERT_FILE", file_value.c_str(), 1);
  if (saved_dir) setenv("SSL_CERT_DIR", dir_value.c_str(), 1);
}

bool write_pem(const std::string& path, X509* cert) {
  FILE* f = std::fopen(path.c_str(), "w");
  if (f == nullptr) return false;
  bool ok = PEM_write_X509(f, cert) == 1;
  return std::fclose(f) == 0 && ok;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s <scratch dir>\n", argv[0]);
    return 2;
  }
  std::string dir = argv[1];
  EVP_PKEY* key = EVP_EC_gen("P-256");
  EVP_PKEY* other_key = EVP_EC_gen("P-256");
  X509* cert = test::self_signed(key);
  X509* other = test::self_signed(other_key);
  EXPECT(write_pem(dir + "/stream-server.pem", cert) && write_pem(dir + "/stream-other.pem", other));

  Server s;
  s.ctx = SSL_CTX_new(TLS_server_method());
  EXPECT(SSL_CTX_use_certificate(s.ctx, cert) == 1 && SSL_CTX_use_PrivateKey(s.ctx, key) == 1);
  s.listener = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  EXPECT(bind(s.listener, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0 && listen(s.listener, 8) == 0);
  getsockname(s.listener, reinterpret_cast<sockaddr*>(&addr), &len);
  s.port = std::to_string(ntohs(addr.sin_port));

  both_ways_while_a_receiver_waits(s, dir + "/stream-server.pem");
  the_rest_of_a_record_is_buffered(s, dir + "/stream-server.pem");
  a_server_gone_fails_sends_without_sigpipe(s, dir + "/stream-server.pem");
  the_certificate_is_verified(s, dir + "/stream-server.pem", dir + "/stream-other.pem");
  a_missing_default_trust_store_falls_back_to_a_distributions_bundle(dir);
  close(s.listener);
  return gpupool::remote::test::finish("tls_stream");
}
