// Parser of RESP2 *replies* (the other direction from request_parser.h): turns one complete
// reply into a flat, pre-order list of tokens. Used by tiercache-l2 to read back what a command
// run from a Lua script wrote, and usable by any client of the protocol. No allocation beyond
// the caller's token vector; strings are views into the parsed buffer.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

namespace tiercache::resp {

enum class ReplyType : uint8_t {
  kSimple,     // +text
  kError,      // -text (text without the '-')
  kInteger,    // :n
  kBulk,       // $n text
  kNull,       // $-1
  kArray,      // *n, followed by its n elements' tokens
  kNullArray,  // *-1
};

struct ReplyToken {
  ReplyType type;
  int64_t integer;        // kInteger: the value; kArray: the element count; else 0
  std::string_view text;  // kSimple, kError, kBulk: the payload (a view into the buffer)
};

enum class ReplyStatus {
  kOk,        // one complete reply was parsed; *consumed says how many bytes it took
  kNeedMore,  // the buffer ends inside the reply
  kError,     // not valid RESP2 (or deeper than max_depth); nothing usable
};

struct ReplyLimits {
  int max_depth = 512;                // nesting of arrays
  int64_t max_array_len = 1ll << 32;  // elements in one array
  int64_t max_bulk_len = 1ll << 40;   // bytes in one bulk string
};

// Parses the reply at the start of buf, appending its tokens to *tokens (on kOk only; on other
// results *tokens is restored to its size at entry). Never reads outside buf.
ReplyStatus parse_reply(std::string_view buf, std::vector<ReplyToken>* tokens, size_t* consumed,
                        const ReplyLimits& limits = {});

}  // namespace tiercache::resp
