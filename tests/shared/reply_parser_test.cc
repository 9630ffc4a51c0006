// RESP2 reply parser: every type, nesting, incomplete input at every cut, malformed input.
#include "shared/resp/reply_parser.h"

#include <doctest/doctest.h>

#include <string>
#include <vector>

using namespace tiercache::resp;

namespace {

std::vector<ReplyToken> parse_ok(std::string_view s) {
  std::vector<ReplyToken> t;
  size_t consumed = 0;
  REQUIRE(parse_reply(s, &t, &consumed) == ReplyStatus::kOk);
  CHECK(consumed == s.size());
  return t;
}

ReplyStatus status(std::string_view s, const ReplyLimits& limits = {}) {
  std::vector<ReplyToken> t;
  size_t consumed = 0;
  ReplyStatus st = parse_reply(s, &t, &consumed, limits);
  if (st != ReplyStatus::kOk) CHECK(t.empty());
  return st;
}

}  // namespace

TEST_CASE("scalars") {
  auto t = parse_ok("+OK\r\n");
  REQUIRE(t.size() == 1);
  CHECK(t[0].type == ReplyType::kSimple);
  CHECK(t[0].text == "OK");
  t = parse_ok("-ERR bad thing\r\n");
  CHECK(t[0].type == ReplyType::kError);
  CHECK(t[0].text == "ERR bad thing");
  t = parse_ok(":-42\r\n");
  CHECK(t[0].type == ReplyType::kInteger);
  CHECK(t[0].integer == -42);
  t = parse_ok("$5\r\na\r\nbc\r\n");
  CHECK(t[0].type == ReplyType::kBulk);
  CHECK(t[0].text == "a\r\nbc");
  t = parse_ok("$0\r\n\r\n");
  CHECK(t[0].text.empty());
  CHECK(parse_ok("$-1\r\n")[0].type == ReplyType::kNull);
  CHECK(parse_ok("*-1\r\n")[0].type == ReplyType::kNullArray);
}

TEST_CASE("nested arrays are flattened in pre-order") {
  auto t = parse_ok("*3\r\n:1\r\n*2\r\n$1\r\na\r\n*0\r\n$-1\r\n");
  REQUIRE(t.size() == 6);
  CHECK(t[0].type == ReplyType::kArray);
  CHECK(t[0].integer == 3);
  CHECK(t[1].integer == 1);
  CHECK(t[2].type == ReplyType::kArray);
  CHECK(t[2].integer == 2);
  CHECK(t[3].text == "a");
  CHECK(t[4].type == ReplyType::kArray);
  CHECK(t[4].integer == 0);
  CHECK(t[5].type == ReplyType::kNull);
}

TEST_CASE("only the first reply is consumed") {
  std::vector<ReplyToken> t;
  size_t consumed = 0;
  REQUIRE(parse_reply("*1\r\n:1\r\n+OK\r\n", &t, &consumed) == ReplyStatus::kOk);
  CHECK(consumed == 8);
  CHECK(t.size() == 2);
}

TEST_CASE("every proper prefix needs more, and tokens are untouched meanwhile") {
  std::string full = "*4\r\n+OK\r\n-ERR x\r\n$3\r\nabc\r\n*2\r\n:7\r\n$-1\r\n";
  for (size_t n = 0; n < full.size(); ++n) {
    CAPTURE(n);
    CHECK(status(std::string_view(full).substr(0, n)) == ReplyStatus::kNeedMore);
  }
  CHECK(parse_ok(full).size() == 7);
}

TEST_CASE("malformed replies") {
  CHECK(status("?x\r\n") == ReplyStatus::kError);
  CHECK(status("x") == ReplyStatus::kError);
  CHECK(status(":abc\r\n") == ReplyStatus::kError);
  CHECK(status(":\r\n") == ReplyStatus::kError);
  CHECK(status("$-2\r\n") == ReplyStatus::kError);
  CHECK(status("$3\r\nabcd\r\n") == ReplyStatus::kError);  // no CRLF after the payload
  CHECK(status("*-5\r\n") == ReplyStatus::kError);
  CHECK(status("*1\r\n!\r\n") == ReplyStatus::kError);
  CHECK(status("$99999999999999999999\r\n") == ReplyStatus::kError);
}

TEST_CASE("depth and size limits") {
  std::string deep;
  for (int i = 0; i < 100; ++i) deep += "*1\r\n";
  deep += ":1\r\n";
  ReplyLimits limits;
  limits.max_depth = 100;
  CHECK(status(deep, limits) == ReplyStatus::kOk);
  limits.max_depth = 99;
  CHECK(status(deep, limits) == ReplyStatus::kError);
  limits = ReplyLimits{};
  limits.max_bulk_len = 2;
  CHECK(status("$3\r\nabc\r\n", limits) == ReplyStatus::kError);
  limits.max_array_len = 1;
  CHECK(status("*2\r\n:1\r\n:2\r\n", limits) == ReplyStatus::kError);
}
