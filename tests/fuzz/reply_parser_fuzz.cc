// libFuzzer target for the RESP2 reply parser: never crashes or reads out of bounds; an accepted
// reply re-serializes to exactly the bytes consumed (the parser only accepts canonical RESP2);
// a prefix of an accepted reply always needs more; failures leave the token list untouched.
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "shared/resp/reply_parser.h"
#include "shared/resp/reply_writer.h"

using namespace tiercache::resp;

namespace {

void serialize(const std::vector<ReplyToken>& t, size_t* i, std::string& out) {
  const ReplyToken& k = t[(*i)++];
  switch (k.type) {
    case ReplyType::kSimple:
      write_simple(out, k.text);
      return;
    case ReplyType::kError:
      write_error(out, k.text);
      return;
    case ReplyType::kInteger:
      write_integer(out, k.integer);
      return;
    case ReplyType::kBulk:
      write_bulk(out, k.text);
      return;
    case ReplyType::kNull:
      write_null(out);
      return;
    case ReplyType::kNullArray:
      write_null_array(out);
      return;
    case ReplyType::kArray:
      write_array_header(out, k.integer);
      for (int64_t e = 0; e < k.integer; ++e) serialize(t, i, out);
      return;
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  ReplyLimits limits;
  limits.max_depth = 64;
  limits.max_bulk_len = 1 << 20;
  limits.max_array_len = 1 << 16;
  std::vector<char> copy(data + 1, data + size);  // exact size: ASan catches overreads
  std::string_view buf(copy.data(), copy.size());
  std::vector<ReplyToken> tokens(1, ReplyToken{ReplyType::kNull, 0, {}});
  size_t consumed = 0;
  ReplyStatus st = parse_reply(buf, &tokens, &consumed, limits);
  if (st != ReplyStatus::kOk) {
    if (tokens.size() != 1) __builtin_trap();
    return 0;
  }
  if (consumed == 0 || consumed > buf.size() || tokens.size() < 2) __builtin_trap();
  std::string again;
  size_t i = 1;
  serialize(tokens, &i, again);
  if (i != tokens.size() || again != buf.substr(0, consumed)) __builtin_trap();
  size_t cut = data[0] % consumed;
  std::vector<ReplyToken> t2;
  size_t c2 = 0;
  if (parse_reply(buf.substr(0, cut), &t2, &c2, limits) != ReplyStatus::kNeedMore) __builtin_trap();
  return 0;
}
