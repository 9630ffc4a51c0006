// LZF (see lzf.h). The format: a control byte below 32 starts a literal run of
// ctrl+1 bytes; otherwise its top 3 bits are a length (7 means one more length byte follows),
// its low 5 bits and the next byte an offset back into the output, and len+2 bytes are copied
// from there (the ranges may overlap, so byte by byte). So a literal run holds 1..32 bytes, a
// back reference copies 3..264 bytes from 1..8192 bytes back.
#include "l2/persistence/lzf.h"

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <vector>

namespace tiercache::l2::persistence {

bool lzf_decompress(std::string_view in, size_t out_len, std::string* out) {
  const size_t base = out->size();
  out->resize(base + out_len);
  char* op = out->data() + base;
  size_t o = 0, i = 0;
  const auto* ip = reinterpret_cast<const unsigned char*>(in.data());
  while (i < in.size()) {
    unsigned ctrl = ip[i++];
    if (ctrl < 32) {
      size_t run = ctrl + 1;
      if (in.size() - i < run || out_len - o < run) return false;
      for (size_t k = 0; k < run; ++k) op[o++] = static_cast<char>(ip[i++]);
      continue;
    }
    size_t len = ctrl >> 5;
    if (len == 7) {
      if (i >= in.size()) return false;
      len += ip[i++];
    }
    if (i >= in.size()) return false;
    size_t back = ((ctrl & 0x1f) << 8) + ip[i++] + 1;
    len += 2;
    if (back > o || out_len - o < len) return false;
    for (size_t k = 0; k < len; ++k, ++o) op[o] = op[o - back];
  }
  return o == out_len;
}

namespace {

constexpr size_t kMaxLiteral = 32;
constexpr size_t kMaxBack = 8192;
constexpr size_t kMinMatch = 3;
constexpr size_t kMaxMatch = 264;
constexpr int kMaxHashBits = 14;

// Writes the output and gives up once it would pass the limit.
class Sink {
 public:
  Sink(std::string* out, size_t max_len) : out_(out), base_(out->size()), max_len_(max_len) {}
  bool put(unsigned char c) {
    if (out_->size() - base_ >= max_len_) return false;
    out_->push_back(static_cast<char>(c));
    return true;
  }
  // The pending literals [from, to) of in, as runs of at most 32 bytes.
  bool literals(const unsigned char* in, size_t from, size_t to) {
    while (from < to) {
      size_t run = std::min(to - from, kMaxLiteral);
      if (!put(static_cast<unsigned char>(run - 1))) return false;
      for (size_t k = 0; k < run; ++k)
        if (!put(in[from++])) return false;
    }
    return true;
  }
  size_t written() const { return out_->size() - base_; }

 private:
  std::string* out_;
  size_t base_, max_len_;
};

uint32_t hash3(const unsigned char* p, int bits) {
  uint32_t v = (uint32_t{p[0]} << 16) | (uint32_t{p[1]} << 8) | p[2];
  return (v * 2654435761u) >> (32 - bits);
}

}  // namespace

// Greedy: at each position the last earlier position with the same 3-byte hash is the match
// candidate; a match is extended as far as it goes (up to 264 bytes), literals in between are
// flushed in runs of 32.
size_t lzf_compress(std::string_view in_sv, size_t max_len, std::string* out) {
  const auto* in = reinterpret_cast<const unsigned char*>(in_sv.data());
  const size_t n = in_sv.size();
  const size_t base = out->size();
  Sink sink(out, max_len);
  // Position + 1 of the last 3 bytes with each hash, 0 = none. Sized to the input (an RDB has
  // millions of short strings; clearing 64 KiB for each would dominate) and reused.
  int bits = 4;
  while (bits < kMaxHashBits && (size_t{1} << bits) < n) ++bits;
  static thread_local std::vector<uint32_t> table;
  table.assign(size_t{1} << bits, 0);
  uint32_t* last = table.data();
  size_t lit = 0;  // first pending literal
  size_t i = 0;
  bool ok = true;
  while (ok && i + kMinMatch <= n) {
    uint32_t h = hash3(in + i, bits);
    size_t cand = last[h];
    last[h] = static_cast<uint32_t>(i + 1);
    if (cand == 0 || i - (cand - 1) > kMaxBack || memcmp(in + cand - 1, in + i, kMinMatch) != 0) {
      ++i;
      continue;
    }
    size_t ref = cand - 1, len = kMinMatch, limit = std::min(kMaxMatch, n - i);
    while (len < limit && in[ref + len] == in[i + len]) ++len;
    size_t enc = len - 2, back = i - ref - 1;
    ok = sink.literals(in, lit, i);
    if (ok && enc < 7) {
      ok = sink.put(static_cast<unsigned char>((enc << 5) | (back >> 8)));
    } else if (ok) {
      ok = sink.put(static_cast<unsigned char>((7 << 5) | (back >> 8))) &&
           sink.put(static_cast<unsigned char>(enc - 7));
    }
    ok = ok && sink.put(static_cast<unsigned char>(back & 0xff));
    // Remember the positions inside the match too: later repeats find them.
    for (size_t k = i + 1; k < i + len && k + kMinMatch <= n; ++k)
      last[hash3(in + k, bits)] = static_cast<uint32_t>(k + 1);
    i += len;
    lit = i;
  }
  ok = ok && sink.literals(in, lit, n);
  if (!ok || n == 0) {
    out->resize(base);
    return 0;
  }
  return sink.written();
}

}  // namespace tiercache::l2::persistence
