// Incremental RESP2 request parser (see request_parser.h). Error texts follow Redis 7.
#include "shared/resp/request_parser.h"

#include <cstring>

#include "shared/resp/inline_split.h"
#include "shared/util/numbers.h"

namespace tiercache::resp {
namespace {

// Finds '\r' in [from, len); returns its offset or npos.
size_t find_cr(const char* data, size_t from, size_t len) {
  if (from >= len) return std::string_view::npos;
  const void* p = memchr(data + from, '\r', len - from);
  return p ? static_cast<size_t>(static_cast<const char*>(p) - data) : std::string_view::npos;
}

bool is_binary_garbage(unsigned char c) {
  return (c < 0x20 && c != '\t' && c != '\r' && c != '\n' && c != '\v' && c != '\f') || c == 0x7f;
}

}  // namespace

void RequestParser::reset() {
  state_ = State::kStart;
  pos_ = 0;
  expected_args_ = 0;
  bulk_len_ = 0;
  frame_size_hint_ = 0;
  offsets_.clear();
  args_.clear();
}

ParseStatus RequestParser::fail(std::string reason) {
  error_ = std::move(reason);
  return ParseStatus::kError;
}

ParseStatus RequestParser::parse(const char* data, size_t len, size_t* consumed) {
  *consumed = 0;
  if (state_ == State::kStart) {
    args_.clear();
    if (len == 0) return ParseStatus::kNeedMore;
    if (data[0] != '*') return parse_inline(data, len, consumed);
    state_ = State::kMultibulk;
    pos_ = 0;
  }
  return parse_multibulk(data, len, consumed);
}

ParseStatus RequestParser::parse_inline(const char* data, size_t len, size_t* consumed) {
  const void* nl = memchr(data, '\n', len);
  if (nl == nullptr) {
    if (len > limits_->max_inline_len) return fail("too big inline request");
    for (size_t i = 0; i < len; ++i) {
      if (is_binary_garbage(static_cast<unsigned char>(data[i]))) {
        return fail("unexpected binary data in inline request");
      }
    }
    return ParseStatus::kNeedMore;
  }
  size_t line_end = static_cast<size_t>(static_cast<const char*>(nl) - data);
  if (line_end > limits_->max_inline_len) return fail("too big inline request");
  size_t content_end = line_end;
  if (content_end > 0 && data[content_end - 1] == '\r') --content_end;
  for (size_t i = 0; i < content_end; ++i) {
    if (is_binary_garbage(static_cast<unsigned char>(data[i]))) {
      return fail("unexpected binary data in inline request");
    }
  }
  inline_storage_.clear();
  inline_offsets_.clear();
  if (!split_inline_args(std::string_view(data, content_end), &inline_storage_, &inline_offsets_)) {
    return fail("unbalanced quotes in request");
  }
  if (!authenticated_ &&
      static_cast<int64_t>(inline_offsets_.size()) > limits_->unauthenticated_max_args) {
    return fail("unauthenticated multibulk length");
  }
  args_.clear();
  for (auto [off, n] : inline_offsets_) args_.emplace_back(inline_storage_.data() + off, n);
  *consumed = line_end + 1;
  state_ = State::kStart;
  return ParseStatus::kOk;
}

ParseStatus RequestParser::parse_multibulk(const char* data, size_t len, size_t* consumed) {
  while (true) {
    switch (state_) {
      case State::kStart:
        return ParseStatus::kNeedMore;  // unreachable: parse() handles kStart
      case State::kMultibulk: {
        size_t cr = find_cr(data, 1, len);
        if (cr == std::string_view::npos) {
          if (len > limits_->max_inline_len) return fail("too big mbulk count string");
          return ParseStatus::kNeedMore;
        }
        if (cr + 1 >= len) return ParseStatus::kNeedMore;  // need the '\n' too
        auto count = util::parse_int64(std::string_view(data + 1, cr - 1));
        int64_t max_args =
            authenticated_ ? limits_->max_multibulk_len : limits_->unauthenticated_max_args;
        if (!count || *count > limits_->max_multibulk_len) return fail("invalid multibulk length");
        if (*count > max_args) return fail("unauthenticated multibulk length");
        pos_ = cr + 2;
        if (*count <= 0) {  // "*0" and "*-1": an empty command, ignored
          *consumed = pos_;
          reset();
          return ParseStatus::kOk;
        }
        expected_args_ = *count;
        offsets_.clear();
        offsets_.reserve(static_cast<size_t>(expected_args_ < 1024 ? expected_args_ : 1024));
        state_ = State::kBulkHeader;
        break;
      }
      case State::kBulkHeader: {
        if (pos_ >= len) return ParseStatus::kNeedMore;
        if (data[pos_] != '$') {
          char c = data[pos_];
          return fail(std::string("expected '$', got '") + c + "'");
        }
        size_t cr = find_cr(data, pos_ + 1, len);
        if (cr == std::string_view::npos) {
          if (len - pos_ > limits_->max_inline_len) return fail("too big bulk count string");
          return ParseStatus::kNeedMore;
        }
        if (cr + 1 >= len) return ParseStatus::kNeedMore;
        auto blen = util::parse_int64(std::string_view(data + pos_ + 1, cr - pos_ - 1));
        size_t max_bulk =
            authenticated_ ? limits_->max_bulk_len : limits_->unauthenticated_max_bulk;
        if (!blen || *blen < 0 || static_cast<uint64_t>(*blen) > limits_->max_bulk_len) {
          return fail("invalid bulk length");
        }
        if (static_cast<uint64_t>(*blen) > max_bulk) return fail("unauthenticated bulk length");
        bulk_len_ = *blen;
        pos_ = cr + 2;
        frame_size_hint_ = bulk_len_ >= 32 * 1024 ? pos_ + static_cast<size_t>(bulk_len_) + 2 : 0;
        state_ = State::kBulkData;
        break;
      }
      case State::kBulkData: {
        size_t need = static_cast<size_t>(bulk_len_) + 2;
        if (len - pos_ < need) return ParseStatus::kNeedMore;
        if (data[pos_ + bulk_len_] != '\r' || data[pos_ + bulk_len_ + 1] != '\n') {
          return fail("expected CRLF after bulk data");
        }
        offsets_.emplace_back(pos_, static_cast<size_t>(bulk_len_));
        pos_ += need;
        frame_size_hint_ = 0;
        if (static_cast<int64_t>(offsets_.size()) == expected_args_) {
          args_.clear();
          for (auto [off, n] : offsets_) args_.emplace_back(data + off, n);
          *consumed = pos_;
          state_ = State::kStart;
          pos_ = 0;
          return ParseStatus::kOk;
        }
        state_ = State::kBulkHeader;
        break;
      }
    }
  }
}

}  // namespace tiercache::resp
