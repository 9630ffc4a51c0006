// Strict decimal number parsing and formatting shared by the codec and the command handlers.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace tiercache::util {

// Parses a signed 64-bit decimal integer the way Redis's string2ll does: optional '-', digits,
// no leading '+', no leading zeros (except "0"), no spaces, no overflow. nullopt otherwise.
std::optional<int64_t> parse_int64(std::string_view s);

// Parses a long double like Redis's string2ld: finite, no leading/trailing spaces, not empty.
std::optional<long double> parse_long_double(std::string_view s);

// Formats a long double the way Redis's INCRBYFLOAT replies (up to 17 significant digits,
// trailing zeros removed, no exponent for ordinary magnitudes).
std::string format_long_double(long double v);

// Appends the decimal form of v to out. Never allocates beyond out's growth.
void append_int64(std::string& out, int64_t v);

// ASCII case-insensitive equality.
bool iequals(std::string_view a, std::string_view b);

}  // namespace tiercache::util
