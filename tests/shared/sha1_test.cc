// SHA-1: the FIPS 180-1 appendix vectors, padding boundaries, and Redis's script names.
#include "shared/util/sha1.h"

#include <doctest/doctest.h>

#include <string>

using tiercache::util::sha1_hex;

namespace {
std::string hex(std::string_view s) {
  char out[40];
  sha1_hex(s, out);
  return std::string(out, 40);
}
}  // namespace

TEST_CASE("FIPS 180-1 test vectors") {
  CHECK(hex("abc") == "a9993e364706816aba3e25717850c26c9cd0d89d");
  CHECK(hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq") ==
        "84983e441c3bd26ebaae4aa1f95129e5e54670f1");
  CHECK(hex(std::string(1000000, 'a')) == "34aa973cd4c4daa4f61eeb2bdbad27316534016f");
  CHECK(hex("") == "da39a3ee5e6b4b0d3255bfef95601890afd80709");
}

TEST_CASE("lengths around the 64-byte block and its 56-byte padding boundary") {
  // Reference values from Python's hashlib.
  CHECK(hex(std::string(55, 'x')) == "cef734ba81a024479e09eb5a75b6ddae62e6abf1");
  CHECK(hex(std::string(56, 'x')) == "901305367c259952f4e7af8323f480d59f81335b");
  CHECK(hex(std::string(63, 'x')) == "0ddc4e0cccd9a12850deb5abb0853a4425559fec");
  CHECK(hex(std::string(64, 'x')) == "bb2fa3ee7afb9f54c6dfb5d021f14b1ffe40c163");
  CHECK(hex(std::string(65, 'x')) == "78c741ddc482e4cdf8c474a0876347a0905b6233");
  CHECK(hex(std::string(119, 'x')) == "4300320394f7ee239bcdce7d3b8bcee173a0cd5c");
  CHECK(hex(std::string(120, 'x')) == "ceb2821639c4b6dcb10bce0e522ca2e608ce056d");
}

TEST_CASE("script names as redis-server 7.0 gives them") {
  CHECK(hex("return 1") == "e0e1f9fabfc9d4800c877a703b823ac0578ff8db");
  CHECK(hex(std::string("a\0b", 3)) != hex("a"));  // binary-safe
}
