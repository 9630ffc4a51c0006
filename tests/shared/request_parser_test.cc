// Request parser: valid frames whole and split at every byte boundary, and the bad-input rows.
#include "shared/resp/request_parser.h"

#include <doctest/doctest.h>

#include <string>
#include <vector>

using tiercache::resp::ParserLimits;
using tiercache::resp::ParseStatus;
using tiercache::resp::RequestParser;

namespace {

struct Parsed {
  ParseStatus status;
  std::vector<std::vector<std::string>> commands;  // empty commands included as {}
  std::string error;
};

// Feeds `input` in chunks whose boundaries are `cuts`, keeping unparsed bytes at the buffer's
// start as a server does (the buffer is rebuilt, so views must not outlive a call).
Parsed feed(const std::string& input, const std::vector<size_t>& cuts,
            const ParserLimits& limits = ParserLimits{}) {
  RequestParser p(&limits);
  Parsed out{ParseStatus::kNeedMore, {}, {}};
  std::string buf;
  size_t fed = 0;
  std::vector<size_t> ends = cuts;
  ends.push_back(input.size());
  for (size_t end : ends) {
    buf.append(input, fed, end - fed);
    fed = end;
    while (!buf.empty()) {
      std::string copy = buf;  // a fresh allocation each time: catches stale views
      size_t consumed = 0;
      ParseStatus st = p.parse(copy.data(), copy.size(), &consumed);
      if (st == ParseStatus::kNeedMore) break;
      if (st == ParseStatus::kError) {
        out.status = st;
        out.error = p.error();
        return out;
      }
      std::vector<std::string> cmd;
      for (auto a : p.args()) cmd.emplace_back(a);
      out.commands.push_back(cmd);
      buf.erase(0, consumed);
    }
  }
  out.status = buf.empty() ? ParseStatus::kOk : ParseStatus::kNeedMore;
  return out;
}

Parsed whole(const std::string& s, const ParserLimits& l = ParserLimits{}) {
  return feed(s, {}, l);
}

}  // namespace

TEST_CASE("multibulk frames parse whole and split at every byte boundary") {
  const std::vector<std::pair<std::string, std::vector<std::vector<std::string>>>> cases = {
      {"*1\r\n$4\r\nPING\r\n", {{"PING"}}},
      {"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$5\r\nv\r\nal\r\n", {{"SET", "k", "v\r\nal"}}},
      {"*2\r\n$3\r\nGET\r\n$0\r\n\r\n", {{"GET", ""}}},
      {std::string("*2\r\n$4\r\nECHO\r\n$3\r\n\x00\x01\x02\r\n", 23),
       {{"ECHO", std::string("\x00\x01\x02", 3)}}},
      {"*1\r\n$4\r\nPING\r\n*2\r\n$4\r\nECHO\r\n$2\r\nhi\r\n", {{"PING"}, {"ECHO", "hi"}}},
      {"PING\r\n", {{"PING"}}},
      {"SET a \"b c\"\r\n", {{"SET", "a", "b c"}}},
      {"set k 'it\\'s'\n", {{"set", "k", "it's"}}},
      {"echo \"\\x41\\n\"\r\n", {{"echo", "A\n"}}},
      {"\r\n", {{}}},
      {"*0\r\n*-10\r\n", {{}, {}}},
  };
  for (const auto& test_case : cases) {
    // Not a structured binding: clang 14 cannot capture one in CAPTURE's lambda.
    const std::string& frame = test_case.first;
    const auto& expected = test_case.second;
    CAPTURE(frame);
    Parsed w = whole(frame);
    REQUIRE(w.status == ParseStatus::kOk);
    CHECK(w.commands == expected);
    for (size_t cut = 1; cut < frame.size(); ++cut) {
      CAPTURE(cut);
      Parsed s = feed(frame, {cut});
      REQUIRE(s.status == ParseStatus::kOk);
      CHECK(s.commands == expected);
    }
    // Every byte on its own.
    std::vector<size_t> all;
    for (size_t i = 1; i < frame.size(); ++i) all.push_back(i);
    Parsed bytes = feed(frame, all);
    CHECK(bytes.commands == expected);
  }
}

TEST_CASE("every strict prefix of a frame waits for more") {
  const std::string frame = "*3\r\n$3\r\nSET\r\n$3\r\nkey\r\n$5\r\nvalue\r\n";
  for (size_t n = 1; n < frame.size(); ++n) {
    Parsed p = whole(frame.substr(0, n));
    CHECK(p.status == ParseStatus::kNeedMore);
    CHECK(p.commands.empty());
  }
}

TEST_CASE("protocol errors carry Redis's reasons") {
  CHECK(whole("*3000000000\r\n").error == "invalid multibulk length");
  CHECK(whole("*abc\r\n").error == "invalid multibulk length");
  CHECK(whole("*1\r\nfoo\r\n").error == "expected '$', got 'f'");
  CHECK(whole("*1\r\n$-10\r\n").error == "invalid bulk length");
  CHECK(whole("*1\r\n$2000000000\r\n").error == "invalid bulk length");
  CHECK(whole("*1\r\n$blabla\r\n").error == "invalid bulk length");
  CHECK(whole("*1\r\n$3\r\nabcXY").error == "expected CRLF after bulk data");
  CHECK(whole("*" + std::string(70000, '1')).error == "too big mbulk count string");
  CHECK(whole("*1\r\n$" + std::string(70000, '1')).error == "too big bulk count string");
  CHECK(whole(std::string(70000, 'a')).error == "too big inline request");
  CHECK(whole("set a \"b\r\n").error == "unbalanced quotes in request");
  CHECK(whole(std::string("\x00", 1) + "abc").error == "unexpected binary data in inline request");
}

TEST_CASE("configured bulk limit and unauthenticated limits") {
  ParserLimits limits;
  limits.max_bulk_len = 10;
  CHECK(whole("*1\r\n$11\r\n", limits).error == "invalid bulk length");
  CHECK(whole("*1\r\n$10\r\n0123456789\r\n", limits).status == ParseStatus::kOk);

  ParserLimits l2;
  RequestParser p(&l2);
  p.set_authenticated(false);
  size_t consumed = 0;
  std::string many = "*11\r\n";
  CHECK(p.parse(many.data(), many.size(), &consumed) == ParseStatus::kError);
  CHECK(p.error() == "unauthenticated multibulk length");
  p.reset();
  std::string big = "*2\r\n$4\r\nAUTH\r\n$16385\r\n";
  CHECK(p.parse(big.data(), big.size(), &consumed) == ParseStatus::kError);
  CHECK(p.error() == "unauthenticated bulk length");
}

TEST_CASE("a large bulk announces its size so the buffer is sized once") {
  ParserLimits limits;
  RequestParser p(&limits);
  std::string head = "*2\r\n$3\r\nSET\r\n$100000\r\n";
  size_t consumed = 0;
  CHECK(p.parse(head.data(), head.size(), &consumed) == ParseStatus::kNeedMore);
  CHECK(p.frame_size_hint() == head.size() + 100000 + 2);
}

TEST_CASE("20,002 arguments in one frame") {
  std::string frame = "*20003\r\n$4\r\nMSET\r\n";
  for (int i = 0; i < 10001; ++i) {
    std::string k = "k" + std::to_string(i);
    frame += "$" + std::to_string(k.size()) + "\r\n" + k + "\r\n$1\r\nv\r\n";
  }
  Parsed p = whole(frame);
  REQUIRE(p.status == ParseStatus::kOk);
  REQUIRE(p.commands.size() == 1);
  CHECK(p.commands[0].size() == 20003);
  CHECK(p.commands[0][20001] == "k10000");
}
