// Client-side caching as Redis 7.0 does it (CLIENT TRACKING, src/tracking.c): the per-client
// tracking state, the table of keys that default-mode clients have read, the table of BCAST
// prefixes with the keys modified since the last broadcast, and the invalidation messages. The
// keyspace tells the tracker of every modification (it is the keyspace's listener); the server
// tells it what each client reads and when the loop is about to sleep.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <random>
#include <set>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "l2/keyspace/keyspace.h"

namespace tiercache::l2::tracking {

// How the tracker reaches clients: the server, or an in-process fake in unit tests.
class Peers {
 public:
  virtual ~Peers() = default;
  // True if a client with this id is connected.
  virtual bool exists(uint64_t id) const = 0;
  // Hands one invalidation to client `id` the way RESP2 can carry it: as a pub/sub message on
  // __redis__:invalidate if that client is in pub/sub mode, else it is dropped (as Redis does).
  // `payload` is the RESP of the message's value: an array of keys, or nil for "everything".
  // False when no client has that id.
  virtual bool deliver(uint64_t id, std::string_view payload) = 0;
};

// CLIENT TRACKING options.
enum Option : uint32_t { kBcast = 1u << 0, kOptIn = 1u << 1, kOptOut = 1u << 2, kNoLoop = 1u << 3 };

// CLIENT TRACKING on|off [REDIRECT id] [PREFIX p ...] [BCAST] [OPTIN] [OPTOUT] [NOLOOP], parsed.
// Views point into the request's arguments.
struct Request {
  bool on = false;
  uint64_t redirect = 0;  // 0: none
  uint32_t options = 0;
  std::vector<std::string_view> prefixes;
};

// Parses CLIENT TRACKING's arguments (args[0] = "client", args[1] = "tracking"): "" with *out
// filled, or the error to reply, with Redis 7.0's texts and in its order of checks.
std::string parse_request(std::span<const std::string_view> args, const Peers& peers,
                          Request* out);

// What CLIENT TRACKINGINFO reports.
struct Info {
  std::vector<std::string_view> flags;  // "on"/"off", "bcast", "optin", "caching-yes", ...
  int64_t redirect = -1;
  std::vector<std::string> prefixes;
};

// Owned by the server; loop thread only. Clients are named by id (ids are never reused), so a
// closed client is simply absent: the key table forgets its ids lazily, as Redis's does.
class Tracker : public KeyspaceListener {
 public:
  explicit Tracker(Peers& peers, uint64_t seed = 0x5eed);

  // CLIENT TRACKING on with a parsed request: "" when applied, else the error to reply (the
  // checks that depend on the client's current mode, then prefix overlaps).
  std::string enable(uint64_t client, const Request& req);
  // CLIENT TRACKING off, RESET and a closed connection.
  void disable(uint64_t client);
  // CLIENT CACHING yes|no: "" or the error to reply.
  std::string caching(uint64_t client, std::string_view yes_no);
  // CLIENT GETREDIR: the redirect id (0 = none), -1 when not tracking.
  int64_t redirect(uint64_t client) const;
  Info info(uint64_t client) const;
  // CLIENT LIST's flag letters: "t" tracking, "R" broken redirect, "B" bcast.
  std::string list_flags(uint64_t client) const;

  bool any_client() const { return !clients_.empty(); }
  // The client tracks in default mode: the keys of its reads are to be remembered.
  bool remembers_reads(uint64_t client) const;

  // The command context. `current` is the client whose request the server is running (Redis's
  // current_client; 0 outside requests): default-mode NOLOOP compares with it. `modifier` is
  // the client executing the innermost command (a script's own client inside a script; 0 for
  // none): BCAST NOLOOP compares with it. Expiry and eviction modify on behalf of no client.
  void set_current(uint64_t client) { current_ = client; }
  void set_modifier(uint64_t client) { modifier_ = client; }
  uint64_t modifier() const { return modifier_; }

  // After a read-only command: `client` (default mode) may now cache these keys.
  void remember_keys(uint64_t client, std::span<const std::string_view> keys);
  // After each request of `client`: CLIENT CACHING applies to one command (or one MULTI/EXEC),
  // so its flag is cleared unless the request was a CLIENT command or the client is in MULTI.
  void end_of_request(uint64_t client, bool keep_caching);
  // Before the loop sleeps: sends every BCAST prefix's batch of modified keys.
  void broadcast();
  // Keeps the default-mode key table at most max_keys keys (0 = no limit) by forgetting random
  // keys, each invalidated at the clients that had it (Redis's trackingLimitUsedSlots: effort
  // grows while the table stays over the limit).
  void limit_keys(uint64_t max_keys);

  // KeyspaceListener
  void on_key_modified(int db, std::string_view key, ModifiedBy by) override;
  void on_flushed(int db) override;

  // INFO: tracking_clients, tracking_total_keys / items / prefixes, and an estimate of the
  // tables' heap bytes.
  size_t tracking_clients() const { return clients_.size(); }
  size_t total_keys() const { return keys_.size(); }
  size_t total_items() const { return items_; }
  size_t total_prefixes() const { return prefixes_.size(); }
  size_t memory_bytes() const { return key_bytes_ + bcast_bytes_; }

 private:
  struct ClientState {
    uint32_t options = 0;
    bool caching = false;  // CLIENT CACHING given for the next command
    bool broken = false;   // a message found its redirect client gone
    uint64_t redirect = 0;
    std::set<std::string, std::less<>> prefixes;  // BCAST
  };
  struct Bcast {
    std::map<std::string, uint64_t, std::less<>> keys;  // modified key -> last modifier id
    std::set<uint64_t> clients;
  };
  struct Hash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };

  // Sends one invalidation for `st`'s client: to its redirect client (marking the redirect
  // broken if that client is gone); a client without redirect gets nothing over RESP2.
  void send(ClientState& st, std::string_view payload);
  // Invalidates key at the default-mode clients that read it and forgets it; with `bcast`, also
  // queues it for the BCAST prefixes it matches (a real modification, not a table eviction).
  void invalidate(std::string_view key, uint64_t modifier, bool bcast);

  Peers& peers_;
  std::unordered_map<uint64_t, ClientState> clients_;
  std::unordered_map<std::string, std::vector<uint64_t>, Hash, std::equal_to<>> keys_;
  std::map<std::string, Bcast, std::less<>> prefixes_;
  size_t items_ = 0;        // client ids across keys_
  size_t key_bytes_ = 0;    // estimate of keys_' heap
  size_t bcast_bytes_ = 0;  // estimate of pending BCAST keys
  uint64_t current_ = 0;
  uint64_t modifier_ = 0;
  unsigned limit_rounds_ = 0;
  std::mt19937_64 rng_;
  std::string scratch_;
};

}  // namespace tiercache::l2::tracking
