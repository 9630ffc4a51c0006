// libFuzzer target for the request parser: never crashes, never reads out of bounds, and
// parsing in two chunks (split at a fuzzer-chosen byte) gives exactly what parsing whole gives.
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "shared/resp/request_parser.h"

using tiercache::resp::ParserLimits;
using tiercache::resp::ParseStatus;
using tiercache::resp::RequestParser;

namespace {

struct Outcome {
  std::vector<std::vector<std::string>> commands;
  bool error = false;
  std::string reason;
};

Outcome run(const uint8_t* data, size_t size, size_t cut, const ParserLimits& limits) {
  RequestParser p(&limits);
  Outcome out;
  std::string buf;
  size_t fed = 0;
  for (size_t end : {cut, size}) {
    buf.append(reinterpret_cast<const char*>(data) + fed, end - fed);
    fed = end;
    while (!buf.empty()) {
      std::vector<char> copy(buf.begin(), buf.end());  // exact-size: ASan catches overreads
      size_t consumed = 0;
      ParseStatus st = p.parse(copy.data(), copy.size(), &consumed);
      if (st == ParseStatus::kNeedMore) break;
      if (st == ParseStatus::kError) {
        out.error = true;
        out.reason = p.error();
        return out;
      }
      if (consumed == 0 || consumed > copy.size()) __builtin_trap();
      std::vector<std::string> cmd;
      for (auto a : p.args()) cmd.emplace_back(a);
      out.commands.push_back(std::move(cmd));
      buf.erase(0, consumed);
    }
  }
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  ParserLimits limits;
  limits.max_bulk_len = 1 << 16;
  limits.max_inline_len = 1 << 12;
  size_t cut = data[0] % size;
  Outcome whole = run(data + 1, size - 1, 0, limits);
  Outcome split = run(data + 1, size - 1, cut > size - 1 ? size - 1 : cut, limits);
  // Inline frames are only complete at '\n', and limits are checked on what has arrived, so a
  // split can only turn a "too big" error earlier or later, never change completed commands.
  if (!whole.error && !split.error && whole.commands != split.commands) __builtin_trap();
  return 0;
}
