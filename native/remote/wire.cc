// wire.cc — see wire.h.
#include "wire.h"

#include <cstring>

namespace gpupool::remote::wire {

size_t append_varint(std::string* out, uint64_t v) {
  char buf[10];
  size_t n = 0;
  while (v >= 0x80) {
    buf[n++] = static_cast<char>((v & 0x7f) | 0x80);
    v >>= 7;
  }
  buf[n++] = static_cast<char>(v);
  out->append(buf, n);
  return n;
}

size_t varint_size(uint64_t v) {
  size_t n = 1;
  while (v >= 0x80) {
    v >>= 7;
    ++n;
  }
  return n;
}

void Writer::raw_varint(uint64_t v) { append_varint(&buf_, v); }

void Writer::u64(uint32_t field, uint64_t v) {
  if (v == 0) return;
  tag(field, kVarint);
  raw_varint(v);
}

void Writer::i32(uint32_t field, int32_t v) {
  if (v == 0) return;
  tag(field, kVarint);
  raw_varint(static_cast<uint64_t>(static_cast<int64_t>(v)));
}

void Writer::f32(uint32_t field, float v) {
  uint32_t bits;
  std::memcpy(&bits, &v, 4);
  if (bits == 0) return;  // +0.0 is the default; -0.0 is written, as protoc does
  tag(field, kFixed32);
  char b[4] = {static_cast<char>(bits), static_cast<char>(bits >> 8), static_cast<char>(bits >> 16),
               static_cast<char>(bits >> 24)};
  buf_.append(b, 4);
}

void Writer::bytes(uint32_t field, const void* data, size_t size) {
  if (size == 0) return;
  tag(field, kLen);
  raw_varint(size);
  buf_.append(static_cast<const char*>(data), size);
}

void Writer::message(uint32_t field, const Writer& sub) {
  tag(field, kLen);
  raw_varint(sub.size());
  buf_.append(sub.data());
}

void Writer::packed_i32(uint32_t field, const std::vector<int32_t>& values) {
  if (values.empty()) return;
  std::string body;
  for (int32_t v : values) append_varint(&body, static_cast<uint64_t>(static_cast<int64_t>(v)));
  tag(field, kLen);
  raw_varint(body.size());
  buf_.append(body);
}

bool read_varint(const uint8_t** p, const uint8_t* end, uint64_t* v) {
  uint64_t result = 0;
  for (int shift = 0; shift < 70; shift += 7) {
    if (*p == end) return false;
    uint8_t b = *(*p)++;
    if (shift == 63 && b > 1) return false;
    result |= uint64_t{b & 0x7fu} << shift;
    if ((b & 0x80) == 0) {
      *v = result;
      return true;
    }
  }
  return false;
}

bool Reader::varint(uint64_t* v) { return read_varint(&p_, end_, v); }

bool Reader::next(Field* f) {
  if (!ok_ || p_ == end_) return false;
  uint64_t key = 0;
  if (!varint(&key) || (key >> 3) == 0 || (key >> 3) > 0x1fffffff) return ok_ = false;
  f->number = static_cast<uint32_t>(key >> 3);
  f->type = static_cast<WireType>(key & 7);
  f->varint = 0;
  f->data = nullptr;
  f->size = 0;
  switch (key & 7) {
    case kVarint:
      if (!varint(&f->varint)) return ok_ = false;
      return true;
    case kFixed64:
      if (end_ - p_ < 8) return ok_ = false;
      for (int i = 0; i < 8; ++i) f->varint |= uint64_t{p_[i]} << (8 * i);
      p_ += 8;
      return true;
    case kFixed32:
      if (end_ - p_ < 4) return ok_ = false;
      for (int i = 0; i < 4; ++i) f->varint |= uint64_t{p_[i]} << (8 * i);
      p_ += 4;
      return true;
    case kLen: {
      uint64_t n = 0;
      if (!varint(&n) || n > static_cast<uint64_t>(end_ - p_)) return ok_ = false;
      f->data = p_;
      f->size = static_cast<size_t>(n);
      p_ += n;
      return true;
    }
    default:  // groups (3, 4) and reserved types are not used by proto3
      return ok_ = false;
  }
}

namespace {

std::string client_message(uint32_t field, const Writer& body) {
  Writer w;
  w.message(field, body);
  return w.data();
}

std::string as_string(const Field& f) {
  return std::string(reinterpret_cast<const char*>(f.data), f.size);
}

bool decode_device(const uint8_t* data, size_t size, DeviceInfo* d) {
  Reader r(data, size);
  Field f;
  while (r.next(&f)) {
    switch (f.number) {
      case 1: d->ordinal = static_cast<int32_t>(f.varint); break;
      case 2: d->name = as_string(f); break;
      case 3: d->uuid = as_string(f); break;
      case 4: d->total_memory_bytes = f.varint; break;
      case 5: d->cc_major = static_cast<int32_t>(f.varint); break;
      case 6: d->cc_minor = static_cast<int32_t>(f.varint); break;
      case 7: d->multiprocessor_count = static_cast<int32_t>(f.varint); break;
      default: break;
    }
  }
  return r.ok();
}

bool decode_function(const uint8_t* data, size_t size, Reply* out) {
  Reader r(data, size);
  Field f;
  while (r.next(&f)) {
    if (f.number == 1 && f.type == kVarint) {
      out->function_handle = f.varint;
    } else if (f.number == 2 && f.type == kLen) {
      ParamInfo p;
      Reader pr(f.data, f.size);
      Field pf;
      while (pr.next(&pf)) {
        if (pf.number == 1) p.offset = static_cast<uint32_t>(pf.varint);
        if (pf.number == 2) p.size = static_cast<uint32_t>(pf.varint);
      }
      if (!pr.ok()) return false;
      out->params.push_back(p);
    }
  }
  return r.ok();
}

}  // namespace

std::string encode_hello(const Hello& h) {
  Writer w;
  w.u64(1, h.protocol_version);
  w.str(2, h.token);
  w.u64(3, h.memory_bytes);
  w.str(4, h.name);
  w.str(5, h.team);
  w.boolean(6, h.no_wait);
  w.u64(7, h.client_cuda_version);
  return client_message(1, w);
}

std::string encode_attach(const std::string& secret) {
  Writer w;
  w.str(1, secret);
  return client_message(2, w);
}

std::string encode_host_func_done(uint64_t id) {
  Writer w;
  w.u64(1, id);
  return client_message(4, w);
}

size_t call_size(uint64_t seq, CallOp op, size_t body_size) {
  size_t n = seq != 0 ? 1 + varint_size(seq) : 0;
  return n + varint_size((uint64_t{op} << 3) | kLen) + varint_size(body_size) + body_size;
}

void append_call_head(std::string* out, uint64_t seq, CallOp op, size_t body_size) {
  if (seq != 0) {
    out->push_back(static_cast<char>((1 << 3) | kVarint));
    append_varint(out, seq);
  }
  append_varint(out, (uint64_t{op} << 3) | kLen);
  append_varint(out, body_size);
}

char* encode_launch_kernel(char* out, const LaunchHead& h, size_t params_size, size_t* size) {
  const uint64_t fields[9] = {h.function, h.grid[0],  h.grid[1],      h.grid[2], h.block[0],
                              h.block[1], h.block[2], h.shared_bytes, h.stream};
  char* p = out;
  for (uint32_t i = 0; i < 9; ++i) {
    if (fields[i] == 0) continue;  // proto3 default
    *p++ = static_cast<char>(((i + 1) << 3) | kVarint);
    p = put_varint(p, fields[i]);
  }
  if (params_size > 0) {
    *p++ = static_cast<char>((10 << 3) | kLen);
    p = put_varint(p, params_size);
  }
  *size = static_cast<size_t>(p - out) + params_size;
  return p;
}

std::string encode_call(uint64_t seq, CallOp op, const Writer& body) {
  std::string out;
  out.reserve(call_size(seq, op, body.size()));
  append_call_head(&out, seq, op, body.size());
  out.append(body.data());
  return out;
}

bool decode_welcome(const uint8_t* data, size_t size, Welcome* out) {
  Reader r(data, size);
  Field f;
  while (r.next(&f)) {
    switch (f.number) {
      case 1:
        if (f.type != kLen || !decode_device(f.data, f.size, &out->device)) return false;
        break;
      case 2:
        if (f.type == kVarint) {
          out->attributes.push_back(static_cast<int32_t>(f.varint));
        } else if (f.type == kLen) {  // packed
          const uint8_t* p = f.data;
          const uint8_t* end = f.data + f.size;
          while (p != end) {
            uint64_t v = 0;
            if (!read_varint(&p, end, &v)) return false;
            out->attributes.push_back(static_cast<int32_t>(v));
          }
        }
        break;
      case 3: out->driver_version = static_cast<int32_t>(f.varint); break;
      case 4: out->memory_limit_bytes = f.varint; break;
      case 5: out->max_handles = static_cast<uint32_t>(f.varint); break;
      case 6: out->max_allocation_bytes = f.varint; break;
      default: break;
    }
  }
  return r.ok();
}

bool decode_reply(const uint8_t* data, size_t size, Reply* out) {
  Reader r(data, size);
  Field f;
  while (r.next(&f)) {
    switch (f.number) {
      case 1: out->seq = f.varint; break;
      case 2: out->result = static_cast<int32_t>(f.varint); break;
      case 3: out->deferred_seq = f.varint; break;
      case 10: out->value = Reply::kHandle; out->handle = f.varint; break;
      case 11: {
        if (f.type != kLen) return false;
        out->value = Reply::kMemInfo;
        Reader m(f.data, f.size);
        Field mf;
        while (m.next(&mf)) {
          if (mf.number == 1) out->mem_free = mf.varint;
          if (mf.number == 2) out->mem_total = mf.varint;
        }
        if (!m.ok()) return false;
        break;
      }
      case 12:
        if (f.type != kLen) return false;
        out->value = Reply::kData;
        out->data = f.data;
        out->data_size = f.size;
        break;
      case 13: {
        if (f.type != kFixed32) return false;
        out->value = Reply::kMilliseconds;
        uint32_t bits = static_cast<uint32_t>(f.varint);
        std::memcpy(&out->milliseconds, &bits, 4);
        break;
      }
      case 14:
        if (f.type != kLen) return false;
        out->value = Reply::kFunction;
        out->params.clear();
        if (!decode_function(f.data, f.size, out)) return false;
        break;
      case 15: {
        if (f.type != kLen) return false;
        out->value = Reply::kGlobal;
        Reader g(f.data, f.size);
        Field gf;
        while (g.next(&gf)) {
          if (gf.number == 1) out->global_dptr = gf.varint;
          if (gf.number == 2) out->global_bytes = gf.varint;
        }
        if (!g.ok()) return false;
        break;
      }
      case 16: out->value = Reply::kNumber; out->number = f.varint; break;
      case 20: out->offset = f.varint; break;
      case 21: out->last = f.varint != 0; break;
      default: break;
    }
  }
  return r.ok();
}

bool decode_server_message(const void* data, size_t size, ServerMessage* out) {
  Reader r(data, size);
  Field f;
  while (r.next(&f)) {
    if (f.type != kLen) continue;
    Reader m(f.data, f.size);
    Field mf;
    switch (f.number) {
      case 1:  // Queued
        out->kind = ServerMessage::kQueued;
        while (m.next(&mf)) {
          if (mf.number == 1) out->job_id = mf.varint;
          if (mf.number == 2) out->ahead = static_cast<uint32_t>(mf.varint);
          if (mf.number == 3) out->reason = as_string(mf);
        }
        break;
      case 2:  // Redirect
        out->kind = ServerMessage::kRedirect;
        while (m.next(&mf)) {
          if (mf.number == 1) out->host = as_string(mf);
          if (mf.number == 2) out->port = static_cast<uint32_t>(mf.varint);
          if (mf.number == 3) out->secret = as_string(mf);
          if (mf.number == 4) out->job_id = mf.varint;
        }
        break;
      case 3:
        out->kind = ServerMessage::kWelcome;
        if (!decode_welcome(f.data, f.size, &out->welcome)) return false;
        break;
      case 4:  // ReplyBatch
        out->kind = ServerMessage::kReplies;
        while (m.next(&mf)) {
          if (mf.number != 1 || mf.type != kLen) continue;
          out->replies.emplace_back();
          if (!decode_reply(mf.data, mf.size, &out->replies.back())) return false;
        }
        break;
      case 5:  // Refused
        out->kind = ServerMessage::kRefused;
        while (m.next(&mf)) {
          if (mf.number == 1) out->refused_reason = static_cast<int32_t>(mf.varint);
          if (mf.number == 2) out->message = as_string(mf);
        }
        break;
      case 6:  // HostFuncReady
        out->kind = ServerMessage::kHostFuncReady;
        while (m.next(&mf)) {
          if (mf.number == 1) out->host_func_id = mf.varint;
          if (mf.number == 2) out->host_func_result = static_cast<int32_t>(mf.varint);
        }
        break;
      default:
        break;
    }
    if (!m.ok()) return false;
  }
  return r.ok() && out->kind != ServerMessage::kUnknown;
}

}  // namespace gpupool::remote::wire
