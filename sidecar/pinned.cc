// Clients pinned to an L2 connection of their own. All clients of a sidecar share one ordered
// L2 link, where a blocking command would block every client behind it and a WATCH would
// watch for all of them. So a client's first blocking command (the table's kBlocking: BLPOP,
// BRPOP, BLMOVE, BRPOPLPUSH, BLMPOP, BZPOPMIN/MAX, BZMPOP) or WATCH opens a DedicatedLink for it
// (link/dedicated_link.h: same address, TLS and AUTH as the shared link, the client's db, no
// request timeout, so the command's own timeout is the L2's, as in Redis). In l2-mode cluster
// the link goes to the master serving the command's first key, as a cluster client's would.
//
// Lifetime: the link is kept until the client disconnects (closing it makes the L2 unblock the
// client and forget its WATCH), so that a client that blocks in a loop (Celery's BRPOP) does not
// pay a connect and AUTH per call; max-dedicated-links bounds how many are open. A link that is
// lost is replaced on the next need, except while it held the client's WATCH: then the client's
// commands fail (an EXEC never commits unchecked) until EXEC, DISCARD, UNWATCH or RESET.
//
// Order: while the client is pinned (a WATCH active, or anything of it in flight on the link)
// every command of it that reaches the L2 goes over its link, so its later pipelined commands
// run after its blocked command, as in Redis; and a command that pins waits (held, the client's
// reading suspended) until its earlier replies from the shared link are in, so it does not
// overtake them either. Reads of a pinned client are not answered from L1: between WATCH and
// EXEC the client must read the value the L2 checks (an L1 copy can be older by the propagation
// delay, and a read-modify-write built on it would commit over a change the WATCH never saw).
// Writes of a pinned client (and its EXEC) commit on its link through the write path, with the
// same invalidation as any write; a blocking command's keys are invalidated once it answers
// (a pop or a move wrote them; a nil answer wrote nothing).
#include "shared/resp/reply_writer.h"
#include "sidecar/sidecar.h"
#include "sidecar/state.h"

namespace tiercache::sidecar {
namespace {

// A blocking command's reply: relayed, then its keys invalidated if it moved something.
struct BlockingDone final : RelayOp {
  std::vector<invalidation::Group> groups;
  BlockingDone(Sidecar& s, uint64_t c, uint64_t t, std::vector<invalidation::Group> g)
      : RelayOp(s, c, t), groups(std::move(g)) {}
  void on_reply(const redisReply* r) override {
    if (r != nullptr && r->type != REDIS_REPLY_NIL && r->type != REDIS_REPLY_ERROR)
      s.writes().committed_elsewhere(std::move(groups));
    RelayOp::on_reply(r);
  }
};

}  // namespace

DedicatedLink* Sidecar::dedicated_link(net::Connection& c, ClientState& st,
                                       const command::CommandSpec& spec,
                                       std::span<const std::string_view> args, std::string& out) {
  // l2-mode cluster: the master of the first key (Redis Cluster answers MOVED elsewhere).
  std::shared_ptr<const L2Locator> at = locator_;
  std::string at_name;
  if (cluster_ != nullptr) {
    std::vector<int> keys;
    command::CommandTable::key_positions(spec, args, &keys);
    const cluster::Topology& t = cluster_->topology();
    const int m = keys.empty() ? -1
                               : t.master_of(cluster::key_slot(args[static_cast<size_t>(keys[0])]));
    if (m >= 0) {
      const cluster::NodeAddress& node = t.masters()[static_cast<size_t>(m)];
      at = std::make_shared<FixedLocator>(Endpoint{false, node.host, node.port});
      at_name = cluster::node_name(node.host, node.port);
    }
  }
  if (st.dedicated && !st.dedicated->lost() && (st.pinned() || st.dedicated_at == at_name))
    return st.dedicated.get();
  if (st.dedicated && st.watching) {  // the WATCH died with the connection
    write_l2_error(out);
    return nullptr;
  }
  if (!l2_->connected()) {  // fail fast, as every other command
    write_l2_error(out);
    return nullptr;
  }
  drop_dedicated(st);
  if (dedicated_links_ >= static_cast<size_t>(config_.max_dedicated_links)) {
    stats_.dedicated_links_refused++;
    resp::write_error(out, "ERR max number of dedicated L2 connections reached "
                           "(max-dedicated-links " +
                               std::to_string(config_.max_dedicated_links) + ")");
    return nullptr;
  }
  std::string name = "dedicated-" + std::to_string(c.id());
  if (make_dedicated_)
    st.dedicated = make_dedicated_(std::move(at), std::move(name));
  else
    st.dedicated = std::make_unique<HiredisDedicatedLink>(
        loop_, link_options(config_, std::move(at), false, l2_tls_), std::move(name));
  st.dedicated_at = std::move(at_name);
  st.dedicated->start();
  dedicated_links_++;
  stats_.dedicated_links_opened++;
  return st.dedicated.get();
}

void Sidecar::drop_dedicated(ClientState& st) {
  if (!st.dedicated) return;
  st.watching = false;
  dedicated_links_--;
  st.dedicated->stop();  // fails what it still had, while the client's state is intact
  // Freed at the end of the tick: this may run inside one of the link's own callbacks (a reply
  // that completes the client's last slot after QUIT closes the client).
  retired_links_.push_back(std::move(st.dedicated));
}

bool Sidecar::hold(net::Connection& c, ClientState& st, std::span<const std::string_view> args) {
  if (st.pinned() || c.deferred_count() == 0) return false;
  st.held.assign(args.begin(), args.end());
  c.suspend();
  held_.push_back(c.id());
  return true;
}

void Sidecar::run_held() {
  std::vector<uint64_t> ids;
  ids.swap(held_);
  for (uint64_t id : ids) {
    net::Connection* c = connection(id);
    if (c == nullptr || c->user == nullptr) continue;
    if (c->deferred_count() > 0) {
      held_.push_back(id);
      continue;
    }
    auto& st = *static_cast<ClientState*>(c->user);
    std::vector<std::string> held;
    held.swap(st.held);
    std::vector<std::string_view> args(held.begin(), held.end());
    dispatch(*c, st, *table_.find(args[0]), args);
    c->flush();
    c->resume();
  }
}

void Sidecar::blocking(net::Connection& c, ClientState& st, const command::CommandSpec& spec,
                       std::span<const std::string_view> args) {
  if (hold(c, st, args)) return;
  DedicatedLink* link = dedicated_link(c, st, spec, args, c.reply());
  if (link == nullptr) return;
  stats_.writes++;
  std::vector<invalidation::Group> groups;
  write_groups(st.db, spec, args, &groups);
  link->use_db(st.db);
  link->send(args, std::make_unique<BlockingDone>(*this, c.id(), c.defer(), std::move(groups)));
}

bool Sidecar::watch(net::Connection& c, ClientState& st, std::span<const std::string_view> args,
                    std::string& out) {
  if (hold(c, st, args)) return true;
  DedicatedLink* link = dedicated_link(c, st, *watch_spec_, args, out);
  if (link == nullptr) return false;
  st.watching = true;
  link->use_db(st.db);
  passthrough(c, st, args);  // pinned now: over the link, answered in order
  return true;
}

void Sidecar::unwatch(ClientState& st) {
  if (!st.watching) return;
  st.watching = false;
  if (!st.dedicated || st.dedicated->lost()) return;
  std::string_view unwatch[] = {"UNWATCH"};
  st.dedicated->send(unwatch, nullptr);
}

}  // namespace tiercache::sidecar
