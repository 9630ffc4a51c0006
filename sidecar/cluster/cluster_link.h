// ClusterLink: the sidecar's data link in l2-mode cluster. One ordered L2Link per Redis Cluster
// master (made by a factory: HiredisLinks in production, fakes in unit tests), the topology
// read with CLUSTER SLOTS from the seeds and refreshed (MOVED, a lost master link, every few
// seconds), and the L2Link contract kept across masters: replies reach the Completions in
// request order (a reply that overtakes an earlier request's is copied and held).
//
// Routing comes from the command table: a request's keys (key positions) give its hash slot
// and so its master; keys in several slots are split per slot (kClusterSplit: MGET, DEL, ...)
// or refused with Redis Cluster's CROSSSLOT; keyless whole-keyspace commands (kAllShards) go to
// every master and are merged; SCAN (kShardCursor) walks the masters one after the other with
// the master's index in the cursor's high bits. MOVED and ASK are followed (at most 5 times).
// MULTI ... EXEC (the write path's commit) is held until EXEC, then sent as one MULTI/EXEC per
// slot (a split DEL in each of its slots, FLUSHDB in every master's); the original EXEC answers
// one array in the original order (the elements of a slot whose EXEC failed are that failure; a
// command refused with CROSSSLOT is not sent and its element is that error). A slot's
// transaction that a resharding turned away (a queued command or EXEC answered MOVED, ASK or
// TRYAGAIN, so nothing of it ran) is sent again whole: to the MOVED node, to the ASK node after
// ASKING (which holds for a whole MULTI ... EXEC), or after TRYAGAIN at the next tick (see
// cluster_txn.cc). A read outside a transaction answered TRYAGAIN (MGET or EXISTS whose keys a
// migration has split between two nodes) is sent again at the next tick too, at most
// kMaxTryAgain times, as Redis Cluster clients do; a write's TRYAGAIN is its answer (a resend
// could be overtaken by a later write of its keys). connected(): a topology is known and at
// least one master link is up (a request for a master whose link is down, or for a slot no
// master serves, fails alone).
#pragma once

#include <hiredis/read.h>

#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "shared/command/command_table.h"
#include "shared/metrics/histogram.h"
#include "sidecar/cluster/cluster_view.h"
#include "sidecar/link/l2_link.h"
#include "sidecar/link/l2_locator.h"

namespace tiercache::sidecar::cluster {

// Redis Cluster's error for keys in several slots.
inline constexpr std::string_view kCrossSlot =
    "CROSSSLOT Keys in request don't hash to the same slot";
// "HOST:PORT", the key of a node's link.
std::string node_name(const std::string& host, int port);
// Redirections followed for one request, as Redis Cluster clients.
inline constexpr int kMaxRedirects = 5;
// Ticks (100 ms each by default) a request answered TRYAGAIN is retried: a slot's migration.
inline constexpr int kMaxTryAgain = 50;
// A reply in RESP2 (to hold it, or to parse it again as tokens).
std::string as_resp(const redisReply* r);

// Whether the keys of every command (name first) hash to one slot (or there are none): a
// client's transaction must, as Redis Cluster checks at EXEC.
bool one_slot(const command::CommandTable& table,
              std::span<const std::vector<std::string>> commands);
// Whether one command's keys (name first) hash to one slot: Redis Cluster refuses one that
// does not with CROSSSLOT when it is queued in a MULTI, and then EXEC answers EXECABORT.
bool one_slot(const command::CommandSpec& spec, std::span<const std::string_view> args);

using LinkFactory = std::function<std::unique_ptr<L2Link>(const Endpoint&)>;

struct ClusterLinkOptions {
  std::vector<Endpoint> seeds;  // the `l2` list, asked in turn
  LinkFactory make_link;        // one ordered link per node
  // Every seed answered CLUSTER SLOTS with an error (no cluster support there): start-up fails.
  std::function<void(const std::string& why)> on_refused;
  int64_t refresh_ms = 5000;  // the periodic topology check
};

class ClusterLink final : public L2Link, public ClusterView {
 public:
  ClusterLink(const command::CommandTable& table, ClusterLinkOptions options);
  ~ClusterLink() override;
  ClusterLink(const ClusterLink&) = delete;
  ClusterLink& operator=(const ClusterLink&) = delete;

  // L2Link
  void start() override;
  void stop() override;
  bool connected() const override;
  void reconnect(const std::string& why) override;
  const std::string& last_error() const override { return last_error_; }
  bool send(std::span<const std::string_view> args, std::unique_ptr<Completion> done) override;
  bool send_formatted(std::string_view resp, std::unique_ptr<Completion> done) override;
  uint64_t reconnects() const override;
  const metrics::Histogram& latency_us() const override;

  // ClusterView
  const Topology& topology() const override { return topology_; }
  void set_topology_listener(Listener* listener) override { listener_ = listener; }
  // The first master whose link is connected, else the first master.
  bool reachable_master(NodeAddress* out) const override;

  // A node link connected or was lost (the factory's links report here): discovery starts on
  // the first seed that connects; a lost master makes the topology be checked again.
  void node_state(bool connected);
  // Called periodically (the sidecar's cron): the topology check every refresh_ms, and
  // discovery retries while no seed answered.
  void tick(uint64_t now_ms);

 private:
  struct Op;
  class Part;
  class SlotsDone;
  friend class Part;
  friend class SlotsDone;

  L2Link* node(const std::string& host, int port);  // created (and started) on first use
  L2Link* master_link(int slot);  // slot -1: a connected master (else the first)
  size_t reachable_index() const;  // the first master whose link is connected, else 0
  void discover();
  void on_slots(const std::string& host, size_t seed, const redisReply* r);
  void apply(Topology t);

  Op& push(std::unique_ptr<Completion> done);
  void route(std::span<const std::string_view> args, std::string wire,
             std::unique_ptr<Completion> done);
  void send_part(Op& op, size_t index, L2Link* to, std::string wire, int redirects,
                 int tryagains = 0);
  void part_done(Part& part, const redisReply* r);
  void merge(Op& op, size_t index, const redisReply* r);
  void finish(Op& op);
  void drain();
  // The slots of a request's keys, each with the indexes (into its key positions) it holds.
  using SlotKeys = std::vector<std::pair<int, std::vector<size_t>>>;
  static std::vector<std::string> split_wires(std::span<const std::string_view> args,
                                              const std::vector<int>& keys,
                                              const SlotKeys& slots);
  int first_slot_of(size_t master) const;  // a slot the master serves (-1: none)
  void route_scan(Op& op, std::span<const std::string_view> args);
  void exec(Op& op);
  // One slot's MULTI ... EXEC, sent (again) as a whole (cluster_txn.cc).
  struct SlotTxn;
  class TxnReply;
  friend class TxnReply;
  void send_txn(SlotTxn& t, L2Link* to, bool asking);
  void txn_reply(SlotTxn& t, size_t index, const redisReply* r);
  void txn_end(SlotTxn& t, const redisReply* exec_reply);
  void retry_txns();  // those that met TRYAGAIN
  // Reads (parts) answered TRYAGAIN, sent again to the same node at the next tick.
  struct PartRetry {
    Op* op;
    size_t index;
    Endpoint at;
    std::string wire;
    int tryagains;
  };
  void retry_parts();

  const command::CommandTable& table_;
  ClusterLinkOptions options_;
  const command::CommandSpec* multi_;
  const command::CommandSpec* exec_;
  const command::CommandSpec* discard_;
  Listener* listener_ = nullptr;
  Topology topology_;
  bool known_ = false;  // a discovery succeeded
  std::map<std::string, std::unique_ptr<L2Link>> nodes_;  // "host:port"
  std::vector<L2Link*> masters_;                          // as topology_.masters()
  std::vector<size_t> seed_refusals_;                     // seeds that answered an error
  bool discovering_ = false;
  bool refresh_wanted_ = false;
  bool stopped_ = false;
  uint64_t last_refresh_ms_ = 0;
  uint64_t now_ms_ = 0;
  bool uncovered_ = false;  // the topology leaves some slot without a master, since:
  uint64_t uncovered_since_ms_ = 0;

  std::deque<std::unique_ptr<Op>> fifo_;  // requests not answered yet, in request order
  bool draining_ = false;
  redisReader* reader_;  // turns a held reply back into a redisReply

  // MULTI ... EXEC on this link: the commands held until EXEC.
  struct Queued {
    std::string wire;
    Op* op;
    int slot;        // -1: keyless
    size_t element;  // the command's place in EXEC's reply (a split DEL: several parts)
  };
  size_t queued_commands_ = 0;
  bool in_multi_ = false;
  std::vector<size_t> refused_;  // elements answered CROSSSLOT instead of being sent
  std::vector<Queued> queued_;
  std::vector<std::unique_ptr<SlotTxn>> txns_;  // sent, EXEC not answered yet
  std::vector<std::unique_ptr<SlotTxn>> txn_retries_;  // TRYAGAIN: sent again at the next tick
  std::vector<PartRetry> part_retries_;                  // the same, outside transactions

  std::string last_error_;
  mutable metrics::Histogram latency_;  // computed by latency_us()
};

}  // namespace tiercache::sidecar::cluster
