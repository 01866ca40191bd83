// wire.h — a hand-written protobuf wire encoder/decoder for exactly the
// messages of proto/gpupool/v1/remote.proto that the native client uses.
//
// Contract
//   The forwarding libcuda must not link libprotobuf (it would clash with the
//   host process's copy), so this file speaks the protobuf wire format itself:
//   varints, length-delimited fields and fixed32 (float). Writer emits fields
//   in the order it is called; callers write them in field-number order and
//   omit proto3 defaults, so the bytes equal protoc's serialisation (checked
//   against golden bytes from `protoc --encode` in ctest). Reader accepts any
//   valid encoding: unknown fields are skipped, repeated scalars may be packed
//   or not, a later value of a field replaces an earlier one.
//
// Ownership
//   Writer owns its bytes. Decoded messages that contain `bytes` fields
//   (Reply::data) point into the buffer they were decoded from and are valid
//   only while that buffer is.
//
// Threading
//   No shared state; each object is used by one thread at a time.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace gpupool::remote::wire {

constexpr uint32_t kProtocolVersion = 1;     // RemoteLimits.PROTOCOL_VERSION
constexpr size_t kMaxFrameBytes = 4194304;   // RemoteLimits.MAX_FRAME_BYTES
constexpr size_t kMaxChunkBytes = 1048576;   // RemoteLimits.MAX_CHUNK_BYTES

enum WireType { kVarint = 0, kFixed64 = 1, kLen = 2, kFixed32 = 5 };

class Writer {
 public:
  void raw_varint(uint64_t v);
  void tag(uint32_t field, WireType type) { raw_varint((uint64_t{field} << 3) | type); }
  // Scalars: omitted when zero (proto3 default), as protoc does.
  void u64(uint32_t field, uint64_t v);
  void i32(uint32_t field, int32_t v);  // negative: ten bytes, sign-extended
  void boolean(uint32_t field, bool v) { u64(field, v ? 1 : 0); }
  void f32(uint32_t field, float v);
  void bytes(uint32_t field, const void* data, size_t size);  // omitted when empty
  void str(uint32_t field, const std::string& s) { bytes(field, s.data(), s.size()); }
  // A nested message: always written (a set oneof member, even when empty).
  void message(uint32_t field, const Writer& sub);
  void packed_i32(uint32_t field, const std::vector<int32_t>& values);

  const std::string& data() const { return buf_; }
  std::string& mutable_data() { return buf_; }
  size_t size() const { return buf_.size(); }
  void clear() { buf_.clear(); }

 private:
  std::string buf_;
};

// Writes the varint encoding of v at p; returns the end (at most 10 bytes).
inline char* put_varint(char* p, uint64_t v) {
  while (v >= 0x80) {
    *p++ = static_cast<char>((v & 0x7f) | 0x80);
    v >>= 7;
  }
  *p++ = static_cast<char>(v);
  return p;
}

// Appends the varint encoding of v to *out; returns the number of bytes.
size_t append_varint(std::string* out, uint64_t v);
// Bytes a varint of v takes.
size_t varint_size(uint64_t v);

struct Field {
  uint32_t number = 0;
  WireType type = kVarint;
  uint64_t varint = 0;     // kVarint; kFixed32/kFixed64 values too
  const uint8_t* data = nullptr;  // kLen
  size_t size = 0;
};

class Reader {
 public:
  Reader(const void* data, size_t size)
      : p_(static_cast<const uint8_t*>(data)), end_(p_ + size) {}
  // The next field; false at the end or on malformed input (then !ok()).
  bool next(Field* f);
  bool ok() const { return ok_; }

 private:
  bool varint(uint64_t* v);
  const uint8_t* p_;
  const uint8_t* end_;
  bool ok_ = true;
};

// Decodes a base-128 varint from [*p, end); advances *p. False if malformed.
bool read_varint(const uint8_t** p, const uint8_t* end, uint64_t* v);

// ---- messages --------------------------------------------------------------

struct Hello {
  uint32_t protocol_version = kProtocolVersion;
  std::string token;
  uint64_t memory_bytes = 0;
  std::string name;
  std::string team;
  bool no_wait = false;
  uint32_t client_cuda_version = 0;
};

// ClientMessage{hello} / ClientMessage{attach}.
std::string encode_hello(const Hello& h);
std::string encode_attach(const std::string& secret);
// ClientMessage{host_func_done{id}}.
std::string encode_host_func_done(uint64_t id);

struct DeviceInfo {
  int32_t ordinal = 0;
  std::string name;
  std::string uuid;
  uint64_t total_memory_bytes = 0;
  int32_t cc_major = 0, cc_minor = 0, multiprocessor_count = 0;
};

struct Welcome {
  DeviceInfo device;
  std::vector<int32_t> attributes;
  int32_t driver_version = 0;
  uint64_t memory_limit_bytes = 0;
  uint32_t max_handles = 0;
  uint64_t max_allocation_bytes = 0;
};

struct ParamInfo {
  uint32_t offset = 0, size = 0;
};

struct Reply {
  enum Value { kNone = 0, kHandle = 10, kMemInfo = 11, kData = 12, kMilliseconds = 13,
               kFunction = 14, kGlobal = 15, kNumber = 16 };
  uint64_t seq = 0;
  int32_t result = 0;
  uint64_t deferred_seq = 0;
  Value value = kNone;
  uint64_t handle = 0;
  uint64_t mem_free = 0, mem_total = 0;
  const uint8_t* data = nullptr;  // into the decoded buffer
  size_t data_size = 0;
  float milliseconds = 0;
  uint64_t function_handle = 0;
  std::vector<ParamInfo> params;
  uint64_t global_dptr = 0, global_bytes = 0;
  uint64_t number = 0;  // granularity, access flags
  uint64_t offset = 0;
  bool last = false;
};

struct ServerMessage {
  enum Kind { kUnknown = 0, kQueued = 1, kRedirect = 2, kWelcome = 3, kReplies = 4, kRefused = 5,
              kHostFuncReady = 6 };
  Kind kind = kUnknown;
  // Queued
  uint64_t job_id = 0;
  uint32_t ahead = 0;
  std::string reason;
  // Redirect
  std::string host;
  uint32_t port = 0;
  std::string secret;
  // Welcome
  Welcome welcome;
  // ReplyBatch
  std::vector<Reply> replies;
  // Refused
  int32_t refused_reason = 0;
  std::string message;
  // HostFuncReady
  uint64_t host_func_id = 0;
  int32_t host_func_result = 0;
};

// False on malformed input.
bool decode_server_message(const void* data, size_t size, ServerMessage* out);
bool decode_reply(const uint8_t* data, size_t size, Reply* out);
bool decode_welcome(const uint8_t* data, size_t size, Welcome* out);

// Call field numbers (Call.op).
enum CallOp : uint32_t {
  kMemAlloc = 10, kMemGetInfo = 11, kMemcpyDtoH = 12, kModuleLoadData = 13,
  kModuleGetFunction = 14, kStreamCreate = 15, kStreamSynchronize = 16, kStreamQuery = 17,
  kEventCreate = 18, kEventSynchronize = 19, kEventQuery = 20, kEventElapsedTime = 21,
  kCtxSynchronize = 22, kBarrier = 23, kModuleGetGlobal = 24,
  kMemGetAllocationGranularity = 25, kMemCreate = 26, kMemRelease = 27, kMemAddressReserve = 28,
  kMemAddressFree = 29, kMemMap = 30, kMemUnmap = 31, kMemSetAccess = 32, kMemGetAccess = 33,
  kMemAllocAsync = 34,
  kMemFree = 40, kMemcpyHtoD = 41, kMemcpyDtoD = 42, kMemset = 43, kLaunchKernel = 44,
  kEventRecord = 45, kStreamWaitEvent = 46, kModuleUnload = 47, kStreamDestroy = 48,
  kEventDestroy = 49, kLaunchHostFunc = 50, kMemFreeAsync = 51,
};

// LaunchKernel without its params: the launch path encodes it into the caller's memory with no
// allocation (Writer's string costs more than the rest of a pipelined launch on the client).
struct LaunchHead {
  uint64_t function = 0;
  uint32_t grid[3] = {}, block[3] = {};
  uint32_t shared_bytes = 0;
  uint64_t stream = 0;
};
// The most bytes a LaunchKernel body takes besides its params.
constexpr size_t kLaunchHeadMaxBytes = 9 * 11 + 1 + 5;
// Writes LaunchKernel{head..., params = <params_size bytes>} at out, which has room for
// kLaunchHeadMaxBytes + params_size bytes; *size is the body's size. Returns where the
// params_size bytes of `params` go: the caller writes them there (the field is omitted when
// params_size is 0, as protoc omits an empty bytes field).
char* encode_launch_kernel(char* out, const LaunchHead& head, size_t params_size, size_t* size);

// Call{seq, op = body}: the bytes of one Call message.
std::string encode_call(uint64_t seq, CallOp op, const Writer& body);
// The size of that Call when its body is body_size bytes, and its bytes up to
// the body (the caller appends the body's body_size bytes after them).
size_t call_size(uint64_t seq, CallOp op, size_t body_size);
void append_call_head(std::string* out, uint64_t seq, CallOp op, size_t body_size);

}  // namespace gpupool::remote::wire
