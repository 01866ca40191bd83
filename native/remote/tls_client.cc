// tls_client.cc — TlsClient (tls_stream.h): what to trust, the handshake and
// the verification of the server's certificate, and messages that say which
// of them failed.
#include <arpa/inet.h>
#include <errno.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "tls_stream.h"

namespace gpupool::remote {
namespace {

constexpr int kHandshakeSeconds = 10;

// The reason of OpenSSL's latest error, or `otherwise`.
std::string openssl_reason(const char* otherwise) {
  unsigned long e = ERR_peek_last_error();
  const char* reason = e != 0 ? ERR_reason_error_string(e) : nullptr;
  return reason != nullptr ? reason : otherwise;
}

bool is_ip_address(const std::string& host) {
  unsigned char addr[16];
  return inet_pton(AF_INET, host.c_str(), addr) == 1 || inet_pton(AF_INET6, host.c_str(), addr) == 1;
}

void set_timeouts(int fd, int seconds) {
  timeval tv{seconds, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
}

bool readable(const std::string& path) { return !path.empty() && access(path.c_str(), R_OK) == 0; }

}  // namespace

const std::vector<std::string> kSystemTrustBundles = {
    "/etc/ssl/certs/ca-certificates.crt",                 // Debian, Ubuntu, Gentoo, Arch
    "/etc/pki/tls/certs/ca-bundle.crt",                   // Fedora, RHEL 6
    "/etc/ssl/ca-bundle.pem",                             // openSUSE
    "/etc/pki/tls/cacert.pem",                            // OpenELEC
    "/etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem",  // CentOS, RHEL 7 and later
    "/etc/ssl/cert.pem",                                  // Alpine
};

std::string fallback_trust_bundle(const std::string& default_file, const std::vector<std::string>& candidates) {
  // The variables are OpenSSL's: whoever set them chose the trust store.
  if (std::getenv("SSL_CERT_FILE") != nullptr || std::getenv("SSL_CERT_DIR") != nullptr) return "";
  if (readable(default_file)) return "";
  for (const std::string& c : candidates)
    if (readable(c)) return c;
  return "";
}

std::unique_ptr<TlsClient> TlsClient::create(const std::string& verify_host, const std::string& trust_file,
                                             const std::string& trust_name, std::string* error) {
  // Not the system's openssl.cnf (it may load provider modules linked against
  // the system's libcrypto), no atexit cleanup (threads of the host process
  // may still use the connection while it exits).
  if (OPENSSL_init_ssl(OPENSSL_INIT_NO_LOAD_CONFIG | OPENSSL_INIT_NO_ATEXIT, nullptr) != 1) {
    *error = "cannot initialise TLS: " + openssl_reason("OpenSSL failed");
    return nullptr;
  }
  if (!trust_file.empty()) {
    // Checked here so that the message names the file and the OS's reason.
    if (FILE* f = std::fopen(trust_file.c_str(), "r")) {
      std::fclose(f);
    } else {
      *error = trust_name + ": cannot read the trust file: " + std::strerror(errno);
      return nullptr;
    }
  }
  SSL_CTX* ctx = SSL_CTX_new(TLS_client_method());
  if (ctx == nullptr) {
    *error = "cannot initialise TLS: " + openssl_reason("SSL_CTX_new failed");
    return nullptr;
  }
  SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
  // A peer that closes without close_notify ends the stream like a plain one
  // (frames are length-prefixed: a cut one is still detected).
  SSL_CTX_set_options(ctx, SSL_OP_IGNORE_UNEXPECTED_EOF | SSL_OP_NO_RENEGOTIATION);
  SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, nullptr);
  ERR_clear_error();
  bool loaded = trust_file.empty() ? SSL_CTX_set_default_verify_paths(ctx) == 1
                                   : SSL_CTX_load_verify_locations(ctx, trust_file.c_str(), nullptr) == 1;
  // OpenSSL's default paths are the build machine's distribution's: elsewhere
  // they may hold nothing, and every server would fail to verify.
  if (loaded && trust_file.empty()) {
    std::string bundle = fallback_trust_bundle(X509_get_default_cert_file(), kSystemTrustBundles);
    if (!bundle.empty()) loaded = SSL_CTX_load_verify_locations(ctx, bundle.c_str(), nullptr) == 1;
  }
  if (!loaded) {
    *error = trust_file.empty()
                 ? "cannot load the system's trust store: " + openssl_reason("no certificates")
                 : trust_name + " holds no readable certificate (expected PEM: -----BEGIN CERTIFICATE-----): " +
                       openssl_reason("no certificates");
    SSL_CTX_free(ctx);
    return nullptr;
  }
  return std::unique_ptr<TlsClient>(new TlsClient(ctx, verify_host, trust_name));
}

TlsClient::~TlsClient() { SSL_CTX_free(ctx_); }

std::unique_ptr<ByteStream> TlsClient::handshake(int fd, const std::string& where, std::string* error) {
  std::string prefix = "TLS handshake with " + where + " failed: ";
  SSL* ssl = SSL_new(ctx_);
  BIO* bio = ssl != nullptr ? socket_bio(fd) : nullptr;
  if (bio == nullptr) {
    *error = prefix + openssl_reason("SSL_new failed");
    SSL_free(ssl);
    ::close(fd);
    return nullptr;
  }
  SSL_set_bio(ssl, bio, bio);  // ssl owns the BIO now
  bool ip = is_ip_address(verify_host_);
  bool named = ip ? X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), verify_host_.c_str()) == 1
                  : SSL_set_tlsext_host_name(ssl, verify_host_.c_str()) == 1 &&
                        SSL_set1_host(ssl, verify_host_.c_str()) == 1;
  if (!named) {
    *error = prefix + "'" + verify_host_ + "' is not a host name to verify a certificate against";
    SSL_free(ssl);
    ::close(fd);
    return nullptr;
  }
  set_timeouts(fd, kHandshakeSeconds);
  ERR_clear_error();
  errno = 0;
  int rc = SSL_connect(ssl);
  if (rc == 1) {
    set_timeouts(fd, 0);
    return tls_stream(fd, ssl);
  }
  int err = SSL_get_error(ssl, rc);
  long verify = SSL_get_verify_result(ssl);
  const char* hint = " (does it serve TLS? for a plain listener use GPUPOOL_REMOTE=host:port)";
  if (verify != X509_V_OK) {
    *error = prefix + "its certificate does not verify for '" + verify_host_ + "' against " + trust_name_ + " (" +
             X509_verify_cert_error_string(verify) + ")";
  } else if (err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE ||
             (err == SSL_ERROR_SYSCALL && (errno == EAGAIN || errno == EWOULDBLOCK))) {
    // SO_RCVTIMEO/SO_SNDTIMEO ran out (the socket's EAGAIN reads as "retry").
    *error = prefix + "no answer in " + std::to_string(kHandshakeSeconds) + " s" + hint;
  } else if (err == SSL_ERROR_SYSCALL || err == SSL_ERROR_ZERO_RETURN) {
    *error = prefix + "the connection closed" + (errno != 0 ? std::string(": ") + std::strerror(errno) : "") + hint;
  } else {
    *error = prefix + openssl_reason("protocol error") + hint;
  }
  SSL_free(ssl);
  ::close(fd);
  return nullptr;
}

}  // namespace gpupool::remote
