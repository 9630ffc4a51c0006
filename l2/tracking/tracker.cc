// Client-side caching (see tracker.h): CLIENT TRACKING's rules, the key and prefix tables, and
// the invalidation messages, in the order Redis 7.0.15's src/tracking.c applies them.
#include "l2/tracking/tracker.h"

#include <algorithm>
#include <cstring>

#include "shared/resp/reply_writer.h"
#include "shared/util/numbers.h"

namespace tiercache::l2::tracking {
namespace {

constexpr std::string_view kNil = "$-1\r\n";  // RESP2 nil: "every key"

bool iequals(std::string_view a, std::string_view b) { return util::iequals(a, b); }

// Two prefixes overlap when one starts the other: both would report the same keys.
bool overlap(std::string_view a, std::string_view b) {
  size_t n = std::min(a.size(), b.size());
  return n == 0 || memcmp(a.data(), b.data(), n) == 0;
}

// Rough heap cost of one key in a node-based table (node, hash, string, small vector).
size_t key_cost(std::string_view key) { return 80 + (key.size() > 15 ? key.size() + 1 : 0); }

}  // namespace

std::string parse_request(std::span<const std::string_view> args, const Peers& peers,
                          Request* out) {
  for (size_t j = 3; j < args.size(); ++j) {
    bool more = j + 1 < args.size();
    std::string_view a = args[j];
    if (iequals(a, "redirect") && more) {
      ++j;
      if (out->redirect != 0) return "ERR A client can only redirect to a single other client";
      auto id = util::parse_int64(args[j]);
      if (!id) return "ERR value is not an integer or out of range";
      // Required to exist now, though it may go away later (then the redirect is "broken").
      if (*id <= 0 || !peers.exists(static_cast<uint64_t>(*id)))
        return "ERR The client ID you want redirect to does not exist";
      out->redirect = static_cast<uint64_t>(*id);
    } else if (iequals(a, "bcast")) {
      out->options |= kBcast;
    } else if (iequals(a, "optin")) {
      out->options |= kOptIn;
    } else if (iequals(a, "optout")) {
      out->options |= kOptOut;
    } else if (iequals(a, "noloop")) {
      out->options |= kNoLoop;
    } else if (iequals(a, "prefix") && more) {
      out->prefixes.push_back(args[++j]);
    } else {
      return "ERR syntax error";
    }
  }
  if (iequals(args[2], "on"))
    out->on = true;
  else if (!iequals(args[2], "off"))
    return "ERR syntax error";
  return {};
}

Tracker::Tracker(Peers& peers, uint64_t seed) : peers_(peers), rng_(seed) {}

std::string Tracker::enable(uint64_t client, const Request& req) {
  const uint32_t opts = req.options;
  auto it = clients_.find(client);
  if (!(opts & kBcast) && !req.prefixes.empty())
    return "ERR PREFIX option requires BCAST mode to be enabled";
  if (it != clients_.end() && ((it->second.options & kBcast) != 0) != ((opts & kBcast) != 0))
    return "ERR You can't switch BCAST mode on/off before disabling tracking for this client, "
           "and then re-enabling it with a different mode.";
  if ((opts & kBcast) && (opts & (kOptIn | kOptOut)))
    return "ERR OPTIN and OPTOUT are not compatible with BCAST";
  if ((opts & kOptIn) && (opts & kOptOut))
    return "ERR You can't specify both OPTIN mode and OPTOUT mode";
  if (it != clients_.end() && (((opts & kOptIn) && (it->second.options & kOptOut)) ||
                               ((opts & kOptOut) && (it->second.options & kOptIn))))
    return "ERR You can't switch OPTIN/OPTOUT mode before disabling tracking for this client, "
           "and then re-enabling it with a different mode.";
  if (opts & kBcast) {
    for (size_t i = 0; i < req.prefixes.size(); ++i) {
      std::string_view p = req.prefixes[i];
      if (it != clients_.end()) {
        for (const auto& have : it->second.prefixes)
          if (overlap(have, p))
            return "ERR Prefix '" + std::string(p) + "' overlaps with an existing prefix '" +
                   have + "'. Prefixes for a single client must not overlap.";
      }
      for (size_t j = i + 1; j < req.prefixes.size(); ++j)
        if (overlap(p, req.prefixes[j]))
          return "ERR Prefix '" + std::string(p) + "' overlaps with another provided prefix '" +
                 std::string(req.prefixes[j]) + "'. Prefixes for a single client must not overlap.";
    }
  }
  ClientState& st = clients_[client];
  st.options = opts & (kBcast | kOptIn | kOptOut | kNoLoop);
  st.broken = false;
  st.redirect = req.redirect;
  if (opts & kBcast) {
    auto add = [&](std::string_view p) {
      auto pit = prefixes_.find(p);
      if (pit == prefixes_.end()) pit = prefixes_.emplace(std::string(p), Bcast{}).first;
      pit->second.clients.insert(client);
      st.prefixes.emplace(p);
    };
    if (req.prefixes.empty()) add("");
    for (auto p : req.prefixes) add(p);
  }
  return {};
}

void Tracker::disable(uint64_t client) {
  auto it = clients_.find(client);
  if (it == clients_.end()) return;
  for (const auto& p : it->second.prefixes) {
    auto pit = prefixes_.find(p);
    if (pit == prefixes_.end()) continue;
    pit->second.clients.erase(client);
    if (pit->second.clients.empty()) {
      for (const auto& [key, who] : pit->second.keys) bcast_bytes_ -= key_cost(key);
      prefixes_.erase(pit);
    }
  }
  // Its ids in the key table are dropped lazily, when those keys are invalidated.
  clients_.erase(it);
}

std::string Tracker::caching(uint64_t client, std::string_view yes_no) {
  auto it = clients_.find(client);
  if (it == clients_.end())
    return "ERR CLIENT CACHING can be called only when the client is in tracking mode with "
           "OPTIN or OPTOUT mode enabled";
  ClientState& st = it->second;
  if (iequals(yes_no, "yes")) {
    if (!(st.options & kOptIn))
      return "ERR CLIENT CACHING YES is only valid when tracking is enabled in OPTIN mode.";
  } else if (iequals(yes_no, "no")) {
    if (!(st.options & kOptOut))
      return "ERR CLIENT CACHING NO is only valid when tracking is enabled in OPTOUT mode.";
  } else {
    return "ERR syntax error";
  }
  st.caching = true;
  return {};
}

int64_t Tracker::redirect(uint64_t client) const {
  auto it = clients_.find(client);
  return it == clients_.end() ? -1 : static_cast<int64_t>(it->second.redirect);
}

Info Tracker::info(uint64_t client) const {
  Info info;
  auto it = clients_.find(client);
  if (it == clients_.end()) {
    info.flags.push_back("off");
    return info;
  }
  const ClientState& st = it->second;
  info.flags.push_back("on");
  if (st.options & kBcast) info.flags.push_back("bcast");
  if (st.options & kOptIn) {
    info.flags.push_back("optin");
    if (st.caching) info.flags.push_back("caching-yes");
  }
  if (st.options & kOptOut) {
    info.flags.push_back("optout");
    if (st.caching) info.flags.push_back("caching-no");
  }
  if (st.options & kNoLoop) info.flags.push_back("noloop");
  if (st.broken) info.flags.push_back("broken_redirect");
  info.redirect = static_cast<int64_t>(st.redirect);
  info.prefixes.assign(st.prefixes.begin(), st.prefixes.end());
  return info;
}

std::string Tracker::list_flags(uint64_t client) const {
  auto it = clients_.find(client);
  if (it == clients_.end()) return {};
  std::string f = "t";
  if (it->second.broken) f += 'R';
  if (it->second.options & kBcast) f += 'B';
  return f;
}

bool Tracker::remembers_reads(uint64_t client) const {
  auto it = clients_.find(client);
  return it != clients_.end() && !(it->second.options & kBcast);
}

void Tracker::remember_keys(uint64_t client, std::span<const std::string_view> keys) {
  auto it = clients_.find(client);
  if (it == clients_.end() || (it->second.options & kBcast)) return;
  const ClientState& st = it->second;
  if (((st.options & kOptIn) && !st.caching) || ((st.options & kOptOut) && st.caching)) return;
  for (std::string_view key : keys) {
    auto kit = keys_.find(key);
    if (kit == keys_.end()) {
      kit = keys_.emplace(std::string(key), std::vector<uint64_t>{}).first;
      key_bytes_ += key_cost(key);
    }
    auto& ids = kit->second;
    if (std::find(ids.begin(), ids.end(), client) != ids.end()) continue;
    ids.push_back(client);
    ++items_;
    key_bytes_ += sizeof(uint64_t);
  }
}

void Tracker::end_of_request(uint64_t client, bool keep_caching) {
  if (keep_caching) return;
  auto it = clients_.find(client);
  if (it != clients_.end()) it->second.caching = false;
}

void Tracker::send(ClientState& st, std::string_view payload) {
  if (st.redirect == 0) return;  // RESP2 has no push messages on the client's own connection
  if (!peers_.deliver(st.redirect, payload)) st.broken = true;
}

void Tracker::invalidate(std::string_view key, uint64_t modifier, bool bcast) {
  if (bcast) {
    for (auto& [prefix, state] : prefixes_) {
      if (key.size() < prefix.size() || key.compare(0, prefix.size(), prefix) != 0) continue;
      // The value remembers who modified the key last, for NOLOOP.
      auto kit = state.keys.find(key);
      if (kit == state.keys.end()) {
        state.keys.emplace(std::string(key), modifier);
        bcast_bytes_ += key_cost(key);
      } else {
        kit->second = modifier;
      }
    }
  }
  auto kit = keys_.find(key);
  if (kit == keys_.end()) return;
  std::vector<uint64_t> ids = std::move(kit->second);
  key_bytes_ -= key_cost(key) + ids.size() * sizeof(uint64_t);
  items_ -= ids.size();
  scratch_.clear();
  resp::write_array_header(scratch_, 1);
  resp::write_bulk(scratch_, key);
  keys_.erase(kit);  // key may point into the erased node: not used below
  for (uint64_t id : ids) {
    auto cit = clients_.find(id);
    // Gone, disabled since, or switched to BCAST (which gets its own messages).
    if (cit == clients_.end() || (cit->second.options & kBcast)) continue;
    if ((cit->second.options & kNoLoop) && id == current_) continue;
    send(cit->second, scratch_);
  }
}

void Tracker::on_key_modified(int, std::string_view key, ModifiedBy by) {
  // Key names are tracked regardless of db, as in Redis: a message carries no db number.
  if (keys_.empty() && prefixes_.empty()) return;
  invalidate(key, by == ModifiedBy::kCommand ? modifier_ : 0, true);
}

void Tracker::on_flushed(int) {
  // Every tracking client, whatever its mode, hears "everything" (nil) once per flush.
  for (auto& [id, st] : clients_) send(st, kNil);
  keys_ = {};
  items_ = 0;
  key_bytes_ = 0;
}

void Tracker::limit_keys(uint64_t max_keys) {
  if (max_keys == 0 || keys_.size() <= max_keys) {
    limit_rounds_ = 0;
    return;
  }
  // Forget random keys, invalidating them as if modified, with an effort that grows with each
  // call that ends still over the limit.
  int effort = 100 * static_cast<int>(limit_rounds_ + 1);
  std::string key;
  while (effort-- > 0 && !keys_.empty()) {
    size_t buckets = keys_.bucket_count();
    size_t b = rng_() % buckets;
    while (keys_.bucket_size(b) == 0) b = (b + 1) % buckets;
    key = keys_.begin(b)->first;
    invalidate(key, 0, false);
    if (keys_.size() <= max_keys) {
      limit_rounds_ = 0;
      return;
    }
  }
  ++limit_rounds_;
}

void Tracker::broadcast() {
  if (clients_.empty()) return;
  std::string all, own;
  for (auto& [prefix, state] : prefixes_) {
    if (state.keys.empty()) continue;
    // One array of the prefix's keys, in key order, for every client of the prefix; a NOLOOP
    // client gets its own array without the keys it modified last (none: no message).
    all.clear();
    resp::write_array_header(all, static_cast<int64_t>(state.keys.size()));
    for (const auto& [key, who] : state.keys) resp::write_bulk(all, key);
    for (uint64_t id : state.clients) {
      auto cit = clients_.find(id);
      if (cit == clients_.end()) continue;
      if (!(cit->second.options & kNoLoop)) {
        send(cit->second, all);
        continue;
      }
      size_t n = 0;
      for (const auto& [key, who] : state.keys) n += who != id;
      if (n == 0) continue;
      own.clear();
      resp::write_array_header(own, static_cast<int64_t>(n));
      for (const auto& [key, who] : state.keys)
        if (who != id) resp::write_bulk(own, key);
      send(cit->second, own);
    }
    for (const auto& [key, who] : state.keys) bcast_bytes_ -= key_cost(key);
    state.keys.clear();
  }
}

}  // namespace tiercache::l2::tracking
