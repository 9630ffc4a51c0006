// libFuzzer target for tiercache-sidecar's dispatcher: arbitrary bytes are parsed and handed to
// Sidecar::on_request on a socket-less connection. The L2 is unreachable (a refused port), so
// every path that needs it takes its failure branch; local commands, MULTI queueing, write
// batching and key extraction, invalidation of L1 and the fill guard all run for real.
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <string>

#include "shared/resp/request_parser.h"
#include "sidecar/sidecar.h"

using namespace tiercache;

namespace {

std::string g_socket, g_shm;

sidecar::Sidecar* make_sidecar() {
  sidecar::Config c;
  g_socket = "/tmp/tc-fuzz-" + std::to_string(getpid()) + ".sock";
  g_shm = "fuzz-" + std::to_string(getpid());
  c.socket = g_socket;
  c.shm_name = g_shm;
  c.l1_memory = 4 << 20;
  c.l2 = "127.0.0.1:1";  // refused: the L2-down paths
  c.loglevel = "error";
  auto* s = new sidecar::Sidecar(c);
  std::string error;
  if (!s->start(&error)) abort();
  atexit([] {
    unlink(g_socket.c_str());
    unlink(("/dev/shm/tiercache-" + g_shm).c_str());
  });
  return s;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static sidecar::Sidecar* sc = make_sidecar();
  net::Connection* conn = sc->open_internal();
  resp::ParserLimits limits;
  limits.max_bulk_len = 1 << 20;
  resp::RequestParser parser(&limits);
  std::string buf(reinterpret_cast<const char*>(data), size);
  size_t pos = 0;
  while (pos < buf.size() && !conn->closing()) {
    size_t consumed = 0;
    if (parser.parse(buf.data() + pos, buf.size() - pos, &consumed) != resp::ParseStatus::kOk)
      break;
    auto args = parser.args();
    if (!args.empty()) sc->on_request(*conn, args);
    pos += consumed;
  }
  sc->end_of_tick();  // sends the batched writes: answered with the L2-down error
  conn->output().clear();
  conn->close();  // internal: freed at once
  return 0;
}
