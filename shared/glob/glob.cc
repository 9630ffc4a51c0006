// Glob matching with single-point star backtracking (see glob.h). Every token other than '*'
// consumes exactly one byte, so remembering only the last '*' is enough for correctness.
#include "shared/glob/glob.h"

namespace tiercache::glob {
namespace {

unsigned char fold(unsigned char c, bool nocase) {
  return (nocase && c >= 'A' && c <= 'Z') ? static_cast<unsigned char>(c + 32) : c;
}

// Matches one byte `c` against the token at pattern[p]; sets *next to the token's end.
// Returns false if the byte does not match.
bool match_one(std::string_view pat, size_t p, unsigned char c, bool nocase, size_t* next) {
  unsigned char pc = static_cast<unsigned char>(pat[p]);
  if (pc == '?') {
    *next = p + 1;
    return true;
  }
  if (pc == '\\' && p + 1 < pat.size()) {
    *next = p + 2;
    return fold(static_cast<unsigned char>(pat[p + 1]), nocase) == fold(c, nocase);
  }
  if (pc == '[') {
    size_t i = p + 1;
    bool negate = false;
    if (i < pat.size() && pat[i] == '^') {
      negate = true;
      ++i;
    }
    bool matched = false;
    unsigned char fc = fold(c, nocase);
    // Like Redis: a class runs to the next ']' (an unterminated class runs to the end).
    while (i < pat.size() && pat[i] != ']') {
      if (pat[i] == '\\' && i + 1 < pat.size()) {
        ++i;
        if (fold(static_cast<unsigned char>(pat[i]), nocase) == fc) matched = true;
        ++i;
      } else if (i + 2 < pat.size() && pat[i + 1] == '-' && pat[i + 2] != ']') {
        unsigned char lo = fold(static_cast<unsigned char>(pat[i]), nocase);
        unsigned char hi = fold(static_cast<unsigned char>(pat[i + 2]), nocase);
        if (lo > hi) {
          unsigned char t = lo;
          lo = hi;
          hi = t;
        }
        if (fc >= lo && fc <= hi) matched = true;
        i += 3;
      } else {
        if (fold(static_cast<unsigned char>(pat[i]), nocase) == fc) matched = true;
        ++i;
      }
    }
    *next = i < pat.size() ? i + 1 : i;
    return negate ? !matched : matched;
  }
  *next = p + 1;
  return fold(pc, nocase) == fold(c, nocase);
}

}  // namespace

bool match(std::string_view pat, std::string_view text, bool nocase) {
  size_t p = 0, t = 0;
  size_t star_p = std::string_view::npos, star_t = 0;
  while (t < text.size()) {
    if (p < pat.size() && pat[p] == '*') {
      while (p < pat.size() && pat[p] == '*') ++p;
      if (p == pat.size()) return true;
      star_p = p;
      star_t = t;
      continue;
    }
    size_t next = 0;
    if (p < pat.size() && match_one(pat, p, static_cast<unsigned char>(text[t]), nocase, &next)) {
      p = next;
      ++t;
      continue;
    }
    if (star_p == std::string_view::npos) return false;
    p = star_p;
    t = ++star_t;
  }
  while (p < pat.size() && pat[p] == '*') ++p;
  return p == pat.size();
}

bool is_literal(std::string_view pattern) {
  for (char c : pattern) {
    if (c == '*' || c == '?' || c == '[' || c == '\\') return false;
  }
  return true;
}

}  // namespace tiercache::glob
