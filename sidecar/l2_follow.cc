// Where the L2 is (l2-mode, link/l2_locator.h) and what the sidecar does when it moves. A move
// (a Sentinel failover) can lose writes the old master acknowledged, so nothing read from it
// may be answered afterwards: L1 is flushed through the same path as FLUSHALL or a lost bus
// (invalidate_db: fills of reads in flight are refused), and every L2 connection is dropped (what
// is in flight there fails with the usual L2 error) and connects to the new master: the data
// link, the invalidation source, clients' pub/sub relays (their clients are closed: the
// subscriptions lived at the old master) and dedicated links (a block or WATCH does not
// survive: lost, as any lost dedicated link).
#include "shared/log/log.h"
#include "sidecar/cluster/node_locator.h"
#include "sidecar/link/sentinel_locator.h"
#include "sidecar/sidecar.h"
#include "sidecar/state.h"

namespace tiercache::sidecar {

bool Sidecar::make_locator(std::string* error) {
  std::vector<Endpoint> eps;
  if (!parse_endpoint_list(config_.l2, &eps, error)) {
    *error = "--l2: " + *error;
    return false;
  }
  if (config_.l2_tls)
    for (const Endpoint& e : eps)
      if (e.unix_socket) {
        *error = "--l2-tls needs HOST:PORT addresses in --l2, not a Unix socket";
        return false;
      }
  if (config_.l2_mode == "cluster") {
    // The seeds; the data link (cluster/cluster_link.h) finds the masters, the invalidation
    // source follows each one, dedicated links go to their key's master, and pub/sub relays to
    // a master the data link reaches (cluster/node_locator.h, following it once it is made).
    locator_ = std::make_shared<cluster::NodeLocator>(std::move(eps));
    return true;
  }
  if (config_.l2_mode == "standalone") {
    if (eps.size() != 1) {
      *error = "--l2: l2-mode standalone takes one address, got " + std::to_string(eps.size()) +
               " (several are the sentinels of l2-mode sentinel)";
      return false;
    }
    locator_ = std::make_shared<FixedLocator>(eps[0]);
    return true;
  }
  if (config_.l2_sentinel_master.empty()) {
    *error = "l2-mode sentinel needs l2-sentinel-master (the master name the sentinels monitor)";
    return false;
  }
  SentinelOptions o;
  o.sentinels = std::move(eps);
  o.master_name = config_.l2_sentinel_master;
  o.master_link = link_options(config_, nullptr, false, l2_tls_);
  o.sentinel_link = o.master_link;
  o.sentinel_link.user.clear();
  o.sentinel_link.password = config_.l2_sentinel_password;
  locator_ = std::make_shared<SentinelLocator>(loop_, std::move(o));
  return true;
}

void Sidecar::on_l2_located(const Endpoint& now, bool moved) {
  if (!moved) return;  // found (again) where it was: the links' own reconnects suffice
  const std::string why = "L2 master moved to " + endpoint_text(now);
  log::warn("{}: dropping L1 and moving every L2 connection", why);
  l2_->reconnect(why);  // requests in flight fail: their clients get the L2 error
  bus_->reconnect(why);
  std::vector<ClientState*> moving;
  for (auto& [id, st] : clients_)
    if (st->pubsub || st->dedicated) moving.push_back(st.get());
  for (ClientState* st : moving) {
    if (st->pubsub) st->pubsub->reconnect(why);  // closes the client (close_later)
    if (st->dedicated) st->dedicated->reconnect(why);
  }
  // Last, as the bus's reset may have opened a fail-safe window: no copy survives a move.
  if (stale_open_)
    close_stale_window("the L2 master moved");
  else
    reads_.invalidate_db(invalidation::kAllDbs);
}

}  // namespace tiercache::sidecar
