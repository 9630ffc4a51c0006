// RDB primitives and compact blobs (see rdb_reader.h). Formats as Redis 7.0's rdb.c,
// listpack.c, ziplist.c and intset.c write them.
#include "l2/persistence/rdb_reader.h"

#include <cmath>
#include <cstdlib>
#include <cstring>

#include "l2/persistence/lzf.h"
#include "l2/persistence/rdb_format.h"

namespace tiercache::l2::persistence {
namespace {

// Largest string a length may announce when it is LZF-compressed: LZF expands at most ~88x.
constexpr uint64_t kMaxLzfRatio = 100;
constexpr uint64_t kMaxString = 1ull << 32;

uint64_t load_le(const unsigned char* p, int n) {
  uint64_t v = 0;
  for (int i = n - 1; i >= 0; --i) v = (v << 8) | p[i];
  return v;
}

// Sign-extends the low `bits` bits of v.
int64_t sign_extend(uint64_t v, int bits) {
  uint64_t m = 1ull << (bits - 1);
  v &= (bits == 64) ? ~0ull : ((1ull << bits) - 1);
  return static_cast<int64_t>((v ^ m) - m);
}

}  // namespace

bool Reader::fail(std::string msg) {
  if (error_.empty()) error_ = std::move(msg) + " at offset " + std::to_string(pos_);
  return false;
}

bool Reader::bytes(size_t n, std::string_view* out) {
  if (!ok()) return false;
  if (n > remaining()) return fail("unexpected end of data");
  *out = data_.substr(pos_, n);
  pos_ += n;
  return true;
}

bool Reader::u8(uint8_t* out) {
  std::string_view b;
  if (!bytes(1, &b)) return false;
  *out = static_cast<uint8_t>(b[0]);
  return true;
}

bool Reader::le64(uint64_t* out) {
  std::string_view b;
  if (!bytes(8, &b)) return false;
  *out = load_le(reinterpret_cast<const unsigned char*>(b.data()), 8);
  return true;
}

bool Reader::le32(uint32_t* out) {
  std::string_view b;
  if (!bytes(4, &b)) return false;
  *out = static_cast<uint32_t>(load_le(reinterpret_cast<const unsigned char*>(b.data()), 4));
  return true;
}

bool Reader::length(uint64_t* out, bool* encoded) {
  if (encoded) *encoded = false;
  uint8_t b0;
  if (!u8(&b0)) return false;
  int kind = b0 >> 6;
  if (kind == kLen6Bit) {
    *out = b0 & 0x3f;
  } else if (kind == kLen14Bit) {
    uint8_t b1;
    if (!u8(&b1)) return false;
    *out = (static_cast<uint64_t>(b0 & 0x3f) << 8) | b1;
  } else if (kind == kLenEncoded) {
    if (encoded == nullptr) return fail("string encoding where a length was expected");
    *encoded = true;
    *out = b0 & 0x3f;
  } else if (b0 == kLen32Bit || b0 == kLen64Bit) {
    std::string_view b;
    int n = b0 == kLen32Bit ? 4 : 8;
    if (!bytes(static_cast<size_t>(n), &b)) return false;
    uint64_t v = 0;
    for (int i = 0; i < n; ++i) v = (v << 8) | static_cast<unsigned char>(b[static_cast<size_t>(i)]);
    *out = v;
  } else {
    return fail("unknown length encoding");
  }
  return true;
}

bool Reader::string(std::string* out) {
  uint64_t len;
  bool encoded;
  if (!length(&len, &encoded)) return false;
  out->clear();
  if (!encoded) {
    std::string_view b;
    if (len > remaining()) return fail("string longer than the data");
    if (!bytes(static_cast<size_t>(len), &b)) return false;
    out->assign(b);
    return true;
  }
  std::string_view b;
  switch (len) {
    case kEncInt8:
    case kEncInt16:
    case kEncInt32: {
      int n = len == kEncInt8 ? 1 : len == kEncInt16 ? 2 : 4;
      if (!bytes(static_cast<size_t>(n), &b)) return false;
      int64_t v = sign_extend(load_le(reinterpret_cast<const unsigned char*>(b.data()), n), n * 8);
      *out = std::to_string(v);
      return true;
    }
    case kEncLzf: {
      uint64_t clen, ulen;
      if (!length(&clen) || !length(&ulen)) return false;
      if (clen > remaining()) return fail("compressed string longer than the data");
      if (ulen > clen * kMaxLzfRatio || ulen > kMaxString) return fail("bad LZF lengths");
      if (!bytes(static_cast<size_t>(clen), &b)) return false;
      if (!lzf_decompress(b, static_cast<size_t>(ulen), out)) return fail("bad LZF data");
      return true;
    }
    default:
      return fail("unknown string encoding");
  }
}

bool Reader::binary_double(double* out) {
  uint64_t bits;
  if (!le64(&bits)) return false;
  memcpy(out, &bits, sizeof *out);
  return true;
}

bool Reader::string_double(double* out) {
  uint8_t len;
  if (!u8(&len)) return false;
  if (len == 253) *out = NAN;
  else if (len == 254) *out = INFINITY;
  else if (len == 255) *out = -INFINITY;
  else {
    std::string_view b;
    if (!bytes(len, &b)) return false;
    std::string text(b);
    char* end = nullptr;
    *out = strtod(text.c_str(), &end);
    if (text.empty() || end != text.c_str() + text.size()) return fail("bad double");
  }
  return true;
}

bool parse_score(std::string_view s, double* out) {
  if (s.empty() || s.size() > 128) return false;
  std::string text(s);
  char* end = nullptr;
  *out = strtod(text.c_str(), &end);
  return end == text.c_str() + text.size() && !std::isnan(*out);
}

// Listpack: total bytes (u32 LE), count (u16 LE), entries, 0xFF. Each entry is an encoding
// byte, its data, then a back-length of 1..5 bytes that we skip.
bool parse_listpack(std::string_view lp, std::vector<std::string>* out, std::string* error) {
  const auto* p = reinterpret_cast<const unsigned char*>(lp.data());
  const size_t n = lp.size();
  if (n < 7 || load_le(p, 4) != n) return *error = "listpack header corrupt", false;
  size_t i = 6;
  size_t count = 0;
  while (true) {
    if (i >= n) return *error = "listpack without terminator", false;
    unsigned b = p[i];
    if (b == 0xff) break;
    size_t head, len = 0;  // bytes of encoding (+ length), bytes of string data
    bool is_int = true;
    int64_t v = 0;
    auto need = [&](size_t k) { return n - i > k; };  // k bytes from i, plus the terminator
    if ((b & 0x80) == 0) {
      head = 1, v = b & 0x7f;
    } else if ((b & 0xc0) == 0x80) {
      head = 1, len = b & 0x3f, is_int = false;
    } else if ((b & 0xe0) == 0xc0) {
      if (!need(2)) return *error = "listpack entry truncated", false;
      head = 2, v = sign_extend((static_cast<uint64_t>(b & 0x1f) << 8) | p[i + 1], 13);
    } else if ((b & 0xf0) == 0xe0) {
      if (!need(2)) return *error = "listpack entry truncated", false;
      head = 2, len = (static_cast<size_t>(b & 0x0f) << 8) | p[i + 1], is_int = false;
    } else if (b == 0xf0) {
      if (!need(5)) return *error = "listpack entry truncated", false;
      head = 5, len = load_le(p + i + 1, 4), is_int = false;
    } else if (b >= 0xf1 && b <= 0xf4) {
      int w = b == 0xf1 ? 2 : b == 0xf2 ? 3 : b == 0xf3 ? 4 : 8;
      if (!need(static_cast<size_t>(w) + 1)) return *error = "listpack entry truncated", false;
      head = 1 + static_cast<size_t>(w), v = sign_extend(load_le(p + i + 1, w), w * 8);
    } else {
      return *error = "listpack entry with an unknown encoding", false;
    }
    size_t body = head + (is_int ? 0 : len);
    if (len > n || !need(body)) return *error = "listpack entry truncated", false;
    if (is_int) out->push_back(std::to_string(v));
    else out->emplace_back(lp.substr(i + head, len));
    size_t back = body <= 127 ? 1 : body < 16383 ? 2 : body < 2097151 ? 3 : body < 268435455 ? 4 : 5;
    if (!need(body + back)) return *error = "listpack entry truncated", false;
    i += body + back;
    ++count;
  }
  if (i + 1 != n) return *error = "listpack has bytes after its terminator", false;
  unsigned declared = static_cast<unsigned>(load_le(p + 4, 2));
  if (declared != 65535 && declared != count) return *error = "listpack count wrong", false;
  return true;
}

// Ziplist (RDB files of Redis before 7.0): zlbytes u32, zltail u32, zllen u16, entries, 0xFF.
// Each entry: previous length (1 byte, or 0xFE and 4 bytes), encoding, data.
bool parse_ziplist(std::string_view zl, std::vector<std::string>* out, std::string* error) {
  const auto* p = reinterpret_cast<const unsigned char*>(zl.data());
  const size_t n = zl.size();
  if (n < 11 || load_le(p, 4) != n) return *error = "ziplist header corrupt", false;
  size_t i = 10;
  while (true) {
    if (i >= n) return *error = "ziplist without terminator", false;
    if (p[i] == 0xff) break;
    size_t prev = p[i] == 0xfe ? 5 : 1;
    i += prev;
    if (i >= n) return *error = "ziplist entry truncated", false;
    unsigned b = p[i];
    size_t head, len = 0;
    bool is_int = true;
    int64_t v = 0;
    auto need = [&](size_t k) { return n - i > k; };
    switch (b >> 6) {
      case 0: head = 1, len = b & 0x3f, is_int = false; break;
      case 1:
        if (!need(2)) return *error = "ziplist entry truncated", false;
        head = 2, len = (static_cast<size_t>(b & 0x3f) << 8) | p[i + 1], is_int = false;
        break;
      case 2:
        if (!need(5)) return *error = "ziplist entry truncated", false;
        head = 5, is_int = false;
        len = (static_cast<size_t>(p[i + 1]) << 24) | (static_cast<size_t>(p[i + 2]) << 16) |
              (static_cast<size_t>(p[i + 3]) << 8) | p[i + 4];
        break;
      default: {
        int w;
        if (b == 0xc0) w = 2;
        else if (b == 0xd0) w = 4;
        else if (b == 0xe0) w = 8;
        else if (b == 0xf0) w = 3;
        else if (b == 0xfe) w = 1;
        else if (b >= 0xf1 && b <= 0xfd) w = 0, v = static_cast<int64_t>(b & 0x0f) - 1;
        else return *error = "ziplist entry with an unknown encoding", false;
        if (!need(static_cast<size_t>(w) + 1)) return *error = "ziplist entry truncated", false;
        head = 1 + static_cast<size_t>(w);
        if (w > 0) v = sign_extend(load_le(p + i + 1, w), w * 8);
      }
    }
    size_t body = head + (is_int ? 0 : len);
    if (len > n || !need(body)) return *error = "ziplist entry truncated", false;
    if (is_int) out->push_back(std::to_string(v));
    else out->emplace_back(zl.substr(i + head, len));
    i += body;
  }
  if (i + 1 != n) return *error = "ziplist has bytes after its terminator", false;
  return true;
}

// Intset: encoding (u32: 2, 4 or 8 bytes per member), length (u32), sorted members, LE.
bool parse_intset(std::string_view is, std::vector<std::string>* out, std::string* error) {
  const auto* p = reinterpret_cast<const unsigned char*>(is.data());
  if (is.size() < 8) return *error = "intset header corrupt", false;
  uint64_t width = load_le(p, 4), count = load_le(p + 4, 4);
  if (width != 2 && width != 4 && width != 8) return *error = "intset encoding unknown", false;
  if ((is.size() - 8) / width != count || (is.size() - 8) % width != 0)
    return *error = "intset length wrong", false;
  int64_t prev = 0;
  for (uint64_t k = 0; k < count; ++k) {
    int64_t v = sign_extend(load_le(p + 8 + k * width, static_cast<int>(width)),
                            static_cast<int>(width * 8));
    if (k > 0 && v <= prev) return *error = "intset not sorted", false;
    prev = v;
    out->push_back(std::to_string(v));
  }
  return true;
}

}  // namespace tiercache::l2::persistence
