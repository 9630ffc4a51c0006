// Parsing of human-readable byte sizes used in config files and flags.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

namespace tiercache::config {

// Parses "1048576", "64mb", "64MiB", "1gb", "512k" (case-insensitive). As in Redis, "k"/"m"/"g"
// are powers of 1000 and "kb"/"mb"/"gb" (and "KiB"/"MiB"/"GiB") powers of 1024. nullopt for
// anything else, negative numbers or overflow.
std::optional<uint64_t> parse_size(std::string_view s);

}  // namespace tiercache::config
