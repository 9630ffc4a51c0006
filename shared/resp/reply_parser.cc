// RESP2 reply parser (see reply_parser.h). Iterative: nesting is tracked with a small stack of
// remaining element counts, so a deep reply cannot overflow the C stack.
#include "shared/resp/reply_parser.h"

#include "shared/util/numbers.h"

namespace tiercache::resp {
namespace {

// The line starting at pos (without CRLF); npos in *end when no CRLF follows yet.
bool read_line(std::string_view buf, size_t pos, std::string_view* line, size_t* next) {
  size_t cr = buf.find("\r\n", pos);
  if (cr == std::string_view::npos) return false;
  *line = buf.substr(pos, cr - pos);
  *next = cr + 2;
  return true;
}

}  // namespace

ReplyStatus parse_reply(std::string_view buf, std::vector<ReplyToken>* tokens, size_t* consumed,
                        const ReplyLimits& limits) {
  const size_t start_size = tokens->size();
  auto fail = [&](ReplyStatus st) {
    tokens->resize(start_size);
    return st;
  };
  // Remaining elements of each open array, innermost last.
  int64_t stack_small[32];
  std::vector<int64_t> stack_big;
  int depth = 0;
  auto push = [&](int64_t n) {
    if (depth < 32)
      stack_small[depth] = n;
    else
      stack_big.push_back(n);
    ++depth;
  };
  auto top = [&]() -> int64_t& { return depth <= 32 ? stack_small[depth - 1] : stack_big.back(); };
  auto pop = [&]() {
    if (depth > 32) stack_big.pop_back();
    --depth;
  };

  size_t pos = 0;
  do {
    if (pos >= buf.size()) return fail(ReplyStatus::kNeedMore);
    char kind = buf[pos];
    std::string_view line;
    size_t next = 0;
    if (!read_line(buf, pos + 1, &line, &next)) {
      // A type byte that can never start a reply is an error even before the CRLF arrives.
      if (kind != '+' && kind != '-' && kind != ':' && kind != '$' && kind != '*')
        return fail(ReplyStatus::kError);
      return fail(ReplyStatus::kNeedMore);
    }
    switch (kind) {
      case '+':
        tokens->push_back({ReplyType::kSimple, 0, line});
        break;
      case '-':
        tokens->push_back({ReplyType::kError, 0, line});
        break;
      case ':': {
        auto v = util::parse_int64(line);
        if (!v) return fail(ReplyStatus::kError);
        tokens->push_back({ReplyType::kInteger, *v, {}});
        break;
      }
      case '$': {
        auto n = util::parse_int64(line);
        if (!n || *n < -1 || *n > limits.max_bulk_len) return fail(ReplyStatus::kError);
        if (*n == -1) {
          tokens->push_back({ReplyType::kNull, 0, {}});
          break;
        }
        size_t len = static_cast<size_t>(*n);
        if (buf.size() - next < len + 2) return fail(ReplyStatus::kNeedMore);
        if (buf[next + len] != '\r' || buf[next + len + 1] != '\n')
          return fail(ReplyStatus::kError);
        tokens->push_back({ReplyType::kBulk, 0, buf.substr(next, len)});
        next += len + 2;
        break;
      }
      case '*': {
        auto n = util::parse_int64(line);
        if (!n || *n < -1 || *n > limits.max_array_len) return fail(ReplyStatus::kError);
        if (*n == -1) {
          tokens->push_back({ReplyType::kNullArray, 0, {}});
          break;
        }
        tokens->push_back({ReplyType::kArray, *n, {}});
        if (*n > 0) {
          if (depth >= limits.max_depth) return fail(ReplyStatus::kError);
          push(*n + 1);  // +1: the decrement below counts the array itself as its parent's element
        }
        break;
      }
      default:
        return fail(ReplyStatus::kError);
    }
    pos = next;
    // One element done: close every array it completes.
    while (depth > 0 && --top() == 0) pop();
  } while (depth > 0);
  *consumed = pos;
  return ReplyStatus::kOk;
}

}  // namespace tiercache::resp
