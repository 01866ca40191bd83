// ptx.h — what the sim needs to know of a PTX module, and the parser that
// reads it.
//
// The sim does not execute PTX. It reads the module-level structure the driver
// exposes through the API: the kernels (.entry) with their parameter layout
// (cuFuncGetParamInfo, launch-time argument copies), module-scope variables
// (.global / .const, for cuModuleGetGlobal) and the header directives
// (.version, .target). Function bodies are skipped.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace gpupool::sim::ptx {

struct Param {
  std::string name;
  size_t offset = 0;  // in the kernel's parameter buffer
  size_t size = 0;
  size_t align = 1;
};

struct Entry {
  std::string name;
  std::vector<Param> params;
  size_t param_bytes = 0;        // end of the last parameter
  unsigned max_threads = 0;      // from .maxntid / .reqntid; 0: not given
  unsigned reqntid[3] = {0, 0, 0};  // .reqntid; 0: not given
};

struct Variable {
  std::string name;
  bool constant = false;  // .const (else .global)
  size_t size = 0;
  size_t align = 1;
  std::vector<uint8_t> init;  // numeric initialiser bytes (a prefix; the rest is zero)
};

struct Module {
  int version_major = 0;  // .version major.minor (PTX ISA)
  int version_minor = 0;
  int target_sm = 0;      // .target sm_NN -> NN (first target)
  int address_size = 64;
  std::vector<Entry> entries;       // defined kernels, in file order
  std::vector<Variable> variables;  // module-scope .global / .const with storage
};

enum class ParseResult {
  kOk,
  kNotPtx,    // no .version directive: not PTX at all (the driver: CUDA_ERROR_INVALID_IMAGE)
  kInvalid,   // PTX that does not parse (the driver: CUDA_ERROR_INVALID_PTX)
};

// Parses PTX text; on failure `error` says why (unbalanced braces or
// parentheses, no .target, a duplicate .entry, a malformed .version, entry
// parameter or variable declaration, an unknown instruction).
ParseResult parse(const std::string& text, Module* out, std::string* error);

// Size in bytes of a PTX fundamental type (".u32" -> 4); 0 if not one.
size_t type_size(const std::string& type);

// Internals of the parser shared by ptx.cc and ptx_detail.cc.
namespace detail {

using Tokens = std::vector<std::string>;

// The leaf values of the initializer tokens[begin, end) ("{1, 2}",
// "{{1,2},{3,4}}" or a scalar), each as its tokens ("-", "1").
std::vector<Tokens> initializer_leaves(const Tokens& t, size_t begin, size_t end);

// Encodes a numeric leaf as `type` (little-endian, type_size bytes into out[8]).
// False for anything else (address expressions such as generic(sym)).
bool encode_leaf(const Tokens& leaf, const std::string& type, uint8_t* out);

// Checks a function body tokens[begin, end): every statement is a directive,
// a label, or an instruction with a known PTX opcode.
bool check_body(const Tokens& t, size_t begin, size_t end, std::string* error);

}  // namespace detail

}  // namespace gpupool::sim::ptx
