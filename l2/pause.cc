// CLIENT PAUSE / UNPAUSE (see pause.h): the pause state, its deadline on a timer, and the
// postponed clients, resumed in the order they were postponed.
#include "l2/pause.h"

#include "l2/client.h"
#include "l2/server.h"
#include "shared/util/numbers.h"

namespace tiercache::l2 {
namespace {

// What a WRITE pause covers: Redis's CMD_WRITE | CMD_MAY_REPLICATE.
bool writes(const command::CommandSpec& spec, std::span<const std::string_view> args) {
  return command::CommandTable::request_has(spec, args, command::kWrite) ||
         command::CommandTable::request_has(spec, args, command::kMayReplicate);
}

}  // namespace

Pause::Pause(Server& server) : server_(server), timer_(server.loop(), on_timer, this) {}

std::string Pause::pause(std::span<const std::string_view> args) {
  if (args.size() > 4)  // Redis's fallthrough for a known subcommand
    return "ERR unknown subcommand or wrong number of arguments for '" + std::string(args[1]) +
           "'. Try CLIENT HELP.";
  auto timeout = util::parse_int64(args[2]);
  if (!timeout) return "ERR timeout is not an integer or out of range";
  if (*timeout < 0) return "ERR timeout is negative";
  Mode mode = Mode::kAll;
  if (args.size() == 4) {
    if (util::iequals(args[3], "write"))
      mode = Mode::kWrite;
    else if (!util::iequals(args[3], "all"))
      return "ERR CLIENT PAUSE mode must be WRITE or ALL";
  }
  server_.update_clock();
  const int64_t now = server_.now_ms();
  const int64_t end = *timeout > INT64_MAX - now ? INT64_MAX : now + *timeout;
  if (mode > mode_) mode_ = mode;  // widens only
  if (end > end_ms_) end_ms_ = end;  // extends only
  // Past the deadline by one ms, as Redis compares end < now.
  timer_.start(static_cast<uint64_t>(end_ms_ - now + 1));
  return {};
}

void Pause::unpause() {
  mode_ = Mode::kNone;
  end_ms_ = 0;
  timer_.stop();
  released_.insert(released_.end(), postponed_.begin(), postponed_.end());
  postponed_.clear();
}

bool Pause::active() {
  if (mode_ == Mode::kNone) return false;
  server_.update_clock();
  if (server_.now_ms() > end_ms_) unpause();
  return mode_ != Mode::kNone;
}

bool Pause::exec_writes(const Client& c) const {
  std::vector<std::string_view> args;
  for (const auto& queued : c.multi_queue) {
    const command::CommandSpec* s = server_.commands().find(queued[0]);
    if (s == nullptr) continue;
    args.assign(queued.begin(), queued.end());
    if (writes(*s, args)) return true;
  }
  return false;
}

bool Pause::covers(const Client& c, const command::CommandSpec& spec,
                   std::span<const std::string_view> args) {
  if (mode_ == Mode::kNone || c.kind() == Client::Kind::kInternal || !active()) return false;
  if (mode_ == Mode::kAll) return true;
  if (writes(spec, args)) return true;
  return (spec.flags & command::kExec) && c.in_multi && exec_writes(c);
}

void Pause::postpone(Client& c) {
  postponed_.push_back(c.id);
  c.postpone();
}

void Pause::resume_released() { server_.resume_clients(released_); }  // may postpone again

void Pause::on_timer(void* p) {
  auto* self = static_cast<Pause*>(p);
  self->active();  // ends the pause once its deadline has passed; else it is re-armed
  if (self->mode_ != Mode::kNone) {
    const int64_t wait = self->end_ms_ - self->server_.now_ms() + 1;
    self->timer_.start(static_cast<uint64_t>(wait > 0 ? wait : 1));
  }
}

}  // namespace tiercache::l2
