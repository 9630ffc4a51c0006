// Helpers of the typed-value handlers (see typed.h).
#include "l2/commands/typed.h"

namespace tiercache::l2::cmd {

// Redis parses the cursor with strtoul (parseScanCursorOrReply): an optional sign ("-1" is
// 2^64 - 1, "+5" is 5), digits, nothing else; "" is 0; a leading space or an overflow is invalid.
bool parse_scan_cursor(CommandContext& ctx, std::string_view c, ScanArgs* out) {
  uint64_t cursor = 0;
  bool negative = false;
  size_t i = 0;
  if (!c.empty() && (c[0] == '+' || c[0] == '-')) {
    negative = c[0] == '-';
    i = 1;
    if (c.size() == 1) {
      error(ctx, "ERR invalid cursor");
      return false;
    }
  }
  for (; i < c.size(); ++i) {
    char ch = c[i];
    uint64_t d = static_cast<uint64_t>(ch - '0');
    if (ch < '0' || ch > '9' || cursor > (UINT64_MAX - d) / 10) {
      error(ctx, "ERR invalid cursor");
      return false;
    }
    cursor = cursor * 10 + d;
  }
  out->cursor = negative ? 0 - cursor : cursor;
  return true;
}

bool parse_scan_options(CommandContext& ctx, size_t first, ScanArgs* out, bool allow_type) {
  for (size_t i = first; i < ctx.args.size(); i += 2) {
    if (i + 1 >= ctx.args.size()) {
      error(ctx, kSyntaxError);
      return false;
    }
    std::string_view opt = ctx.args[i], val = ctx.args[i + 1];
    if (is(opt, "match")) {
      out->pattern = val;
      out->has_pattern = val != "*";
    } else if (is(opt, "count")) {
      auto n = int_arg(ctx, val);
      if (!n) return false;
      if (*n < 1) {
        error(ctx, kSyntaxError);
        return false;
      }
      out->count = *n;
    } else if (allow_type && is(opt, "type")) {
      out->type = val;
    } else {
      error(ctx, kSyntaxError);
      return false;
    }
  }
  return true;
}

bool parse_mpop_args(CommandContext& ctx, size_t at, std::string_view word1,
                     std::string_view word2, MpopArgs* out) {
  auto numkeys =
      range_arg(ctx, ctx.args[at], 1, INT64_MAX, "ERR numkeys should be greater than 0");
  if (!numkeys) return false;
  if (*numkeys >= static_cast<int64_t>(ctx.args.size())) {
    error(ctx, kSyntaxError);
    return false;
  }
  out->first_key = at + 1;
  out->end_key = at + 1 + static_cast<size_t>(*numkeys);
  if (out->end_key >= ctx.args.size()) {
    error(ctx, kSyntaxError);
    return false;
  }
  std::string_view where = ctx.args[out->end_key];
  if (!is(where, word1) && !is(where, word2)) {
    error(ctx, kSyntaxError);
    return false;
  }
  out->second_word = is(where, word2);
  bool has_count = false;
  for (size_t j = out->end_key + 1; j < ctx.args.size(); ++j) {
    if (!has_count && is(ctx.args[j], "count") && j + 1 < ctx.args.size()) {
      auto c = range_arg(ctx, ctx.args[++j], 1, INT64_MAX, "ERR count should be greater than 0");
      if (!c) return false;
      out->count = *c;
      has_count = true;
    } else {
      error(ctx, kSyntaxError);
      return false;
    }
  }
  return true;
}

}  // namespace tiercache::l2::cmd
