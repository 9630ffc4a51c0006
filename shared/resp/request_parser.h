// Incremental, zero-copy parser of client requests: RESP2 multibulk frames and inline commands.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace tiercache::resp {

// Limits applied while parsing; owned by the caller (usually the server config), must outlive
// every parser that points at it.
struct ParserLimits {
  size_t max_bulk_len = 512ull << 20;       // proto-max-bulk-len
  int64_t max_multibulk_len = INT32_MAX;    // number of arguments in one frame
  size_t max_inline_len = 64 << 10;         // an inline request or a count line without CRLF
  size_t unauthenticated_max_bulk = 16384;  // before AUTH when a password is set
  int64_t unauthenticated_max_args = 10;
};

enum class ParseStatus {
  kOk,        // a complete request; args() holds it (possibly empty: ignore it)
  kNeedMore,  // the frame is incomplete; call again with the same start and more bytes
  kError,     // protocol error; error() says why; the connection must be closed after replying
};

// Parses one request at a time from a buffer whose start is the start of the frame. State is
// kept between calls as offsets relative to that start, so the caller may move (compact or
// grow) the buffer between calls as long as the frame's bytes are kept in order at the new start.
// On kOk, args() are views into the buffer passed to that call (multibulk) or into the parser's
// own storage (inline); they stay valid until the next parse() or reset(), and until the buffer
// is modified. Not thread-safe; one parser per connection.
class RequestParser {
 public:
  explicit RequestParser(const ParserLimits* limits) : limits_(limits) {}

  ParseStatus parse(const char* data, size_t len, size_t* consumed);

  std::span<const std::string_view> args() const { return {args_.data(), args_.size()}; }
  const std::string& error() const { return error_; }

  // True while a frame is partly parsed (used to tell idle from mid-frame).
  bool in_frame() const { return state_ != State::kStart; }

  // Bytes the current frame needs in all, when known (a pending large bulk), else 0. Lets the
  // caller size its buffer once instead of growing it repeatedly.
  size_t frame_size_hint() const { return frame_size_hint_; }

  // Before authentication the limits are tighter (bad-input row 20).
  void set_authenticated(bool v) { authenticated_ = v; }

  // Forgets any partial frame.
  void reset();

 private:
  enum class State { kStart, kMultibulk, kBulkHeader, kBulkData };

  ParseStatus parse_inline(const char* data, size_t len, size_t* consumed);
  ParseStatus parse_multibulk(const char* data, size_t len, size_t* consumed);
  ParseStatus fail(std::string reason);

  const ParserLimits* limits_;
  bool authenticated_ = true;
  State state_ = State::kStart;
  size_t pos_ = 0;  // resume offset from the frame start
  int64_t expected_args_ = 0;
  int64_t bulk_len_ = 0;
  size_t frame_size_hint_ = 0;
  std::vector<std::pair<size_t, size_t>> offsets_;  // (offset, length) of parsed bulks
  std::vector<std::string_view> args_;
  std::string inline_storage_;
  std::vector<std::pair<size_t, size_t>> inline_offsets_;
  std::string error_;
};

}  // namespace tiercache::resp
