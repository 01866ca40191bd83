// tls_stream.h — TLS for the forwarding driver (GPUPOOL_REMOTE=gpupools://):
// a client that verifies the server's certificate, and the ByteStream over it.
//
// Contract
//   TlsClient::create() loads what to trust: the certificates of a PEM file
//   (a CA, or the server's own self-signed one), or, without one, the system's
//   default trust store: OpenSSL's default paths (SSL_CERT_FILE, SSL_CERT_DIR,
//   else the paths of the distribution the library was built on), and where
//   neither variable is set and the default file is missing (a driver built on
//   Debian, run on Fedora), the first CA bundle found where distributions keep
//   one (fallback_trust_bundle). TlsClient::handshake() runs the TLS handshake over a
//   connected socket (10 s at most) and verifies the server's certificate
//   against `verify_host`, which is also sent as SNI when it is a name: the
//   certificate must chain to a trusted one and carry that name (or IP). On
//   failure *error says why (the certificate, the trust, "does it serve
//   TLS?") and the socket is closed.
//   OpenSSL is linked statically and hidden (CMakeLists.txt): it never reads
//   the system's openssl.cnf (no providers or engines loaded from files) and
//   registers no exit handler, so it cannot meet a libssl of the host process.
//
// Threading
//   create() and handshake() from one thread at a time (Connection::open).
//   The stream follows byte_stream.h: one sender and one receiver at once.
//   OpenSSL allows no concurrent use of one connection, so the socket is
//   non-blocking and every OpenSSL call is made under the stream's mutex; a
//   side that must wait polls the socket without holding it.
//
// Ownership
//   The stream owns the socket and the SSL object; the client may be
//   destroyed once its streams exist.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "byte_stream.h"

typedef struct ssl_ctx_st SSL_CTX;
typedef struct ssl_st SSL;
typedef struct bio_st BIO;

namespace gpupool::remote {

class TlsClient {
 public:
  // trust_file: a PEM file, or empty for the system's trust store.
  // trust_name: how messages name it (e.g. "GPUPOOL_REMOTE_TRUST=/etc/ca.pem").
  static std::unique_ptr<TlsClient> create(const std::string& verify_host, const std::string& trust_file,
                                           const std::string& trust_name, std::string* error);
  ~TlsClient();
  TlsClient(const TlsClient&) = delete;
  TlsClient& operator=(const TlsClient&) = delete;

  // `where` names the peer in messages ("the agent at host:port").
  std::unique_ptr<ByteStream> handshake(int fd, const std::string& where, std::string* error);
  const std::string& verify_host() const { return verify_host_; }

 private:
  TlsClient(SSL_CTX* ctx, std::string verify_host, std::string trust_name)
      : ctx_(ctx), verify_host_(std::move(verify_host)), trust_name_(std::move(trust_name)) {}
  SSL_CTX* ctx_;
  std::string verify_host_;
  std::string trust_name_;
};

// Where distributions keep their CA bundle (the list Go's crypto/x509 searches).
extern const std::vector<std::string> kSystemTrustBundles;

// The CA bundle to load besides OpenSSL's default paths, or "": the first
// readable file of `candidates`, but only when neither SSL_CERT_FILE nor
// SSL_CERT_DIR is set and `default_file` (OpenSSL's default certificate file)
// cannot be read.
std::string fallback_trust_bundle(const std::string& default_file, const std::vector<std::string>& candidates);

// A BIO over the socket that never raises SIGPIPE (tls_socket_bio.cc); the
// socket stays the caller's. Null when OpenSSL cannot make one.
BIO* socket_bio(int fd);

// The stream over a socket whose handshake `ssl` completed; makes the socket
// non-blocking and takes both (tls_stream.cc).
std::unique_ptr<ByteStream> tls_stream(int fd, SSL* ssl);

}  // namespace gpupool::remote
