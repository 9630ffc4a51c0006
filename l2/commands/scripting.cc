// The EVAL family and SCRIPT. Lua scripting is tracked as its own issue; until it lands these
// commands answer a clear error instead of "unknown command", so clients see why.
#include "l2/commands/common.h"

namespace tiercache::l2 {
namespace {

void not_yet(CommandContext& ctx) {
  cmd::error(ctx, "ERR Lua scripting is not available in this build of tiercache-l2");
}

}  // namespace

void register_scripting_commands(HandlerRegistry& r) {
  r.add("eval", not_yet);
  r.add("evalsha", not_yet);
  r.add("eval_ro", not_yet);
  r.add("evalsha_ro", not_yet);
  r.add("script", not_yet);
}

}  // namespace tiercache::l2
