// ptx.cc — a structural PTX reader (see ptx.h).
//
// Comments are stripped, the text is split into tokens, and module-scope
// statements (up to ';' or a '{ body }') are classified by their directive:
// .version/.target/.address_size, .entry with its .param list and launch
// bounds, and .global/.const variables. Function bodies are only checked to
// consist of directives, labels and known instructions (ptx_detail.cc), so
// text that is not PTX fails to load as with the driver's JIT; .section
// blocks are skipped.
#include "ptx.h"

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <cstring>

namespace gpupool::sim::ptx {
namespace {

using detail::Tokens;
using detail::encode_leaf;
using detail::initializer_leaves;

bool is_word_char(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '$' || c == '%' ||
         c == '.';
}

// Removes // and /* */ comments, keeping string literals intact.
bool strip_comments(const std::string& in, std::string* out, std::string* error) {
  out->clear();
  out->reserve(in.size());
  for (size_t i = 0; i < in.size(); ++i) {
    char c = in[i];
    if (c == '"') {
      size_t end = in.find('"', i + 1);
      if (end == std::string::npos) return *error = "unterminated string literal", false;
      out->append(in, i, end - i + 1);
      i = end;
    } else if (c == '/' && i + 1 < in.size() && in[i + 1] == '/') {
      size_t end = in.find('\n', i);
      if (end == std::string::npos) break;
      i = end - 1;
    } else if (c == '/' && i + 1 < in.size() && in[i + 1] == '*') {
      size_t end = in.find("*/", i + 2);
      if (end == std::string::npos) return *error = "unterminated comment", false;
      out->push_back(' ');
      i = end + 1;
    } else {
      out->push_back(c);
    }
  }
  return true;
}

// Words ("sm_75", "%rd1", "9.0"; directives split at dots: ".ptr.global" ->
// ".ptr", ".global"), string literals, and single punctuation characters.
Tokens tokenize(const std::string& text) {
  Tokens tokens;
  size_t i = 0;
  while (i < text.size()) {
    char c = text[i];
    if (std::isspace(static_cast<unsigned char>(c))) {
      ++i;
    } else if (c == '"') {
      size_t end = text.find('"', i + 1);
      tokens.push_back(text.substr(i, end - i + 1));
      i = end + 1;
    } else if (is_word_char(c)) {
      size_t end = i;
      while (end < text.size() && is_word_char(text[end])) ++end;
      std::string word = text.substr(i, end - i);
      if (word[0] == '.') {
        size_t start = 0;
        while (start < word.size()) {
          size_t next = word.find('.', start + 1);
          if (next == std::string::npos) next = word.size();
          tokens.push_back(word.substr(start, next - start));
          start = next;
        }
      } else {
        tokens.push_back(word);
      }
      i = end;
    } else {
      tokens.push_back(std::string(1, c));
      ++i;
    }
  }
  return tokens;
}

bool parse_uint(const std::string& s, unsigned long long* value) {
  if (s.empty() || !std::isdigit(static_cast<unsigned char>(s[0]))) return false;
  char* end = nullptr;
  *value = std::strtoull(s.c_str(), &end, 0);
  return end != nullptr && *end == '\0';
}

size_t align_up(size_t value, size_t align) { return align <= 1 ? value : (value + align - 1) / align * align; }

// "[" N "]" ... starting at tokens[*i]: multiplies *count; "[]" sets *open.
bool parse_dims(const Tokens& t, size_t* i, size_t* count, bool* open) {
  while (*i < t.size() && t[*i] == "[") {
    if (*i + 1 < t.size() && t[*i + 1] == "]") {
      *open = true;
      *i += 2;
      continue;
    }
    unsigned long long n = 0;
    if (*i + 2 >= t.size() || !parse_uint(t[*i + 1], &n) || t[*i + 2] != "]") return false;
    *count *= static_cast<size_t>(n);
    *i += 3;
  }
  return true;
}

bool parse_param(const Tokens& t, Param* p, std::string* error) {
  size_t i = 0;
  if (i >= t.size() || t[i] != ".param") return *error = "entry parameter without .param", false;
  ++i;
  size_t elem = 0, align = 0;
  bool pointer_attr = false;
  for (; i < t.size() && t[i][0] == '.'; ++i) {
    if (t[i] == ".ptr") {
      pointer_attr = true;
    } else if (t[i] == ".align") {
      unsigned long long a = 0;
      if (i + 1 >= t.size() || !parse_uint(t[i + 1], &a) || a == 0) return *error = "bad .align", false;
      if (!pointer_attr) align = static_cast<size_t>(a);  // after .ptr: the pointee's
      ++i;
    } else if (size_t s = type_size(t[i])) {
      elem = s;
    } else if (t[i] == ".texref" || t[i] == ".samplerref" || t[i] == ".surfref") {
      elem = 8;
    }
  }
  if (elem == 0 || i >= t.size()) return *error = "entry parameter without a type or name", false;
  p->name = t[i++];
  size_t count = 1;
  bool open = false;
  if (!parse_dims(t, &i, &count, &open) || open || i != t.size()) {
    return *error = "malformed entry parameter " + p->name, false;
  }
  p->size = elem * count;
  p->align = align != 0 ? align : elem;
  return true;
}

// ".entry NAME ( params ) perf-directives" (tokens after the linkage).
bool parse_entry(const Tokens& t, Entry* e, std::string* error) {
  size_t i = 1;
  if (i >= t.size()) return *error = ".entry without a name", false;
  e->name = t[i++];
  if (i < t.size() && t[i] == "(") {
    ++i;
    Tokens param;
    for (; i < t.size() && t[i] != ")"; ++i) {
      if (t[i] == ",") {
        e->params.emplace_back();
        if (!parse_param(param, &e->params.back(), error)) return false;
        param.clear();
      } else {
        param.push_back(t[i]);
      }
    }
    if (i >= t.size()) return *error = "unbalanced parentheses in .entry " + e->name, false;
    if (!param.empty()) {
      e->params.emplace_back();
      if (!parse_param(param, &e->params.back(), error)) return false;
    } else if (!e->params.empty()) {
      return *error = "empty parameter in .entry " + e->name, false;
    }
    ++i;
  }
  size_t end = 0;
  for (Param& p : e->params) {
    p.offset = align_up(end, p.align);
    end = p.offset + p.size;
  }
  e->param_bytes = end;
  // Launch bounds: .maxntid x[, y[, z]] and .reqntid x[, y[, z]].
  for (; i < t.size(); ++i) {
    if (t[i] != ".maxntid" && t[i] != ".reqntid") continue;
    bool req = t[i] == ".reqntid";
    unsigned long long product = 1;
    int dim = 0;
    for (size_t j = i + 1; j < t.size() && dim < 3; j += 2) {
      unsigned long long v = 0;
      if (!parse_uint(t[j], &v)) break;
      product *= v;
      if (req) e->reqntid[dim] = static_cast<unsigned>(v);
      ++dim;
      if (j + 1 >= t.size() || t[j + 1] != ",") break;
    }
    if (dim == 0) return *error = "malformed launch bound in .entry " + e->name, false;
    if (e->max_threads == 0 || product < e->max_threads) e->max_threads = static_cast<unsigned>(product);
  }
  return true;
}

// ".global|.const [attributes] .type name[dims] [= init] [, name...]".
bool parse_variables(const Tokens& t, std::vector<Variable>* out, std::string* error) {
  size_t i = 1, elem = 0, align = 0, vec = 1;
  std::string type;
  for (; i < t.size() && t[i][0] == '.'; ++i) {
    if (t[i] == ".align") {
      unsigned long long a = 0;
      if (i + 1 >= t.size() || !parse_uint(t[i + 1], &a) || a == 0) return *error = "bad .align", false;
      align = static_cast<size_t>(a);
      ++i;
    } else if (t[i] == ".v2" || t[i] == ".v4" || t[i] == ".v8") {
      vec = static_cast<size_t>(t[i][2] - '0');
    } else if (t[i] == ".attribute") {  // .attribute(.managed)
      while (i < t.size() && t[i] != ")") ++i;
    } else if (size_t s = type_size(t[i])) {
      elem = s;
      type = t[i];
    }
  }
  if (elem == 0) return true;  // .texref and the like: not a variable with storage
  while (i < t.size()) {
    Variable v;
    v.name = t[i++];
    v.constant = t[0] == ".const";
    size_t count = 1;
    bool open = false;
    if (!parse_dims(t, &i, &count, &open)) return *error = "malformed variable " + v.name, false;
    std::vector<Tokens> leaves;
    if (i < t.size() && t[i] == "=") {
      size_t begin = ++i;
      int depth = 0;
      for (; i < t.size() && !(depth == 0 && t[i] == ","); ++i) {
        if (t[i] == "{") ++depth;
        if (t[i] == "}") --depth;
      }
      leaves = initializer_leaves(t, begin, i);
      if (open) count *= (leaves.size() + vec - 1) / vec;
    } else if (open) {
      count = 0;
    }
    v.size = elem * vec * count;
    v.align = align != 0 ? align : elem * vec;
    for (size_t k = 0; k < leaves.size() && (k + 1) * elem <= v.size; ++k) {
      uint8_t bytes[8] = {0};
      if (!encode_leaf(leaves[k], type, bytes)) continue;
      if (v.init.size() < (k + 1) * elem) v.init.resize((k + 1) * elem, 0);
      std::memcpy(v.init.data() + k * elem, bytes, elem);
    }
    if (v.size > 0) out->push_back(v);
    if (i < t.size() && t[i] == ",") ++i;
    else if (i < t.size()) return *error = "malformed variable " + v.name, false;
  }
  return true;
}

bool handle_statement(Tokens t, bool has_body, Module* m, bool* have_version, std::string* error) {
  bool external = false;
  while (!t.empty() && (t[0] == ".visible" || t[0] == ".weak" || t[0] == ".extern" || t[0] == ".common")) {
    external = external || t[0] == ".extern";
    t.erase(t.begin());
  }
  if (t.empty()) return true;
  const std::string& d = t[0];
  if (d == ".version") {
    size_t dot = t.size() > 1 ? t[1].find('.') : std::string::npos;
    unsigned long long major = 0, minor = 0;
    if (dot == std::string::npos || !parse_uint(t[1].substr(0, dot), &major) ||
        !parse_uint(t[1].substr(dot + 1), &minor)) {
      return *error = "malformed .version", false;
    }
    m->version_major = static_cast<int>(major);
    m->version_minor = static_cast<int>(minor);
    *have_version = true;
  } else if (d == ".target") {
    for (size_t i = 1; i < t.size() && m->target_sm == 0; ++i) {
      const std::string& s = t[i];
      size_t u = s.find('_');
      if (u != std::string::npos && (s.compare(0, u, "sm") == 0 || s.compare(0, u, "compute") == 0)) {
        m->target_sm = std::atoi(s.c_str() + u + 1);
      }
    }
    if (m->target_sm == 0) return *error = "no sm_NN in .target", false;
  } else if (d == ".address_size") {
    unsigned long long a = 0;
    if (t.size() < 2 || !parse_uint(t[1], &a)) return *error = "malformed .address_size", false;
    m->address_size = static_cast<int>(a);
  } else if (d == ".entry") {
    Entry e;
    if (!parse_entry(t, &e, error)) return false;
    if (has_body && !external) {
      for (const Entry& other : m->entries) {
        if (other.name == e.name) return *error = "duplicate .entry " + e.name, false;
      }
      m->entries.push_back(e);
    }
  } else if ((d == ".global" || d == ".const") && !external && !has_body) {
    return parse_variables(t, &m->variables, error);
  }
  return true;
}

}  // namespace

size_t type_size(const std::string& type) {
  static const struct { const char* name; size_t size; } kTypes[] = {
      {".b8", 1},  {".u8", 1},  {".s8", 1},  {".b16", 2}, {".u16", 2},    {".s16", 2},
      {".f16", 2}, {".bf16", 2}, {".b32", 4}, {".u32", 4}, {".s32", 4},    {".f32", 4},
      {".f16x2", 4}, {".bf16x2", 4}, {".b64", 8}, {".u64", 8}, {".s64", 8}, {".f64", 8},
      {".b128", 16},
  };
  for (const auto& t : kTypes) {
    if (type == t.name) return t.size;
  }
  return 0;
}

namespace {

// .version, .target, .address_size and .file end at the end of their line,
// not at a ';': terminate those lines explicitly.
std::string terminate_line_directives(const std::string& text) {
  static const char* kLineDirectives[] = {".version", ".target", ".address_size", ".file"};
  std::string out;
  out.reserve(text.size() + 64);
  size_t start = 0;
  while (start < text.size()) {
    size_t end = text.find('\n', start);
    if (end == std::string::npos) end = text.size();
    size_t first = text.find_first_not_of(" \t\r", start);
    out.append(text, start, end - start);
    if (first < end) {
      for (const char* d : kLineDirectives) {
        size_t n = std::strlen(d);
        if (text.compare(first, n, d) == 0 && (first + n == end || !is_word_char(text[first + n]))) {
          out.push_back(';');
          break;
        }
      }
    }
    out.push_back('\n');
    start = end + 1;
  }
  return out;
}

}  // namespace

ParseResult parse(const std::string& text, Module* out, std::string* error) {
  *out = Module();
  std::string clean;
  if (!strip_comments(text, &clean, error)) {
    return text.find(".version") != std::string::npos ? ParseResult::kInvalid : ParseResult::kNotPtx;
  }
  Tokens tokens = tokenize(terminate_line_directives(clean));
  if (std::find(tokens.begin(), tokens.end(), ".version") == tokens.end()) {
    *error = "not PTX: no .version directive";
    return ParseResult::kNotPtx;
  }
  bool have_version = false;
  Tokens statement;
  for (size_t i = 0; i < tokens.size(); ++i) {
    const std::string& tok = tokens[i];
    if (tok == ";") {
      if (!handle_statement(statement, false, out, &have_version, error)) return ParseResult::kInvalid;
      statement.clear();
    } else if (tok == "{") {
      bool initializer = false;
      for (const std::string& s : statement) initializer = initializer || s == "=";
      size_t depth = 0, j = i;
      for (; j < tokens.size(); ++j) {
        if (tokens[j] == "{") ++depth;
        if (tokens[j] == "}" && --depth == 0) break;
        if (initializer) statement.push_back(tokens[j]);
      }
      if (j >= tokens.size()) return *error = "unbalanced braces", ParseResult::kInvalid;
      if (initializer) {
        statement.push_back("}");
      } else {
        if (!handle_statement(statement, true, out, &have_version, error)) return ParseResult::kInvalid;
        bool code = std::find(statement.begin(), statement.end(), ".entry") != statement.end() ||
                    std::find(statement.begin(), statement.end(), ".func") != statement.end();
        if (code && !detail::check_body(tokens, i + 1, j, error)) return ParseResult::kInvalid;
        statement.clear();
      }
      i = j;
    } else if (tok == "}") {
      return *error = "unbalanced braces", ParseResult::kInvalid;
    } else {
      statement.push_back(tok);
    }
  }
  if (!statement.empty() && !handle_statement(statement, false, out, &have_version, error)) {
    return ParseResult::kInvalid;
  }
  if (!have_version) return *error = "malformed .version", ParseResult::kInvalid;
  if (out->target_sm == 0) return *error = "missing .target directive", ParseResult::kInvalid;
  return ParseResult::kOk;
}

}  // namespace gpupool::sim::ptx
