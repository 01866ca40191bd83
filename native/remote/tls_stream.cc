// tls_stream.cc — the TLS ByteStream (tls_stream.h): OpenSSL on a
// non-blocking socket, every OpenSSL call under one mutex, waits in poll()
// outside it (a receiver waiting for a reply must not stop a sender).
#include <errno.h>
#include <fcntl.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <sys/uio.h>
#include <unistd.h>

#include <mutex>
#include <string>

#include "tls_stream.h"

namespace gpupool::remote {
namespace {

// A TLS record carries at most 16 KiB: smaller pieces of one send are gathered
// into a record (TLS copies every byte anyway), larger ones written as they are.
constexpr size_t kRecordBytes = 16 << 10;

class TlsStream final : public ByteStream {
 public:
  TlsStream(int fd, SSL* ssl) : fd_(fd), ssl_(ssl) {}
  ~TlsStream() override {
    // No close_notify: the worker ends the session when the socket closes, as
    // for a plain stream.
    SSL_free(ssl_);
    ::close(fd_);
  }

  bool send_all(iovec* iov, int count) override {
    for (int i = 0; i < count; ++i) {
      const char* p = static_cast<const char*>(iov[i].iov_base);
      size_t n = iov[i].iov_len;
      if (n >= kRecordBytes) {
        if (!send_gathered() || !write(p, n)) return false;
      } else {
        if (gathered_.size() + n > kRecordBytes && !send_gathered()) return false;
        gathered_.append(p, n);
      }
    }
    return send_gathered();
  }

  ssize_t recv_some(void* buf, size_t size) override {
    for (;;) {
      size_t got = 0;
      int err = SSL_ERROR_NONE;
      {
        std::lock_guard<std::mutex> lock(mutex_);
        ERR_clear_error();
        if (SSL_read_ex(ssl_, buf, size, &got) != 1) err = SSL_get_error(ssl_, 0);
      }
      if (err == SSL_ERROR_NONE) return static_cast<ssize_t>(got);
      if (err == SSL_ERROR_ZERO_RETURN) return 0;
      if (!wait(err)) return -1;
    }
  }

  ssize_t recv_some_iov(iovec* iov, int count) override {
    // Into the first buffer as recv_some; on into the next ones only what is
    // already decrypted (reading more could wait).
    ssize_t first = recv_some(iov[0].iov_base, iov[0].iov_len);
    if (first <= 0 || static_cast<size_t>(first) < iov[0].iov_len) return first;
    size_t total = static_cast<size_t>(first);
    std::lock_guard<std::mutex> lock(mutex_);
    for (int i = 1; i < count && SSL_pending(ssl_) > 0; ++i) {
      size_t got = 0;
      ERR_clear_error();
      if (SSL_read_ex(ssl_, iov[i].iov_base, iov[i].iov_len, &got) != 1) break;
      total += got;
      if (got < iov[i].iov_len) break;
    }
    return static_cast<ssize_t>(total);
  }

  bool has_buffered() const override {
    std::lock_guard<std::mutex> lock(mutex_);
    return SSL_pending(ssl_) > 0;
  }

  int fd() const override { return fd_; }

 private:
  bool send_gathered() {
    if (gathered_.empty()) return true;
    bool ok = write(gathered_.data(), gathered_.size());
    gathered_.clear();
    return ok;
  }

  bool write(const char* p, size_t n) {
    while (n > 0) {
      size_t done = 0;
      int err = SSL_ERROR_NONE;
      {
        std::lock_guard<std::mutex> lock(mutex_);
        ERR_clear_error();
        if (SSL_write_ex(ssl_, p, n, &done) != 1) err = SSL_get_error(ssl_, 0);
      }
      if (err == SSL_ERROR_NONE) {
        p += done;
        n -= done;
      } else if (!wait(err)) {
        return false;
      }
    }
    return true;
  }

  // Waits until the socket can do what OpenSSL asked for; false: a real error.
  bool wait(int err) const {
    short events = err == SSL_ERROR_WANT_READ ? POLLIN : err == SSL_ERROR_WANT_WRITE ? POLLOUT : 0;
    if (events == 0) return false;
    pollfd p{fd_, events, 0};
    for (;;) {
      int rc = ::poll(&p, 1, -1);
      if (rc > 0) return true;
      if (rc < 0 && errno != EINTR) return false;
    }
  }

  const int fd_;
  SSL* const ssl_;
  mutable std::mutex mutex_;  // every OpenSSL call on ssl_
  std::string gathered_;      // send side only (one sender at a time)
};

}  // namespace

std::unique_ptr<ByteStream> tls_stream(int fd, SSL* ssl) {
  // Partial writes: a record written is progress (SSL_write_ex then returns
  // after each one rather than holding the mutex across a blocked send).
  SSL_set_mode(ssl, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
  ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK);
  return std::make_unique<TlsStream>(fd, ssl);
}

}  // namespace gpupool::remote
