// tls_socket_bio.cc — the BIO under the forwarding driver's TLS (tls_stream.h):
// OpenSSL's own socket BIO write()s, which raises SIGPIPE once the worker is
// gone and kills the program, where the plain stream's send(MSG_NOSIGNAL)
// returns an error that becomes CUDA_ERROR_DEVICE_UNAVAILABLE. This one
// sends with MSG_NOSIGNAL; EAGAIN and EWOULDBLOCK become OpenSSL's "retry"
// (the stream's socket is non-blocking once the handshake is done).
#include <errno.h>
#include <openssl/bio.h>
#include <sys/socket.h>

#include <cstdint>

#include "tls_stream.h"

namespace gpupool::remote {
namespace {

int fd_of(BIO* b) { return static_cast<int>(reinterpret_cast<intptr_t>(BIO_get_data(b))); }

bool retryable(int err) { return err == EAGAIN || err == EWOULDBLOCK; }

int write_ex(BIO* b, const char* data, size_t size, size_t* written) {
  BIO_clear_retry_flags(b);
  for (;;) {
    ssize_t n = ::send(fd_of(b), data, size, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n >= 0) {
      *written = static_cast<size_t>(n);
      return 1;
    }
    if (retryable(errno)) BIO_set_retry_write(b);
    return 0;
  }
}

int read_ex(BIO* b, char* data, size_t size, size_t* got) {
  BIO_clear_retry_flags(b);
  for (;;) {
    ssize_t n = ::recv(fd_of(b), data, size, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n > 0) {
      *got = static_cast<size_t>(n);
      return 1;
    }
    if (n == 0) BIO_set_flags(b, BIO_FLAGS_IN_EOF);  // the peer closed: BIO_eof() says so
    else if (retryable(errno)) BIO_set_retry_read(b);
    return 0;
  }
}

long ctrl(BIO* b, int cmd, long, void*) {
  // Nothing is buffered here: flushing succeeds, EOF is what read_ex saw,
  // every other question is "no".
  if (cmd == BIO_CTRL_FLUSH) return 1;
  if (cmd == BIO_CTRL_EOF) return BIO_test_flags(b, BIO_FLAGS_IN_EOF) != 0;
  return 0;
}

int create(BIO* b) {
  BIO_set_init(b, 1);
  return 1;
}

BIO_METHOD* method() {
  static BIO_METHOD* m = [] {
    BIO_METHOD* made = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK | BIO_TYPE_DESCRIPTOR,
                                    "gpupool socket");
    if (made != nullptr) {
      BIO_meth_set_write_ex(made, write_ex);
      BIO_meth_set_read_ex(made, read_ex);
      BIO_meth_set_ctrl(made, ctrl);
      BIO_meth_set_create(made, create);
    }
    return made;
  }();
  return m;
}

}  // namespace

BIO* socket_bio(int fd) {
  BIO_METHOD* m = method();
  BIO* b = m != nullptr ? BIO_new(m) : nullptr;
  if (b != nullptr) BIO_set_data(b, reinterpret_cast<void*>(static_cast<intptr_t>(fd)));
  return b;
}

}  // namespace gpupool::remote
