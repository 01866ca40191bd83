// wire_test.cc — the remote driver's protobuf wire code (native/remote/wire.h).
//
//   remote_wire_test                    round trips, edge cases, malformed input
//   remote_wire_test --encode NAME OUT  writes this encoder's bytes of golden case
//                                       NAME (golden/client_NAME.txtpb) to OUT
//   remote_wire_test --decode NAME IN   decodes protoc's bytes of golden case
//                                       NAME (golden/server_NAME.txtpb), checks fields
// check_protoc.cmake compares --encode with `protoc --encode` and feeds
// `protoc --encode` output to --decode: the bytes are those protobuf-java reads
// and writes.
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>

#include "wire.h"

using namespace gpupool::remote::wire;

namespace {
size_t wire_chunk_probe_size() { return kMaxChunkBytes; }  // the largest reply data

int g_failed = 0, g_checks = 0;
#define EXPECT(cond)                                                    \
  do {                                                                  \
    ++g_checks;                                                         \
    if (!(cond)) {                                                      \
      ++g_failed;                                                       \
      std::printf("%s:%d: EXPECT(%s) failed\n", __FILE__, __LINE__, #cond); \
    }                                                                   \
  } while (0)

std::string client_case(const std::string& name) {
  if (name == "hello") {
    Hello h;
    h.token = "gp_0123456789abcdef";
    h.memory_bytes = 4294967296ull;
    h.name = "saxpy";
    h.team = "ml";
    h.no_wait = true;
    h.client_cuda_version = 13000;
    return encode_hello(h);
  }
  if (name == "attach") {
    std::string secret;
    for (int i = 0; i < 31; ++i) secret.push_back(static_cast<char>(i));
    secret.push_back(static_cast<char>(0xff));
    return encode_attach(secret);
  }
  if (name == "calls") {
    std::string batch;
    auto add = [&](uint64_t seq, CallOp op, const Writer& w) {
      Writer c;
      c.mutable_data() = encode_call(seq, op, w);
      Writer wrap;
      wrap.message(1, c);
      batch += wrap.data();
    };
    Writer w;
    w.u64(1, 1048576);
    add(1, kMemAlloc, w);
    w.clear();
    w.u64(1, 140000000000000ull);
    w.u64(2, 1024);
    w.bytes(3, "hello", 5);
    w.u64(4, 7);
    w.boolean(5, true);
    add(2, kMemcpyHtoD, w);
    w.clear();
    w.u64(1, 1);
    w.i32(2, -5);
    add(3, kStreamCreate, w);
    w.clear();
    const char params[8] = {1, 0, 0, 0, 0, 0, static_cast<char>(0x80), 0x3f};
    LaunchHead head;  // as the launch path encodes it (remote/module_launch.cc)
    head.function = 99;
    head.grid[0] = 4, head.grid[1] = 1, head.grid[2] = 1;
    head.block[0] = 256, head.block[1] = 1, head.block[2] = 1;
    char body[kLaunchHeadMaxBytes + sizeof params];
    size_t size = 0;
    std::memcpy(encode_launch_kernel(body, head, sizeof params, &size), params, sizeof params);
    w.mutable_data().assign(body, size);
    add(4, kLaunchKernel, w);
    w.clear();
    w.u64(1, 4096);
    w.u64(2, 4294967295u);
    w.u64(3, 4);
    w.u64(4, 16);
    add(5, kMemset, w);
    w.clear();
    add(300, kCtxSynchronize, w);
    w.u64(1, 4096);
    w.u64(2, 3000000);
    add(301, kMemcpyDtoH, w);
    w.clear();
    w.u64(1, 5);
    w.str(2, "saxpy");
    add(302, kModuleGetFunction, w);
    w.clear();
    w.u64(1, 7);
    w.u64(2, 77);
    add(303, kLaunchHostFunc, w);
    Writer b;
    b.mutable_data() = batch;
    Writer msg;
    msg.message(3, b);
    return msg.data();
  }
  if (name == "host_func_done") return encode_host_func_done(77);
  return "";
}

bool check_server_case(const std::string& name, const std::string& bytes) {
  ServerMessage m;
  bool ok = decode_server_message(bytes.data(), bytes.size(), &m);
  EXPECT(ok);
  if (name == "welcome") {
    EXPECT(m.kind == ServerMessage::kWelcome);
    const Welcome& w = m.welcome;
    EXPECT(w.device.name == "gpupool test GPU");
    EXPECT(w.device.uuid == "0123456789abcdef");
    EXPECT(w.device.total_memory_bytes == 4294967296ull);
    EXPECT(w.device.cc_major == 9 && w.device.cc_minor == 0 && w.device.multiprocessor_count == 132);
    EXPECT(w.attributes.size() == 10);
    if (w.attributes.size() == 10) {
      EXPECT(w.attributes[0] == 1024 && w.attributes[4] == 2147483647);
      EXPECT(w.attributes[7] == -1 && w.attributes[8] == 0 && w.attributes[9] == 32);
    }
    EXPECT(w.driver_version == 13000);
    EXPECT(w.memory_limit_bytes == 2147483648ull);
    EXPECT(w.max_handles == 65536);
    EXPECT(w.max_allocation_bytes == 1073741824ull);
  } else if (name == "replies") {
    EXPECT(m.kind == ServerMessage::kReplies);
    EXPECT(m.replies.size() == 7);
    if (m.replies.size() != 7) return false;
    const auto& r = m.replies;
    EXPECT(r[0].seq == 7 && r[0].value == Reply::kHandle && r[0].handle == 140000000000000ull);
    EXPECT(r[1].value == Reply::kMemInfo && r[1].mem_free == 1000 && r[1].mem_total == 4294967296ull);
    EXPECT(r[2].value == Reply::kData && r[2].data_size == 3 &&
           std::memcmp(r[2].data, "abc", 3) == 0 && r[2].offset == 1048576 && r[2].last);
    EXPECT(r[3].value == Reply::kMilliseconds && r[3].milliseconds == 1.5f);
    EXPECT(r[4].value == Reply::kFunction && r[4].function_handle == 42 && r[4].params.size() == 2);
    if (r[4].params.size() == 2)
      EXPECT(r[4].params[0].offset == 0 && r[4].params[0].size == 4 && r[4].params[1].offset == 8 &&
             r[4].params[1].size == 8);
    EXPECT(r[5].value == Reply::kGlobal && r[5].global_dptr == 8192 && r[5].global_bytes == 16);
    EXPECT(r[6].seq == 13 && r[6].result == 700 && r[6].deferred_seq == 5 && r[6].value == Reply::kNone);
  } else if (name == "refused") {
    EXPECT(m.kind == ServerMessage::kRefused && m.refused_reason == 1 && m.message == "bad token");
  } else if (name == "host_func_ready") {
    EXPECT(m.kind == ServerMessage::kHostFuncReady && m.host_func_id == 77 && m.host_func_result == 700);
  } else {
    std::printf("unknown case %s\n", name.c_str());
    return false;
  }
  return true;
}

void test_varints() {
  for (uint64_t v : {0ull, 1ull, 127ull, 128ull, 300ull, 16383ull, 16384ull, 0xffffffffull,
                     0x7fffffffffffffffull, 0xffffffffffffffffull}) {
    std::string s;
    size_t n = append_varint(&s, v);
    EXPECT(n == s.size() && n == varint_size(v));
    const uint8_t* p = reinterpret_cast<const uint8_t*>(s.data());
    uint64_t back = 0;
    EXPECT(read_varint(&p, p + s.size(), &back) && back == v);
  }
  std::string s;
  append_varint(&s, 300);
  EXPECT(s == std::string("\xac\x02", 2));
  // Truncated and over-long varints are malformed.
  const uint8_t truncated[] = {0x80, 0x80};
  const uint8_t* p = truncated;
  uint64_t v = 0;
  EXPECT(!read_varint(&p, truncated + 2, &v));
  const uint8_t eleven[] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01};
  p = eleven;
  EXPECT(!read_varint(&p, eleven + 11, &v));
}

void test_writer() {
  Writer w;
  w.u64(1, 0);       // defaults are omitted
  w.i32(2, 0);
  w.bytes(3, "", 0);
  w.f32(4, 0.0f);
  EXPECT(w.size() == 0);
  w.i32(2, -1);      // negative int32: ten bytes
  EXPECT(w.size() == 11);
  Writer empty;
  Writer outer;
  outer.message(22, empty);  // an empty set oneof member is still written
  EXPECT(outer.data() == std::string("\xb2\x01\x00", 3));
}

// encode_launch_kernel writes what Writer writes for the same fields, at the extremes too.
void test_launch_encoding() {
  const uint64_t big = ~uint64_t{0};
  const uint32_t max32 = 0xffffffffu;
  struct Case {
    LaunchHead head;
    size_t params;
  };
  Case cases[3]{};  // value-initialised: case 0 is all zero
  cases[1].head.grid[0] = 1;  // everything else zero: omitted
  cases[1].params = 300;       // a two-byte length
  LaunchHead& h = cases[2].head;
  h.function = big;
  for (int i = 0; i < 3; ++i) h.grid[i] = h.block[i] = max32;
  h.shared_bytes = max32;
  h.stream = big;
  cases[2].params = 4;
  for (const Case& c : cases) {
    std::string params(c.params, '\x5a');
    Writer w;
    const uint64_t fields[9] = {c.head.function, c.head.grid[0], c.head.grid[1], c.head.grid[2],
                                c.head.block[0], c.head.block[1], c.head.block[2], c.head.shared_bytes,
                                c.head.stream};
    for (uint32_t i = 0; i < 9; ++i) w.u64(i + 1, fields[i]);
    w.bytes(10, params.data(), params.size());
    std::string body(kLaunchHeadMaxBytes + c.params, '\0');
    size_t size = 0;
    char* at = encode_launch_kernel(&body[0], c.head, c.params, &size);
    std::memcpy(at, params.data(), params.size());
    EXPECT(size <= body.size());
    body.resize(size);
    EXPECT(body == w.data());
    EXPECT(at + c.params == body.data() + size);
  }
}

void test_round_trip_replies() {
  // A ReplyBatch built with Writer, with an unknown field and unpacked ints.
  Writer fn;
  fn.u64(1, 77);
  Writer p1;
  p1.u64(1, 0);
  p1.u64(2, 8);
  fn.message(2, p1);
  Writer reply;
  reply.u64(1, 5);
  reply.u64(99, 12345);  // unknown: skipped
  reply.message(14, fn);
  Writer data_reply;
  data_reply.u64(1, 6);
  std::string big(wire_chunk_probe_size(), 'x');
  data_reply.bytes(12, big.data(), big.size());
  data_reply.u64(20, 3);
  Writer batch;
  batch.message(1, reply);
  batch.message(1, data_reply);
  Writer msg;
  msg.message(4, batch);
  ServerMessage m;
  EXPECT(decode_server_message(msg.data().data(), msg.size(), &m));
  EXPECT(m.kind == ServerMessage::kReplies && m.replies.size() == 2);
  if (m.replies.size() == 2) {
    EXPECT(m.replies[0].seq == 5 && m.replies[0].function_handle == 77 && m.replies[0].params.size() == 1);
    EXPECT(m.replies[1].data_size == big.size() && m.replies[1].offset == 3 && !m.replies[1].last);
  }
  // Welcome attributes not packed, and negative.
  Writer wel;
  wel.i32(2, -7);
  wel.i32(2, 9);
  Welcome w;
  EXPECT(decode_welcome(reinterpret_cast<const uint8_t*>(wel.data().data()), wel.size(), &w));
  EXPECT(w.attributes.size() == 2 && w.attributes[0] == -7 && w.attributes[1] == 9);
  // Hello round trip through the generic reader.
  Hello h;
  h.token = "t";
  h.memory_bytes = 5;
  std::string bytes = encode_hello(h);
  Reader r(bytes.data(), bytes.size());
  Field f;
  EXPECT(r.next(&f) && f.number == 1 && f.type == kLen);
  Reader inner(f.data, f.size);
  int fields = 0;
  while (inner.next(&f)) ++fields;
  EXPECT(inner.ok() && fields == 3);  // version, token, memory
}

void test_malformed() {
  ServerMessage m;
  const char bad_len[] = "\x22\x10\x0a";  // replies: length past the end
  EXPECT(!decode_server_message(bad_len, 3, &m));
  const char group[] = "\x0b";  // wire type 3 (group): not proto3
  EXPECT(!decode_server_message(group, 1, &m));
  const char field0[] = "\x00\x01";
  EXPECT(!decode_server_message(field0, 2, &m));
  EXPECT(!decode_server_message("", 0, &m));  // no message set
  const char reply_bad_ms[] = "\x22\x04\x0a\x02\x68\x01";  // milliseconds as a varint
  EXPECT(!decode_server_message(reply_bad_ms, 6, &m));
}

}  // namespace

// The largest data field a reply may carry.


int main(int argc, char** argv) {
  if (argc == 4 && std::strcmp(argv[1], "--encode") == 0) {
    std::string bytes = client_case(argv[2]);
    if (bytes.empty()) return 2;
    std::ofstream(argv[3], std::ios::binary) << bytes;
    return 0;
  }
  if (argc == 4 && std::strcmp(argv[1], "--decode") == 0) {
    std::ifstream in(argv[3], std::ios::binary);
    std::ostringstream s;
    s << in.rdbuf();
    bool ok = check_server_case(argv[2], s.str());
    std::printf("decode %s: %d checks, %d failed\n", argv[2], g_checks, g_failed);
    return ok && g_failed == 0 ? 0 : 1;
  }
  test_varints();
  test_writer();
  test_launch_encoding();
  test_round_trip_replies();
  test_malformed();
  std::printf("remote_wire_test: %d checks, %d failed\n", g_checks, g_failed);
  return g_failed == 0 ? 0 : 1;
}
