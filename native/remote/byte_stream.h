// byte_stream.h — the byte transport under a Connection: a connected TCP
// socket, read and written directly (plain_stream.cc), or TLS over one
// (tls_stream.cc).
//
// Contract
//   send_all() sends every byte of iov[0, count) or fails; it may advance the
//   iovecs. recv_some() and recv_some_iov() wait until at least one byte is
//   there and return how many were read (scattered over the iovecs in order),
//   0 when the peer closed the stream, -1 on an error. has_buffered() says
//   whether bytes were received that poll() on fd() no longer shows (the rest
//   of a decrypted TLS record): recv_some() returns them without waiting, and
//   a reader that only polls fd() must take them first.
//   A broken stream stays broken; the owner reports it (no message here).
//
// Threading
//   One sender and one receiver may use a stream at the same time (the
//   Connection's send and call locks); two senders or two receivers may not.
//
// Ownership
//   The stream owns its socket and closes it when destroyed.
#pragma once

#include <sys/types.h>

#include <memory>
#include <string>

struct iovec;

namespace gpupool::remote {

class ByteStream {
 public:
  virtual ~ByteStream() = default;
  virtual bool send_all(struct iovec* iov, int count) = 0;
  virtual ssize_t recv_some(void* buf, size_t size) = 0;
  virtual ssize_t recv_some_iov(struct iovec* iov, int count) = 0;
  virtual bool has_buffered() const = 0;
  virtual int fd() const = 0;
};

// A TCP connection to host:port with TCP_NODELAY; -1 when no address answers
// (*error says why: resolution or the last connect's errno).
int connect_tcp(const std::string& host, const std::string& port, std::string* error);

// The plain stream over a connected socket: every call is one send/recv
// system call on it (no copy, no buffering).
std::unique_ptr<ByteStream> plain_stream(int fd);

}  // namespace gpupool::remote
