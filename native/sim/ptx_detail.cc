// ptx_detail.cc — the parts of the PTX reader that look inside statements:
// initialiser values of module variables, and a check of function bodies.
//
// The body check does not interpret code. It makes sure each statement is a
// directive, a label or an instruction whose opcode PTX defines, so that text
// which is not PTX inside an .entry fails to load with CUDA_ERROR_INVALID_PTX
// as the driver's JIT would fail it, rather than loading silently.
#include <cstdlib>
#include <cstring>
#include <set>

#include "ptx.h"

namespace gpupool::sim::ptx::detail {

std::vector<Tokens> initializer_leaves(const Tokens& t, size_t begin, size_t end) {
  std::vector<Tokens> leaves;
  Tokens leaf;
  for (size_t i = begin; i < end; ++i) {
    if (t[i] == "{" || t[i] == "}" || t[i] == ",") {
      if (!leaf.empty()) leaves.push_back(leaf);
      leaf.clear();
    } else {
      leaf.push_back(t[i]);
    }
  }
  if (!leaf.empty()) leaves.push_back(leaf);
  return leaves;
}

bool encode_leaf(const Tokens& leaf, const std::string& type, uint8_t* out) {
  size_t i = 0;
  bool negative = false;
  if (leaf.size() == 2 && (leaf[0] == "-" || leaf[0] == "+")) {
    negative = leaf[0] == "-";
    i = 1;
  } else if (leaf.size() != 1) {
    return false;
  }
  std::string s = leaf[i];
  size_t size = type_size(type);
  bool is_float = type[1] == 'f';
  uint64_t bits = 0;
  if (s.size() == 10 && (s.compare(0, 2, "0f") == 0 || s.compare(0, 2, "0F") == 0)) {
    uint32_t b32 = static_cast<uint32_t>(std::strtoul(s.c_str() + 2, nullptr, 16));
    if (size == 8) {
      float f;
      std::memcpy(&f, &b32, 4);
      double d = negative ? -double(f) : double(f);
      std::memcpy(&bits, &d, 8);
    } else {
      bits = negative ? (b32 ^ 0x80000000u) : b32;
    }
  } else if (s.size() == 18 && (s.compare(0, 2, "0d") == 0 || s.compare(0, 2, "0D") == 0)) {
    bits = std::strtoull(s.c_str() + 2, nullptr, 16);
    if (negative) bits ^= uint64_t{1} << 63;
    if (size == 4) {
      double d;
      std::memcpy(&d, &bits, 8);
      float f = static_cast<float>(d);
      uint32_t b32;
      std::memcpy(&b32, &f, 4);
      bits = b32;
    }
  } else if (is_float || s.find_first_of(".eE") != std::string::npos) {
    char* end = nullptr;
    double d = std::strtod(s.c_str(), &end);
    if (end == s.c_str() || *end != '\0') return false;
    if (negative) d = -d;
    if (is_float && size == 4) {
      float f = static_cast<float>(d);
      uint32_t b32;
      std::memcpy(&b32, &f, 4);
      bits = b32;
    } else if (is_float) {
      std::memcpy(&bits, &d, 8);
    } else {
      bits = static_cast<uint64_t>(static_cast<int64_t>(d));
    }
  } else {
    if (!s.empty() && (s.back() == 'U' || s.back() == 'u')) s.pop_back();
    char* end = nullptr;
    if (s.size() > 2 && (s.compare(0, 2, "0b") == 0 || s.compare(0, 2, "0B") == 0)) {
      bits = std::strtoull(s.c_str() + 2, &end, 2);
    } else {
      bits = std::strtoull(s.c_str(), &end, 0);
    }
    if (s.empty() || end == nullptr || *end != '\0') return false;
    if (negative) bits = ~bits + 1;
    if (is_float) {  // an integer for a float variable: its value
      double d = negative ? -double(~bits + 1) : double(bits);
      if (size == 4) {
        float f = static_cast<float>(d);
        uint32_t b32;
        std::memcpy(&b32, &f, 4);
        bits = b32;
      } else {
        std::memcpy(&bits, &d, 8);
      }
    }
  }
  for (size_t k = 0; k < size && k < 8; ++k) out[k] = static_cast<uint8_t>(bits >> (8 * k));
  return true;
}

namespace {

// Instruction opcodes of PTX ISA 9.0 (the part before the first '.').
const std::set<std::string>& opcodes() {
  static const auto* set = new std::set<std::string>{
      "abs", "activemask", "add", "addc", "alloca", "and", "applypriority", "atom", "bar",
      "barrier", "bfe", "bfi", "bfind", "bmsk", "bra", "brev", "brkpt", "brx", "call",
      "clusterlaunchcontrol", "clz", "cnot", "copysign", "cos", "cp", "createpolicy", "cvt",
      "cvta", "discard", "div", "dp2a", "dp4a", "elect", "ex2", "exit", "fence", "fma", "fns",
      "getctarank", "griddepcontrol", "isspacep", "istypeof", "ld", "ldmatrix", "ldu", "lg2",
      "lop3", "mad", "mad24", "madc", "mapa", "match", "max", "mbarrier", "membar", "min", "mma",
      "mov", "movmatrix", "mul", "mul24", "multimem", "nanosleep", "neg", "not", "or",
      "pmevent", "popc", "prefetch", "prefetchu", "prmt", "rcp", "red", "redux", "rem", "ret",
      "rsqrt", "sad", "selp", "set", "setmaxnreg", "setp", "shf", "shfl", "shl", "shr", "sin",
      "slct", "sqrt", "st", "stackrestore", "stacksave", "stmatrix", "sub", "subc", "suld",
      "suq", "sured", "sust", "szext", "tanh", "tcgen05", "tensormap", "testp", "tex", "tld4",
      "trap", "txq", "vabsdiff", "vabsdiff2", "vabsdiff4", "vadd", "vadd2", "vadd4", "vavrg2",
      "vavrg4", "vmad", "vmax", "vmax2", "vmax4", "vmin", "vmin2", "vmin4", "vote", "vset",
      "vset2", "vset4", "vshl", "vshr", "vsub", "vsub2", "vsub4", "wgmma", "wmma", "xor",
  };
  return *set;
}

bool check_statement(const Tokens& t, size_t begin, size_t end, std::string* error) {
  size_t i = begin;
  while (i + 1 < end && t[i + 1] == ":") i += 2;  // labels
  if (i == end || t[i][0] == '.') return true;    // empty, or a directive (.reg, .pragma, ...)
  if (t[i] == "@") {                               // guard predicate: @p, @!p
    ++i;
    if (i < end && t[i] == "!") ++i;
    ++i;
  }
  if (i >= end) return *error = "predicate without an instruction", false;
  const std::string& op = t[i];
  std::string root = op.substr(0, op.find('.'));
  if (opcodes().count(root) == 0) return *error = "unknown instruction '" + op + "'", false;
  return true;
}

}  // namespace

bool check_body(const Tokens& t, size_t begin, size_t end, std::string* error) {
  size_t start = begin;
  for (size_t i = begin; i <= end; ++i) {
    if (i == end || t[i] == ";" || t[i] == "{" || t[i] == "}") {
      if (!check_statement(t, start, i, error)) return false;
      start = i + 1;
    }
  }
  return true;
}

}  // namespace gpupool::sim::ptx::detail
