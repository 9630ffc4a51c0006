// Option helpers shared by both servers' configuration.
#include "shared/config/options.h"

#include <doctest/doctest.h>

#include <cstdio>
#include <fstream>
#include <map>
#include <unistd.h>

using namespace tiercache::config;

TEST_CASE("names, integers, sizes, modes") {
  CHECK(normalize_name("L1_Memory") == "l1-memory");
  CHECK(normalize_name("l1.max_ttl") == "l1-max-ttl");
  int64_t n = 0;
  std::string err;
  CHECK(parse_int_option("42", 0, 100, &n, &err));
  CHECK(n == 42);
  CHECK_FALSE(parse_int_option("101", 0, 100, &n, &err));
  CHECK(err.find("between 0 and 100") != std::string::npos);
  uint64_t sz = 0;
  CHECK(parse_size_option("256MiB", &sz, &err));
  CHECK(sz == 256ull << 20);
  int mode = 0;
  CHECK(parse_mode_option("0660", &mode, &err));
  CHECK(mode == 0660);
  CHECK_FALSE(parse_mode_option("999", &mode, &err));
}

TEST_CASE("TOML files: nested tables flatten, errors name the line") {
  char path[] = "/tmp/tc-options-XXXXXX";
  int fd = mkstemp(path);
  REQUIRE(fd >= 0);
  close(fd);
  {
    std::ofstream f(path);
    f << "socket = \"/run/x.sock\"\nport = 0\n[l1]\nmemory = \"1GiB\"\nmax_ttl_ms = 5000\n";
  }
  std::map<std::string, std::string> got;
  std::string err;
  CHECK(load_toml_file(path, [&](const std::string& k, const std::string& v, std::string*) {
    got[normalize_name(k)] = v;
    return true;
  }, &err));
  CHECK(got["socket"] == "/run/x.sock");
  CHECK(got["port"] == "0");
  CHECK(got["l1-memory"] == "1GiB");
  CHECK(got["l1-max-ttl-ms"] == "5000");
  {
    std::ofstream f(path);
    f << "a = 1\nb = = 2\n";
  }
  CHECK_FALSE(load_toml_file(path, [](const std::string&, const std::string&, std::string*) {
    return true;
  }, &err));
  CHECK(err.find(":2:") != std::string::npos);
  CHECK_FALSE(load_toml_file(path, [](const std::string&, const std::string&, std::string* e) {
    *e = "nope";
    return false;
  }, &err));
  remove(path);
}
