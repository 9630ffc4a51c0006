// INFO: the sidecar's own sections (server, clients, stats, tiercache) rendered once, for
// the INFO command and for the Prometheus endpoint; INFO's default, all and l2 sections add
// the L2's INFO, its headers prefixed with "L2".
#include <sys/resource.h>
#include <unistd.h>

#include "shared/metrics/info_text.h"
#include "shared/resp/reply_writer.h"
#include "shared/session/connection_commands.h"
#include "sidecar/clock.h"
#include "sidecar/sidecar.h"
#include "sidecar/state.h"

namespace tiercache::sidecar {

namespace {

using metrics::info_field;
using metrics::info_header;

struct InfoOp final : Op {
  uint64_t conn_id, ticket;
  std::string local;
  InfoOp(Sidecar& s, uint64_t c, uint64_t t, std::string l)
      : Op(s), conn_id(c), ticket(t), local(std::move(l)) {}
  void on_reply(const redisReply* r) override {
    net::Connection* c = s.connection(conn_id);
    if (c == nullptr) return;
    std::string text = local;
    if (!text.empty()) text += "\r\n";
    text += "# L2\r\n";
    if (r != nullptr && r->type == REDIS_REPLY_STRING) {
      std::string_view l2(r->str, r->len);
      size_t pos = 0;
      while (pos < l2.size()) {  // the L2's own section headers become "# L2 <name>"
        size_t nl = l2.find('\n', pos);
        std::string_view line =
            l2.substr(pos, nl == std::string_view::npos ? l2.npos : nl - pos + 1);
        if (line.substr(0, 2) == "# ") {
          text += "# L2 ";
          text += line.substr(2);
        } else if (line != "\r\n") {
          text += line;
        }
        if (nl == std::string_view::npos) break;
        pos = nl + 1;
      }
    } else {
      info_field(text, "l2_status",
                 r == nullptr ? "unavailable: " + s.link().last_error() : "error");
    }
    resp::write_bulk(c->slot(ticket), text);
    c->complete(ticket);
  }
};

}  // namespace

std::string Sidecar::info(std::string_view section) {
  std::string s;
  auto want = [section](std::string_view name) {  // every section is in the default INFO
    return metrics::info_wants(section, name, true);
  };
  if (want("server")) {
    info_header(s, "Server");
    info_field(s, "redis_version", session::kRedisVersion);
    info_field(s, "tiercache_version", TIERCACHE_VERSION);
    info_field(s, "tiercache_role", "sidecar");
    info_field(s, "process_id", static_cast<uint64_t>(getpid()));
    info_field(s, "socket", config_.socket);
    info_field(s, "l2", config_.l2);
    locator_->info(s);  // l2_mode, l2_master, l2_master_switches (sentinel: l2_sentinel)
  }
  if (want("clients")) {
    info_header(s, "Clients");
    info_field(s, "connected_clients", conns_.size());
    info_field(s, "maxclients", static_cast<uint64_t>(config_.maxclients));
    info_field(s, "dedicated_links", dedicated_links_);
    info_field(s, "max_dedicated_links", static_cast<uint64_t>(config_.max_dedicated_links));
  }
  if (want("stats")) {
    info_header(s, "Stats");
    info_field(s, "total_connections_received", stats_.connections_received);
    info_field(s, "total_commands_processed", stats_.commands);
    info_field(s, "rejected_connections", stats_.rejected_connections);
    info_field(s, "protocol_errors", stats_.protocol_errors);
    info_field(s, "security_closes", stats_.security_closes);
    info_field(s, "client_query_buffer_limit_disconnections",
               stats_.query_buffer_limit_disconnections);
    info_field(s, "client_output_buffer_limit_disconnections",
               stats_.output_buffer_limit_disconnections);
    info_field(s, "dedicated_links_opened", stats_.dedicated_links_opened);
    info_field(s, "dedicated_links_refused", stats_.dedicated_links_refused);
  }
  if (want("tiercache")) {
    info_header(s, "Tiercache");
    l1::Stats l1s = l1_->stats();
    const BusStats& bs = bus_->stats();
    // A direct reader's miss comes here next as a GET: only its hits are extra reads.
    const uint64_t hits = stats_.l1_hits + l1s.reader_hits;
    const uint64_t reads = hits + stats_.l1_misses + stats_.l1_bypassed;
    char ratio[32];
    snprintf(ratio, sizeof ratio, "%.4f", reads ? static_cast<double>(hits) / reads : 0.0);
    info_field(s, "l1_hits", stats_.l1_hits);
    info_field(s, "l1_misses", stats_.l1_misses);
    info_field(s, "l1_bypassed", stats_.l1_bypassed);
    info_field(s, "l1_direct_hits", l1s.reader_hits);
    info_field(s, "l1_direct_misses", l1s.reader_misses);
    info_field(s, "l1_negative", config_.l1_negative ? 1 : 0);
    info_field(s, "l1_negative_hits", stats_.l1_negative_hits);
    info_field(s, "l1_direct_negative_hits", l1s.reader_negative_hits);
    info_field(s, "negative_fills", stats_.negative_fills);
    info_field(s, "l1_hit_ratio", ratio);
    info_field(s, "l1_segment", config_.shm_name);
    info_field(s, "l1_direct_max_staleness_ms", static_cast<uint64_t>(direct_max_staleness_ms()));
    info_field(s, "l1_items", l1s.items);
    info_field(s, "l1_bytes", l1s.bytes_used);
    info_field(s, "l1_capacity_bytes", l1s.capacity_bytes);
    info_field(s, "l1_evictions", l1s.evictions);
    info_field(s, "l1_expirations", l1s.expirations);
    info_field(s, "l1_flushes", stats_.l1_flushes);
    info_field(s, "l1_slots_flushed", stats_.l1_slots_flushed);
    info_field(s, "fills", stats_.fills);
    info_field(s, "fills_discarded", stats_.fills_discarded);
    info_field(s, "fills_untracked", stats_.fills_untracked);
    info_field(s, "coalesced_misses", stats_.coalesced_misses);
    info_field(s, "l2_fetches", stats_.l2_fetches);
    info_field(s, "writes", stats_.writes);
    info_field(s, "write_batches", stats_.write_batches);
    info_field(s, "invalidations_sent", stats_.invalidated_keys_sent);
    info_field(s, "invalidation_messages_sent", stats_.invalidation_messages_sent);
    info_field(s, "invalidations_received", stats_.invalidated_keys_received);
    info_field(s, "invalidation_messages_received", bs.received);
    info_field(s, "invalidation_bytes_received", bs.bytes_received);
    info_field(s, "invalidation_source", std::string(bus_->name()));
    info_field(s, "bus_healthy", bus_->healthy() ? 1 : 0);
    // l2-mode cluster, per slot: hash slots L1 bypasses now (their master's tracking is down).
    uint64_t slots_down = 0;
    if (per_slot_)
      for (int slot = 0; slot < cluster::kSlots; ++slot)
        slots_down += bus_->slot_healthy(static_cast<uint16_t>(slot)) ? 0 : 1;
    info_field(s, "bus_slots_unhealthy", slots_down);
    info_field(s, "bus_slots_stale", slot_stale_.open_count());  // of those: fail-safe answers
    info_field(s, "bus_heartbeats_back", bs.own_echoes);
    info_field(s, "bus_refused", bs.refused);
    info_field(s, "bus_resets", bs.resets);
    info_field(s, "bus_gaps", bs.gaps);
    info_field(s, "bus_bad_messages", bs.bad_messages);
    info_field(s, "invalidation_lag_p50_us", bus_->lag_us().percentile(0.5));
    info_field(s, "invalidation_lag_p99_us", bus_->lag_us().percentile(0.99));
    info_field(s, "invalidation_lag_max_us", bus_->lag_us().max());
    info_field(s, "passthrough", stats_.passthrough);
    info_field(s, "l2_connected", l2_->connected() ? 1 : 0);
    info_field(s, "stale_if_error_ms", static_cast<uint64_t>(config_.stale_if_error_ms));
    info_field(s, "fail_safe", fail_safe_ ? 1 : 0);
    info_field(s, "fail_safe_serving", l1_use() == L1Use::kStale ? 1 : 0);
    const uint64_t vouched = l1_->vouched_ms(), now = steady_us() / 1000;
    info_field(s, "l1_verified_age_ms", vouched == 0 || vouched > now ? 0 : now - vouched);
    info_field(s, "fail_safe_entered", stats_.fail_safe_entered);
    info_field(s, "stale_answers", stats_.stale_answers);
    info_field(s, "l1_direct_stale_hits", l1s.reader_stale_hits);
    info_field(s, "l2_errors", stats_.l2_errors);
    info_field(s, "l2_reconnects", l2_->reconnects());
    info_field(s, "l2_latency_p50_us", l2_->latency_us().percentile(0.5));
    info_field(s, "l2_latency_p99_us", l2_->latency_us().percentile(0.99));
  }
  return s;
}

void Sidecar::cmd_info(net::Connection& c, ClientState& st,
                       std::span<const std::string_view> args) {
  std::string section = args.size() >= 2 ? std::string(args[1]) : "default";
  for (char& ch : section) ch = static_cast<char>(tolower(static_cast<unsigned char>(ch)));
  bool with_l2 =
      section == "default" || section == "all" || section == "everything" || section == "l2";
  std::string local = section == "l2" ? std::string() : info(section);
  if (!with_l2) {
    resp::write_bulk(c.reply(), local);
    return;
  }
  std::string_view q[] = {"INFO"};
  send(st.db, q, std::make_unique<InfoOp>(*this, c.id(), c.defer(), std::move(local)));
}

}  // namespace tiercache::sidecar
