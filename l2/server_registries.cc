// tiercache-l2's registries of who waits for what (see server.h): WATCHed keys, pub/sub
// channels and patterns, and the delivery of client-side caching invalidations (the
// tracking::Peers side of the server).
#include <algorithm>

#include "l2/client.h"
#include "l2/server.h"
#include "shared/glob/glob.h"
#include "shared/resp/reply_writer.h"

namespace tiercache::l2 {
namespace {

void write_pubsub_message(std::string& out, std::string_view kind, std::string_view channel,
                          std::string_view message) {
  resp::write_array_header(out, 3);
  resp::write_bulk(out, kind);
  resp::write_bulk(out, channel);
  resp::write_bulk(out, message);
}

}  // namespace

void Server::watch_key(Client* c, int db, std::string_view key) {
  for (const auto& [wdb, wkey] : c->watched)
    if (wdb == db && wkey == key) return;
  c->watched.emplace_back(db, std::string(key));
  watched_keys_[{db, std::string(key)}].push_back(c);
}

void Server::unwatch_all(Client* c) {
  for (const auto& w : c->watched) {
    auto it = watched_keys_.find(w);
    if (it == watched_keys_.end()) continue;
    auto& v = it->second;
    v.erase(std::remove(v.begin(), v.end(), c), v.end());
    if (v.empty()) watched_keys_.erase(it);
  }
  c->watched.clear();
  c->watch_dirty = false;
}

void Server::touch_key(int db, std::string_view key) {
  if (watched_keys_.empty()) return;
  auto it = watched_keys_.find({db, std::string(key)});
  if (it == watched_keys_.end()) return;
  for (Client* c : it->second) c->watch_dirty = true;
}

void Server::touch_db(int db) {
  for (auto& [k, clients] : watched_keys_) {
    if (db == -1 || k.first == db)
      for (Client* c : clients) c->watch_dirty = true;
  }
}

size_t Server::publish(std::string_view channel, std::string_view message) {
  size_t receivers = 0;
  if (auto it = channels_.find(std::string(channel)); it != channels_.end()) {
    std::vector<Client*> targets = it->second;  // a limit check may close (and unsubscribe) one
    for (Client* c : targets) {
      if (c->closing()) continue;
      write_pubsub_message(c->out, "message", channel, message);
      ++receivers;
      queue_write(c);
      check_output_limit(c);
    }
  }
  if (!patterns_.empty()) {
    std::vector<std::pair<std::string, Client*>> hits;
    for (const auto& [pattern, clients] : patterns_) {
      if (!glob::match(pattern, channel)) continue;
      for (Client* c : clients) hits.emplace_back(pattern, c);
    }
    for (auto& [pattern, c] : hits) {
      if (c->closing()) continue;
      resp::write_array_header(c->out, 4);
      resp::write_bulk(c->out, "pmessage");
      resp::write_bulk(c->out, pattern);
      resp::write_bulk(c->out, channel);
      resp::write_bulk(c->out, message);
      ++receivers;
      queue_write(c);
      check_output_limit(c);
    }
  }
  stats_.pubsub_messages_delivered += receivers;
  return receivers;
}

void Server::subscribe(Client* c, std::string_view channel, bool pattern) {
  auto& set = pattern ? c->patterns : c->channels;
  std::string name(channel);
  if (!set.insert(name).second) return;
  (pattern ? patterns_ : channels_)[name].push_back(c);
}

bool Server::unsubscribe(Client* c, std::string_view channel, bool pattern) {
  auto& map = pattern ? patterns_ : channels_;
  std::string name(channel);
  auto it = map.find(name);
  if (it == map.end()) return false;
  auto& v = it->second;
  auto pos = std::find(v.begin(), v.end(), c);
  if (pos == v.end()) return false;
  v.erase(pos);
  if (v.empty()) map.erase(it);
  return true;
}

std::vector<std::string> Server::channels(std::string_view pattern) const {
  std::vector<std::string> out;
  for (const auto& [name, clients] : channels_) {
    if (pattern.empty() || glob::match(pattern, name)) out.push_back(name);
  }
  return out;
}

size_t Server::channel_subscribers(std::string_view channel) const {
  auto it = channels_.find(std::string(channel));
  return it == channels_.end() ? 0 : it->second.size();
}

bool Server::exists(uint64_t id) const { return clients_.count(id) != 0; }

bool Server::deliver(uint64_t id, std::string_view payload) {
  auto it = clients_.find(id);
  if (it == clients_.end()) return false;
  Client* c = it->second;
  // RESP2 carries an invalidation only to a client in pub/sub mode, whatever it subscribed to.
  if (!c->subscribed() || c->closing()) return true;
  resp::write_array_header(c->out, 3);
  resp::write_bulk(c->out, "message");
  resp::write_bulk(c->out, "__redis__:invalidate");
  c->out.append(payload);
  queue_write(c);
  check_output_limit(c);
  return true;
}

}  // namespace tiercache::l2
