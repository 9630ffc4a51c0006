// Glob matcher: Redis's stringmatchlen semantics.
#include "shared/glob/glob.h"

#include <doctest/doctest.h>

#include <string>

using tiercache::glob::match;

TEST_CASE("wildcards") {
  CHECK(match("*", ""));
  CHECK(match("*", "anything"));
  CHECK(match("h?llo", "hello"));
  CHECK_FALSE(match("h?llo", "hllo"));
  CHECK(match("h*llo", "hllo"));
  CHECK(match("h*llo", "heeeello"));
  CHECK(match(":1:*", ":1:views.decorators.cache"));
  CHECK_FALSE(match(":1:*", ":2:x"));
  CHECK(match("*a*b*c*", "xxaxxbxxcxx"));
  CHECK_FALSE(match("*a*b*c*", "xxaxxcxxbxx"));
}

TEST_CASE("classes, negation, ranges and escapes") {
  CHECK(match("h[ae]llo", "hello"));
  CHECK(match("h[ae]llo", "hallo"));
  CHECK_FALSE(match("h[ae]llo", "hillo"));
  CHECK(match("h[^e]llo", "hallo"));
  CHECK_FALSE(match("h[^e]llo", "hello"));
  CHECK(match("h[a-b]llo", "hbllo"));
  CHECK(match("h[b-a]llo", "hallo"));  // reversed range accepted
  CHECK(match("[*]foo", "*foo"));      // how django-redis sends a prefix '*'
  CHECK_FALSE(match("[*]foo", "xfoo"));
  CHECK(match("\\*x", "*x"));
  CHECK_FALSE(match("\\*x", "ax"));
  CHECK(match("#1#*foo-a*", "#1#barfoo-abc"));
  CHECK(match("a[\\]]b", "a]b"));
}

TEST_CASE("binary safety and nocase") {
  CHECK(match(std::string_view("a\0*", 3), std::string_view("a\0zz", 4)));
  CHECK(match("HELLO*", "hello world", true));
  CHECK_FALSE(match("HELLO*", "hello world", false));
}

TEST_CASE("pathological pattern stays fast") {
  std::string text(5000, 'a');
  std::string pat;
  for (int i = 0; i < 50; ++i) pat += "*a";
  pat += "*b";
  CHECK_FALSE(match(pat, text));  // would be exponential with naive recursion
}
