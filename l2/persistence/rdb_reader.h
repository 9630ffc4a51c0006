// Reading RDB primitives from untrusted bytes: lengths, strings (raw, integer, LZF), doubles,
// and the compact blobs Redis stores as strings (listpack, intset, ziplist). Every read is
// bounds-checked; the first failure is kept as a message and every later read fails too.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace tiercache::l2::persistence {

class Reader {
 public:
  explicit Reader(std::string_view data) : data_(data) {}

  bool ok() const { return error_.empty(); }
  const std::string& error() const { return error_; }
  size_t pos() const { return pos_; }
  size_t remaining() const { return data_.size() - pos_; }
  // Records a failure (the first one wins) and returns false.
  bool fail(std::string msg);

  bool u8(uint8_t* out);
  bool bytes(size_t n, std::string_view* out);
  bool le64(uint64_t* out);
  bool le32(uint32_t* out);
  // A length; *encoded is set when the value is a special string encoding (int8/16/32, LZF).
  bool length(uint64_t* out, bool* encoded = nullptr);
  // A string in any encoding, replacing *out.
  bool string(std::string* out);
  bool binary_double(double* out);  // 8 bytes little-endian (ZSET_2)
  bool string_double(double* out);  // length byte + decimal text, 253/254/255 = nan/+inf/-inf

 private:
  std::string_view data_;
  size_t pos_ = 0;
  std::string error_;
};

// Appends the elements of a compact blob to *out as strings (integers in decimal). False with
// *error set when the blob is malformed.
bool parse_listpack(std::string_view lp, std::vector<std::string>* out, std::string* error);
bool parse_ziplist(std::string_view zl, std::vector<std::string>* out, std::string* error);
bool parse_intset(std::string_view is, std::vector<std::string>* out, std::string* error);

// Parses a score as Redis writes it in a listpack or as text (strtod, all of it, no NaN).
bool parse_score(std::string_view s, double* out);

}  // namespace tiercache::l2::persistence
