// Redis-compatible glob matching (KEYS, SCAN MATCH, PSUBSCRIBE, pattern invalidation).
#pragma once

#include <string_view>

namespace tiercache::glob {

// True when `text` matches `pattern` with Redis's rules: `*` any run, `?` one byte, `[abc]`,
// `[^a-z]` classes with ranges (reversed ranges accepted), `\x` escapes a byte. Binary-safe.
// Runs in O(|pattern| * |text|) at worst (no exponential backtracking).
bool match(std::string_view pattern, std::string_view text, bool nocase = false);

// True when the pattern has no special characters, so it can only match itself.
bool is_literal(std::string_view pattern);

}  // namespace tiercache::glob
