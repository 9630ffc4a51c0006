// Splits an inline request line into arguments with Redis's quoting rules (sdssplitargs).
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace tiercache::resp {

// Splits `line` (without its line terminator) into arguments. Arguments are appended unescaped
// to `storage` and described by (offset, length) pairs in `offsets`. Supports "double quotes"
// with \n \r \t \b \a \\ \" \xHH escapes and 'single quotes' with \' as in Redis. Returns false
// for unbalanced quotes or a closing quote not followed by a space.
bool split_inline_args(std::string_view line, std::string* storage,
                       std::vector<std::pair<size_t, size_t>>* offsets);

}  // namespace tiercache::resp
