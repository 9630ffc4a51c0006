// CLIENT PAUSE and UNPAUSE (Redis 7.0's pauseClients): while a pause is in effect, a request
// that it covers is postponed, not answered: the client's connection stops before that request
// and runs it again, with whatever followed it, once the pause ends (the deadline or CLIENT
// UNPAUSE). WRITE covers writes and the may-replicate commands (PUBLISH, EVAL, EVALSHA), an
// EXEC whose queue holds one, and such a command sent inside MULTI (Redis checks before
// queueing); ALL covers every request, CLIENT UNPAUSE included. A later pause only extends
// the deadline and widens WRITE to ALL. Only top-level requests of socket clients are
// postponed: commands run by EXEC or by a script run. The active expiry cycle is skipped
// while paused (the dataset stays as it is); a key read after its TTL is still deleted.
#pragma once


#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "shared/command/command_table.h"
#include "shared/net/timer.h"

namespace tiercache::l2 {

class Client;
class Server;

class Pause {
 public:
  enum class Mode { kNone, kWrite, kAll };

  explicit Pause(Server& server);
  Pause(const Pause&) = delete;
  Pause& operator=(const Pause&) = delete;

  // CLIENT PAUSE timeout [WRITE|ALL] (args[0] is CLIENT): pauses, or returns Redis's error
  // for the arguments.
  std::string pause(std::span<const std::string_view> args);
  // CLIENT UNPAUSE: ends any pause; postponed clients run from the loop's prepare phase.
  void unpause();
  // Whether the pause covers this top-level request of c (ends an expired pause first).
  bool covers(const Client& c, const command::CommandSpec& spec,
              std::span<const std::string_view> args);
  // Stops c before the request being handled (see net::Connection::postpone).
  void postpone(Client& c);
  // True while a pause is in effect (the cron skips active expiry).
  bool active();
  // From the prepare phase: clients postponed by a pause that ended run their requests.
  void resume_released();
  // Closes the timer (server shutdown).
  void close() { timer_.close(); }

 private:
  static void on_timer(void* self);
  bool exec_writes(const Client& c) const;

  Server& server_;
  Mode mode_ = Mode::kNone;
  int64_t end_ms_ = 0;                 // unix ms
  std::vector<uint64_t> postponed_;    // client ids, in the order they were postponed
  std::vector<uint64_t> released_;     // to resume before the loop sleeps
  net::OneShotTimer timer_;            // the deadline (checked again when it fires)
};

}  // namespace tiercache::l2
