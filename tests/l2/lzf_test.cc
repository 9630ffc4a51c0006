// LZF: compress/decompress round trips on random, repetitive and mixed inputs, the output
// limit, and the format's edges (long matches, far back references, literal runs).
#include "l2/persistence/lzf.h"

#include <doctest/doctest.h>

#include <random>
#include <string>

using tiercache::l2::persistence::lzf_compress;
using tiercache::l2::persistence::lzf_decompress;

namespace {

// Compresses with no limit and checks the round trip; returns the compressed size.
size_t round_trip(const std::string& in) {
  std::string packed = "prefix";
  size_t n = lzf_compress(in, in.size() + in.size() / 16 + 64, &packed);
  REQUIRE(n > 0);
  REQUIRE(packed.size() == 6 + n);
  CHECK(packed.substr(0, 6) == "prefix");
  std::string back = "x";
  REQUIRE(lzf_decompress(std::string_view(packed).substr(6), in.size(), &back));
  CHECK(back == "x" + in);
  return n;
}

std::string random_bytes(std::mt19937_64& rng, size_t n, int alphabet) {
  std::string s(n, '\0');
  for (char& c : s) c = static_cast<char>(rng() % static_cast<uint64_t>(alphabet));
  return s;
}

}  // namespace

TEST_CASE("random inputs of every size round-trip") {
  std::mt19937_64 rng(42);
  for (size_t n = 1; n < 2000; n += 1 + n / 8) {
    for (int alphabet : {2, 4, 26, 256}) {
      CAPTURE(n);
      CAPTURE(alphabet);
      round_trip(random_bytes(rng, n, alphabet));
    }
  }
  round_trip(random_bytes(rng, 1 << 20, 256));  // past the 8 KiB window and the hash table
  round_trip(random_bytes(rng, 1 << 20, 3));
}

TEST_CASE("repetitive inputs shrink and round-trip") {
  // All matches of the longest kind: 379 of 264 bytes, 3 output bytes each, one literal.
  CHECK(round_trip(std::string(100000, 'a')) == 2 + 379 * 3);
  std::string text;
  for (int i = 0; i < 2000; ++i) text += "user:" + std::to_string(i % 50) + ":session;";
  CHECK(round_trip(text) < text.size() / 4);
  // A period just inside and just outside the 8192-byte window.
  std::mt19937_64 rng(1);
  for (size_t period : {8191, 8192, 8193, 9000}) {
    std::string block = random_bytes(rng, period, 256);
    CAPTURE(period);
    size_t n = round_trip(block + block + block);
    if (period <= 8192) CHECK(n < period * 2);
  }
}

TEST_CASE("a limit that the output does not fit leaves out unchanged") {
  std::mt19937_64 rng(3);
  std::string in = random_bytes(rng, 500, 256);  // incompressible
  std::string out = "keep";
  CHECK(lzf_compress(in, in.size() - 4, &out) == 0);
  CHECK(out == "keep");
  CHECK(lzf_compress("", 10, &out) == 0);
  std::string rep(1000, 'z');
  size_t n = lzf_compress(rep, 996, &out);
  CHECK(n > 0);
  CHECK(n < 50);
}

TEST_CASE("the decompressor rejects what does not decode to the announced length") {
  std::string packed;
  std::string in(300, 'q');
  size_t n = lzf_compress(in, 1000, &packed);
  REQUIRE(n > 0);
  std::string out;
  CHECK_FALSE(lzf_decompress(packed, 299, &out));
  out.clear();
  CHECK_FALSE(lzf_decompress(packed, 301, &out));
  out.clear();
  CHECK_FALSE(lzf_decompress(std::string_view(packed).substr(0, n - 1), 300, &out));
}
