// tiercache-l2 server core (see server.h): dispatch, the tracking context, cron; lifecycle.cc
// opens the listeners, runs, stops and accepts.
#include "l2/server.h"

#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <random>

#include "l2/client.h"
#include "l2/persistence/rdb_object.h"
#include "l2/scripting/lua_engine.h"
#include "shared/log/log.h"
#include "shared/resp/reply_writer.h"
#include "shared/util/numbers.h"

namespace tiercache::l2 {
namespace {

uint64_t mono_ms() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1000 + static_cast<uint64_t>(ts.tv_nsec) / 1000000;
}

}  // namespace

HandlerRegistry::HandlerRegistry(const command::CommandTable& table)
    : table_(table), handlers_(table.all().size(), nullptr) {}

void HandlerRegistry::add(std::string_view name, Handler handler) {
  const command::CommandSpec* spec = table_.find(name);
  if (spec == nullptr || handlers_[spec->id] != nullptr) {
    fprintf(stderr, "tiercache-l2: handler for '%.*s' is unknown or registered twice\n",
            static_cast<int>(name.size()), name.data());
    abort();
  }
  handlers_[spec->id] = handler;
}

std::vector<Handler> HandlerRegistry::take() {
  for (const auto& spec : table_.all()) {
    if (handlers_[spec.id] == nullptr) {
      fprintf(stderr, "tiercache-l2: no handler for command '%.*s'\n",
              static_cast<int>(spec.name.size()), spec.name.data());
      abort();
    }
  }
  return std::move(handlers_);
}

Server::Server(Config config)
    : config_(std::move(config)),
      keyspace_(config_.databases,
                std::random_device{}() ^ (static_cast<uint64_t>(getpid()) << 32)),
      loop_(uv_default_loop()),
      listener_(loop_, on_accept, this),
      tls_listener_(loop_, on_accept_tls, this) {
  conn_limits_.counters = &io_;
  conn_limits_.owner_flushes = true;
  HandlerRegistry registry(table_);
  register_server_commands(registry);
  register_connection_commands(registry);
  register_string_commands(registry);
  register_key_commands(registry);
  register_transaction_commands(registry);
  register_pubsub_commands(registry);
  register_scripting_commands(registry);
  register_hash_commands(registry);
  register_list_commands(registry);
  register_set_commands(registry);
  register_zset_commands(registry);
  register_zset_multi_commands(registry);
  register_persistence_commands(registry);
  handlers_ = registry.take();
  apply_config();
  start_mono_ms_ = mono_ms();
  update_clock();
  tracker_ = std::make_unique<tracking::Tracker>(static_cast<tracking::Peers&>(*this),
                                                 keyspace_.next_random());
  blocking_ = std::make_unique<Blocking>(*this);
  pause_ = std::make_unique<Pause>(*this);
  snapshots_ = std::make_unique<persistence::Snapshots>(keyspace_, config_);
  listen_to_keyspace(true);
  lua_ = std::make_unique<scripting::LuaEngine>(*this);
}

Server::~Server() {
  for (Client* c : closed_clients_) delete c;
  listen_to_keyspace(false);
  keyspace_.flush_all();
}

void Server::listen_to_keyspace(bool on) {
  for (KeyspaceListener* l : std::initializer_list<KeyspaceListener*>{
           tracker_.get(), blocking_.get(), snapshots_.get()}) {
    if (on)
      keyspace_.add_listener(l);
    else
      keyspace_.remove_listener(l);
  }
}

void Server::apply_config() {
  EncodingLimits& enc = encoding_limits();
  enc.hash_max_listpack_entries = static_cast<size_t>(config_.hash_max_listpack_entries);
  enc.hash_max_listpack_value = static_cast<size_t>(config_.hash_max_listpack_value);
  enc.set_max_intset_entries = static_cast<size_t>(config_.set_max_intset_entries);
  enc.zset_max_listpack_entries = static_cast<size_t>(config_.zset_max_listpack_entries);
  enc.zset_max_listpack_value = static_cast<size_t>(config_.zset_max_listpack_value);
  persistence::rdb_write_options().compression = config_.rdbcompression;
  parser_limits_.max_bulk_len = config_.proto_max_bulk_len;
  conn_limits_.query_buffer_limit = config_.client_query_buffer_limit;
  log::set_level(log::level_named(config_.loglevel));
}

void Server::update_clock() {
  // As in Redis 7: time stands still while a script runs (a slow script lets other clients in
  // to answer -BUSY, which must not make its keys expire half-way through).
  if (lua_ && lua_->running()) return;
  timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  now_ms_ = static_cast<int64_t>(ts.tv_sec) * 1000 + ts.tv_nsec / 1000000;
  keyspace_.set_lru_clock(static_cast<uint32_t>(mono_ms() - start_mono_ms_));
}

int64_t Server::uptime_ms() const { return static_cast<int64_t>(mono_ms() - start_mono_ms_); }

void Server::refresh_client_memory() {
  size_t mem = 0;
  for (auto& [id, c] : clients_) mem += c->buffer_capacity() + sizeof(Client);
  client_memory_ = mem;
}

size_t Server::used_memory() const {
  return baseline_memory_ + keyspace_.used_bytes() + client_memory_ + tracker_->memory_bytes();
}

void Server::on_request(net::Connection& conn, std::span<const std::string_view> args) {
  auto* c = static_cast<Client*>(conn.user);
  update_clock();
  c->last_interaction_ms = now_ms_;
  request_spec_ = nullptr;
  execute(*c, args);
  if (postponed_) {  // not run: it runs again when the pause ends
    postponed_ = false;
    return;
  }
  // Clients blocked on keys this request made ready are served now, before any other request
  // (Redis's handleClientsBlockedOnKeys after call()).
  if (blocking_->has_ready_keys()) blocking_->serve_ready_keys();
  // CLIENT CACHING covers the next command (or MULTI/EXEC) only.
  if (tracker_->any_client()) {
    const bool client_cmd = request_spec_ != nullptr &&
                            session_commands_.find(*request_spec_) == session::Command::kClient;
    tracker_->end_of_request(c->id, c->in_multi || client_cmd);
  }
}

void Server::on_closed(net::Connection& conn) {
  auto* c = static_cast<Client*>(conn.user);
  if (c == nullptr) return;
  on_client_closed(c);
  c->detach();
  conn.user = nullptr;
  closed_clients_.push_back(c);  // freed in on_prepare: callers may still hold the pointer
}

void Server::on_batch_done(net::Connection& conn) {
  if (auto* c = static_cast<Client*>(conn.user)) queue_write(c);  // written in on_prepare
}

void Server::on_protocol_error(net::Connection&) {
  stats_.protocol_errors++;
  stats_.total_error_replies++;
}

void Server::on_query_buffer_limit(net::Connection&) {
  stats_.client_query_buffer_limit_disconnections++;
}

void Server::on_client_closed(Client* c) {
  clients_.erase(c->id);
  if (c->blocked) blocking_->forget(*c);
  tracker_->disable(c->id);
  unwatch_all(c);
  for (const auto& ch : c->channels) unsubscribe(c, ch, false);
  for (const auto& p : c->patterns) unsubscribe(c, p, true);
  c->channels.clear();
  c->patterns.clear();
  if (c->pending_write) {
    auto it = std::find(pending_writes_.begin(), pending_writes_.end(), c);
    if (it != pending_writes_.end()) pending_writes_.erase(it);
    c->pending_write = false;
  }
}

void Server::resume_clients(std::vector<uint64_t>& ids) {
  while (!ids.empty()) {
    std::vector<uint64_t> batch;
    batch.swap(ids);
    for (uint64_t id : batch) {
      auto it = clients_.find(id);
      if (it == clients_.end()) continue;  // gone meanwhile
      Client* c = it->second;
      if (!c->blocked && !c->closing()) c->resume();
    }
  }
}

void Server::queue_write(Client* c) {
  if (c->pending_write || c->closing()) return;
  c->pending_write = true;
  pending_writes_.push_back(c);
}

void Server::on_prepare(uv_prepare_t* p) {
  auto* self = static_cast<Server*>(p->data);
  for (Client* c : self->closed_clients_) delete c;
  self->closed_clients_.clear();
  // Unblocked clients run their queued requests (not while a busy script lets the loop run:
  // as Redis's beforeSleep, which skips processUnblockedClients then).
  if (!self->lua_->running()) self->blocking_->resume_unblocked();
  if (!self->lua_->running()) self->pause_->resume_released();
  // BCAST invalidations of the keys modified since the last sleep (never in the middle of a
  // script that lets the loop run while it is busy: as Redis's beforeSleep, which skips it
  // while processing events during a busy script).
  if (!self->lua_->running()) self->tracker_->broadcast();
  if (self->config_.busy_poll_us > 0 && !self->pending_writes_.empty()) {
    self->busy_poll_until_ns_ =
        uv_hrtime() + static_cast<uint64_t>(self->config_.busy_poll_us) * 1000;
    uv_idle_start(&self->busy_poll_, on_busy_poll);  // no-op when already active
  }
  self->flush_pending_writes();
}

// Runs once per loop turn while busy polling; the loop sleeps again once busy-poll-us passed
// without a reply to write (or the option was set to 0).
void Server::on_busy_poll(uv_idle_t* h) {
  auto* self = static_cast<Server*>(h->data);
  if (self->config_.busy_poll_us == 0 || uv_hrtime() >= self->busy_poll_until_ns_) uv_idle_stop(h);
}

void Server::flush_pending_writes() {
  if (pending_writes_.empty()) return;
  std::vector<Client*> batch;
  batch.swap(pending_writes_);
  // Subscribers first: an invalidation reaches the socket before the reply that acknowledges
  // the write it reports, for writes answered in the same loop iteration.
  for (int pass = 0; pass < 2; ++pass) {
    for (Client* c : batch) {
      if (!c->pending_write || c->subscribed() != (pass == 0)) continue;
      c->pending_write = false;
      c->flush();
    }
  }
}


void Server::check_output_limit(Client* c) {
  size_t bytes = c->output_bytes();
  if (c->subscribed()) {
    if (config_.client_output_buffer_limit_pubsub &&
        bytes > config_.client_output_buffer_limit_pubsub) {
      stats_.client_output_buffer_limit_disconnections++;
      log::warn("client {} closed: pubsub output buffer over the hard limit", c->id);
      c->close();
      return;
    }
    if (config_.client_output_buffer_limit_pubsub_soft &&
        bytes > config_.client_output_buffer_limit_pubsub_soft) {
      if (c->pubsub_soft_since_ms == 0) {
        c->pubsub_soft_since_ms = now_ms_;
      } else if (now_ms_ - c->pubsub_soft_since_ms >
                 config_.client_output_buffer_limit_pubsub_soft_seconds * 1000LL) {
        stats_.client_output_buffer_limit_disconnections++;
        c->close();
      }
    } else {
      c->pubsub_soft_since_ms = 0;
    }
    return;
  }
  if (config_.client_output_buffer_limit_normal &&
      bytes > config_.client_output_buffer_limit_normal) {
    stats_.client_output_buffer_limit_disconnections++;
    log::warn("client {} closed: output buffer over the limit", c->id);
    c->close();
  }
}

bool Server::oom_check(CommandContext& ctx) {
  if (config_.maxmemory == 0) return true;
  size_t other = baseline_memory_ + client_memory_ + tracker_->memory_bytes();
  size_t limit = config_.maxmemory > other ? config_.maxmemory - other : 0;
  bool ok = keyspace_.evict_to(limit, 0, config_.maxmemory_policy, config_.maxmemory_samples);
  return ok || !(ctx.spec.flags & command::kDenyOom);
}

void Server::execute(Client& c, std::span<const std::string_view> args) {
  const command::CommandSpec* spec = table_.find(args[0]);
  std::string& out = c.out;
  // A request's command (not those EXEC or a script runs for it), as Redis's c->lastcmd.
  if (exec_depth_ == 0) c.note_command(spec, args);
  if (spec == nullptr) {
    if (session::cross_protocol_attack(args[0])) {
      // Cross-protocol scripting defence: an HTTP request is never answered.
      stats_.security_closes++;
      log::warn("possible cross-protocol attack from {}: closing", c.addr);
      c.close();
      return;
    }
    stats_.total_error_replies++;
    if (command::CommandTable::is_unsupported_type_command(args[0])) {
      std::string lower;
      for (char ch : args[0])
        lower.push_back(static_cast<char>(tolower(static_cast<unsigned char>(ch))));
      session::reject(
          *session_host_, c, nullptr,
          "ERR tiercache-l2 does not support '" + lower + "' (streams, HyperLogLog, bitmaps, geo)",
          out);
    } else {
      session::reject(*session_host_, c, nullptr,
                      resp::unknown_command_error(args[0], args.data() + 1, args.size() - 1), out);
    }
    return;
  }
  if (!session::admit(*session_host_, c, *spec, args, out)) {
    stats_.total_error_replies++;
    return;
  }
  // Redis 7.0's order: OOM (not while a script is busy or the file loads), RESP2 subscribed
  // mode, -LOADING and -BUSY for all but the table's kLoading and kAllowBusy commands.
  const bool busy = lua_->timed_out() && &c != lua_->script_client();
  const bool loading = snapshots_->loading();
  CommandContext ctx{*this, c, args, out, now_ms_, *spec};
  if (exec_depth_ == 0) request_spec_ = spec;
  if (!busy && !loading && !oom_check(ctx)) {
    stats_.total_error_replies++;
    session::reject(*session_host_, c, spec,
                    "OOM command not allowed when used memory > 'maxmemory'.", out);
    return;
  }
  if (!session::admit_subscribed(*session_host_, c, *spec, c.subscribed(), out)) {
    stats_.total_error_replies++;
    return;
  }
  if (loading && !command::CommandTable::request_has(*spec, args, command::kLoading)) {
    stats_.total_error_replies++;
    session::reject(*session_host_, c, spec, persistence::kLoadingError, out);
    return;
  }
  if (busy && !command::CommandTable::request_has(*spec, args, command::kAllowBusy)) {
    stats_.total_error_replies++;
    session::reject(*session_host_, c, spec, scripting::kBusyError, out);
    return;
  }
  // CLIENT PAUSE, after the checks above and before MULTI queues (Redis 7.0's processCommand).
  if (exec_depth_ == 0 && pause_->covers(c, *spec, args)) {
    pause_->postpone(c);
    postponed_ = true;
    return;
  }
  // Keep the default-mode tracking table within its bound, as Redis does before each command.
  if (exec_depth_ == 0 && tracker_->total_keys() != 0)
    tracker_->limit_keys(static_cast<uint64_t>(config_.tracking_table_max_keys));
  if (session::queue_in_multi(c, *spec, args, out)) return;
  stats_.total_commands_processed++;
  // The command context the tracker sees: the request's client (Redis's current_client) and
  // the client executing this command (a script's own client inside a script).
  const uint64_t prev_modifier = tracker_->modifier();
  const command::CommandSpec* prev_spec = c.exec_spec;
  const std::span<const std::string_view> prev_args = c.exec_args;
  if (exec_depth_++ == 0) tracker_->set_current(c.id);
  tracker_->set_modifier(c.id);
  c.exec_spec = spec;
  c.exec_args = args;
  handlers_[spec->id](ctx);
  if ((spec->flags & command::kRead) && !(spec->flags & command::kScripting) &&
      tracker_->any_client())
    remember_reads(c, *spec, args);
  c.exec_spec = prev_spec;
  c.exec_args = prev_args;
  tracker_->set_modifier(prev_modifier);
  if (--exec_depth_ == 0) tracker_->set_current(0);
  if ((spec->flags & command::kWrite) && !watched_keys_.empty()) {
    if (spec->flags & command::kFlush) {
      touch_db((spec->flags & command::kAllDbs) ? -1 : c.db);
    } else {
      std::vector<int> pos;
      command::CommandTable::key_positions(*spec, args, &pos);
      for (int i : pos) touch_key(c.db, args[i]);
    }
  }
  if (c.kind() != Client::Kind::kInternal) check_output_limit(&c);
}

void Server::remember_reads(Client& c, const command::CommandSpec& spec,
                            std::span<const std::string_view> args) {
  Client* caller = &c;
  if (c.kind() == Client::Kind::kInternal && lua_->caller() != nullptr) caller = lua_->caller();
  if (!tracker_->remembers_reads(caller->id)) return;
  const command::CommandSpec* s = &spec;
  if (caller != &c) {  // a script's read: the keys its EVAL declared
    if (caller->exec_spec == nullptr) return;
    s = caller->exec_spec;
    args = caller->exec_args;
  }
  std::vector<int> pos;
  if (!command::CommandTable::key_positions(*s, args, &pos) || pos.empty()) return;
  std::vector<std::string_view> keys;
  keys.reserve(pos.size());
  for (int i : pos) keys.push_back(args[i]);
  tracker_->remember_keys(caller->id, keys);
}

void Server::on_cron(uv_timer_t* t) { static_cast<Server*>(t->data)->cron(); }

void Server::cron() {
  // A script runs atomically, a half-loaded keyspace is no keyspace: no expiry or eviction.
  if (lua_->running() || snapshots_->loading()) return;
  update_clock();
  uint64_t budget_us = 1000000 / static_cast<uint64_t>(config_.hz) / 40;  // 2.5% of the period
  if (!pause_->active()) keyspace_.active_expire_cycle(now_ms_, budget_us);  // as Redis
  keyspace_.rehash_cron(budget_us / 2);
  snapshots_->cron(now_ms_, used_memory());
  // Also when idle: a CONFIG SET may have lowered the bound.
  if (tracker_->total_keys() != 0)
    tracker_->limit_keys(static_cast<uint64_t>(config_.tracking_table_max_keys));
  refresh_client_memory();
  std::vector<Client*> idle;
  for (auto& [id, c] : clients_) {
    if (config_.timeout > 0 && !c->subscribed() && !c->suspended() &&
        now_ms_ - c->last_interaction_ms > config_.timeout * 1000LL)
      idle.push_back(c);
  }
  for (Client* c : idle) c->close();
  if (config_.maxmemory != 0) {
    size_t other = baseline_memory_ + client_memory_ + tracker_->memory_bytes();
    size_t limit = config_.maxmemory > other ? config_.maxmemory - other : 0;
    keyspace_.evict_to(limit, 0, config_.maxmemory_policy, config_.maxmemory_samples);
  }
}

}  // namespace tiercache::l2
