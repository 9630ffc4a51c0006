// INFO: Redis's sections and field names, plus tiercache's own limit counters.
#include <malloc.h>
#include <sys/resource.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>

#include "l2/client.h"
#include "l2/scripting/lua_engine.h"
#include "l2/server.h"
#include "shared/metrics/info_text.h"
#include "shared/session/connection_commands.h"

namespace tiercache::l2 {
namespace {

std::string human_bytes(size_t n) {
  char buf[64];
  double v = static_cast<double>(n);
  if (n < 1024)
    snprintf(buf, sizeof buf, "%zuB", n);
  else if (n < (1u << 20))
    snprintf(buf, sizeof buf, "%.2fK", v / 1024);
  else if (n < (1ull << 30))
    snprintf(buf, sizeof buf, "%.2fM", v / (1 << 20));
  else
    snprintf(buf, sizeof buf, "%.2fG", v / (1ull << 30));
  return buf;
}

size_t rss_bytes() {
  FILE* f = fopen("/proc/self/statm", "r");
  if (!f) return 0;
  unsigned long size = 0, resident = 0;
  if (fscanf(f, "%lu %lu", &size, &resident) != 2) resident = 0;
  fclose(f);
  return resident * static_cast<size_t>(sysconf(_SC_PAGESIZE));
}

using metrics::info_field;
using metrics::info_header;
using metrics::info_wants;

// The loading_* fields while the RDB file loads, computed as Redis 7.0's genRedisInfoString.
void info_loading(std::string& s, const persistence::Snapshots& snap, int64_t now_ms) {
  const persistence::LoadProgress& p = snap.load_progress();
  double perc = 0;
  int64_t remaining = 1;
  if (p.total_bytes != 0) {
    perc = static_cast<double>(p.loaded_bytes) / static_cast<double>(p.total_bytes) * 100;
    remaining = static_cast<int64_t>(p.total_bytes - p.loaded_bytes);
  } else if (p.rdb_used_mem != 0) {
    perc = std::min(
        99.99, static_cast<double>(p.loaded_bytes) / static_cast<double>(p.rdb_used_mem) * 100);
    remaining = std::max<int64_t>(
        1, static_cast<int64_t>(p.rdb_used_mem) - static_cast<int64_t>(p.loaded_bytes));
  }
  int64_t elapsed = now_ms / 1000 - snap.loading_start_time();
  int64_t eta = elapsed == 0 ? 1  // Redis's "fake 1 second" before it knows better
                             : elapsed * remaining / static_cast<int64_t>(p.loaded_bytes + 1);
  char perc_text[32];
  snprintf(perc_text, sizeof perc_text, "%.2f", perc);
  info_field(s, "loading_start_time", std::to_string(snap.loading_start_time()));
  info_field(s, "loading_total_bytes", p.total_bytes);
  info_field(s, "loading_rdb_used_mem", p.rdb_used_mem);
  info_field(s, "loading_loaded_bytes", p.loaded_bytes);
  info_field(s, "loading_loaded_perc", perc_text);
  info_field(s, "loading_eta_seconds", std::to_string(eta));
}

}  // namespace

std::string Server::info(std::string_view section) {
  std::string s;
  if (info_wants(section, "server", true)) {
    info_header(s, "Server");
    utsname u;
    uname(&u);
    int64_t up = uptime_ms() / 1000;
    info_field(s, "redis_version", session::kRedisVersion);
    info_field(s, "tiercache_version", TIERCACHE_VERSION);
    info_field(s, "redis_mode", "standalone");
    info_field(s, "os", std::string(u.sysname) + " " + u.release + " " + u.machine);
    info_field(s, "arch_bits", 64);
    info_field(s, "multiplexing_api", "libuv");
    info_field(s, "process_id", static_cast<uint64_t>(getpid()));
    info_field(s, "tcp_port", static_cast<uint64_t>(config_.port));
    info_field(s, "uptime_in_seconds", static_cast<uint64_t>(up));
    info_field(s, "uptime_in_days", static_cast<uint64_t>(up / 86400));
    info_field(s, "hz", static_cast<uint64_t>(config_.hz));
    info_field(s, "executable", "tiercache-l2");
  }
  if (info_wants(section, "clients", true)) {
    info_header(s, "Clients");
    size_t max_in = 0, max_out = 0, pubsub = 0;
    for (const auto& [id, c] : clients_) {
      max_in = std::max(max_in, c->input_bytes());
      max_out = std::max(max_out, c->output_bytes());
      pubsub += c->subscribed() ? 1 : 0;
    }
    info_field(s, "connected_clients", clients_.size());
    info_field(s, "maxclients", static_cast<uint64_t>(config_.maxclients));
    info_field(s, "client_recent_max_input_buffer", max_in);
    info_field(s, "client_recent_max_output_buffer", max_out);
    info_field(s, "blocked_clients", blocking_->blocked_clients());
    info_field(s, "pubsub_clients", pubsub);
    info_field(s, "tracking_clients", tracker_->tracking_clients());
  }
  if (info_wants(section, "memory", true)) {
    info_header(s, "Memory");
    refresh_client_memory();
    size_t used = used_memory();
    size_t rss = rss_bytes();
    struct mallinfo2 mi = mallinfo2();
    info_field(s, "used_memory", used);
    info_field(s, "used_memory_human", human_bytes(used));
    info_field(s, "used_memory_rss", rss);
    info_field(s, "used_memory_rss_human", human_bytes(rss));
    info_field(s, "used_memory_dataset", keyspace_.used_bytes());
    info_field(s, "used_memory_keyspace_tables", keyspace_.table_bytes());
    info_field(s, "used_memory_clients", client_memory_);
    info_field(s, "used_memory_tracking_table", tracker_->memory_bytes());
    info_field(s, "used_memory_startup", baseline_memory_);
    // Lua's heap (under lua-memory-limit) and the script cache, with Redis 7.0's names
    const size_t lua_bytes = lua_->memory_used();
    info_field(s, "used_memory_lua", lua_bytes);
    info_field(s, "used_memory_vm_eval", lua_bytes);
    info_field(s, "used_memory_lua_human", human_bytes(lua_bytes));
    info_field(s, "number_of_cached_scripts", lua_->cached_scripts());
    info_field(s, "allocator_allocated", mi.uordblks);
    info_field(s, "maxmemory", config_.maxmemory);
    info_field(s, "maxmemory_human", human_bytes(config_.maxmemory));
    info_field(s, "maxmemory_policy", std::string(eviction_policy_name(config_.maxmemory_policy)));
    char frag[32];
    snprintf(frag, sizeof frag, "%.2f", used ? static_cast<double>(rss) / used : 0.0);
    info_field(s, "mem_fragmentation_ratio", frag);
    info_field(s, "mem_allocator", "libc");
  }
  if (info_wants(section, "persistence", true)) {
    info_header(s, "Persistence");
    const persistence::Snapshots& snap = *snapshots_;
    info_field(s, "loading", snap.loading() ? 1 : 0);
    info_field(s, "async_loading", 0);
    info_field(s, "rdb_changes_since_last_save", snap.dirty());
    info_field(s, "rdb_bgsave_in_progress", snap.child_running() ? 1 : 0);
    info_field(s, "rdb_last_save_time", snap.last_save_unix());
    info_field(s, "rdb_last_bgsave_status", snap.last_bgsave_ok() ? "ok" : "err");
    info_field(s, "rdb_last_bgsave_time_sec", snap.last_bgsave_time_sec());
    info_field(s, "rdb_current_bgsave_time_sec", snap.current_bgsave_time_sec(now_ms_));
    info_field(s, "rdb_saves", snap.saves());
    info_field(s, "rdb_last_load_keys_expired", snap.last_load().keys_expired);
    info_field(s, "rdb_last_load_keys_loaded", snap.last_load().keys_loaded);
    info_field(s, "aof_enabled", 0);
    info_field(s, "aof_rewrite_in_progress", 0);
    if (snap.loading()) info_loading(s, snap, now_ms_);
  }
  if (info_wants(section, "stats", true)) {
    info_header(s, "Stats");
    const KeyspaceStats& ks = keyspace_.stats();
    info_field(s, "total_connections_received", stats_.total_connections_received);
    info_field(s, "total_commands_processed", stats_.total_commands_processed);
    info_field(s, "total_net_input_bytes", io_.bytes_in);
    info_field(s, "total_net_output_bytes", io_.bytes_out);
    info_field(s, "rejected_connections", stats_.rejected_connections);
    info_field(s, "expired_keys", ks.expired_keys);
    info_field(s, "evicted_keys", ks.evicted_keys);
    info_field(s, "keyspace_hits", ks.hits);
    info_field(s, "keyspace_misses", ks.misses);
    info_field(s, "pubsub_channels", channels_.size());
    info_field(s, "pubsub_patterns", patterns_.size());
    info_field(s, "total_error_replies", stats_.total_error_replies);
    info_field(s, "protocol_errors", stats_.protocol_errors);
    info_field(s, "security_closes", stats_.security_closes);
    info_field(s, "client_query_buffer_limit_disconnections",
          stats_.client_query_buffer_limit_disconnections);
    info_field(s, "client_output_buffer_limit_disconnections",
          stats_.client_output_buffer_limit_disconnections);
    info_field(s, "pubsub_messages_delivered", stats_.pubsub_messages_delivered);
    info_field(s, "latest_fork_usec", snapshots_->latest_fork_usec());
    info_field(s, "tracking_total_keys", tracker_->total_keys());
    info_field(s, "tracking_total_items", tracker_->total_items());
    info_field(s, "tracking_total_prefixes", tracker_->total_prefixes());
  }
  if (info_wants(section, "replication", true)) {
    info_header(s, "Replication");
    info_field(s, "role", "master");
    info_field(s, "connected_slaves", 0);
  }
  if (info_wants(section, "cpu", true)) {
    info_header(s, "CPU");
    rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    char buf[64];
    snprintf(buf, sizeof buf, "%ld.%06ld", ru.ru_stime.tv_sec, ru.ru_stime.tv_usec);
    info_field(s, "used_cpu_sys", buf);
    snprintf(buf, sizeof buf, "%ld.%06ld", ru.ru_utime.tv_sec, ru.ru_utime.tv_usec);
    info_field(s, "used_cpu_user", buf);
  }
  if (info_wants(section, "keyspace", true)) {
    info_header(s, "Keyspace");
    for (int db = 0; db < keyspace_.num_dbs(); ++db) {
      size_t n = keyspace_.db_size(db);
      if (n == 0) continue;
      std::string name = "db" + std::to_string(db);
      info_field(s, name.c_str(),
            "keys=" + std::to_string(n) + ",expires=" + std::to_string(keyspace_.db_expires(db)) +
                ",avg_ttl=0");
    }
  }
  return s;
}

}  // namespace tiercache::l2
