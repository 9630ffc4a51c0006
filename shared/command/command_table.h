// Command metadata shared by both servers: name, arity, flags and key positions, as data.
// Handlers live with each server; this table is what both agree a command *is*.
#pragma once

#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

namespace tiercache::command {

enum Flag : uint32_t {
  kRead = 1u << 0,          // reads keys
  kWrite = 1u << 1,         // may modify keys (the sidecar invalidates its key positions)
  kAdmin = 1u << 2,         // server administration
  kPubSub = 1u << 3,        // pub/sub
  kDenyOom = 1u << 4,       // may grow memory: refused with -OOM under noeviction
  kNoAuth = 1u << 5,        // allowed before AUTH
  kNoScript = 1u << 6,      // not allowed inside Lua scripts
  kFast = 1u << 7,          // O(1) or O(log n)
  kNoMulti = 1u << 8,       // refused inside MULTI: "Command not allowed inside a transaction"
                            // (Redis 7.0: SAVE, SHUTDOWN, SYNC, PSYNC; the first two here;
                            // MULTI and WATCH answer errors of their own)
  kSubscribed = 1u << 9,    // allowed while the connection is in RESP2 subscribed mode
  kFlush = 1u << 10,        // drops a whole db (FLUSHDB) or all dbs (FLUSHALL)
  kScripting = 1u << 11,    // EVAL family: keys come from the numkeys argument
  kTransaction = 1u << 12,  // MULTI/EXEC/DISCARD/WATCH/UNWATCH
  kNotQueued = 1u << 13,    // runs at once inside MULTI, never queued (Redis: EXEC, DISCARD,
                            // MULTI, WATCH, QUIT, RESET)
  kAllDbs = 1u << 14,       // acts on every db, not the client's (FLUSHALL)
  kBlocking = 1u << 15,     // may block the client (BLPOP & co): a client of its own upstream
  kContainer = 1u << 16,    // has subcommands (CLIENT LIST): CLIENT LIST's cmd= says "client|list"
  kOtherDb = 1u << 17,      // may write its keys in another db than the client's (MOVE,
                            // COPY ... DB): the sidecar drops them from L1 in every db
  kAllowBusy = 1u << 18,    // runs while a script is busy (past lua-time-limit); every other
                            // command gets -BUSY (Redis 7.0's allow_busy: AUTH, HELLO, QUIT,
                            // RESET, MULTI, DISCARD, WATCH, UNWATCH, SHUTDOWN, SCRIPT KILL)
  kExec = 1u << 19,         // EXEC: refused before it runs (arity, NOAUTH, ...), it discards the
                            // transaction and unwatches (Redis's execCommandAbort)
  kLoading = 1u << 20,      // runs while tiercache-l2 loads its RDB file; every other command
                            // gets -LOADING (Redis 7.0's loading: INFO, AUTH, HELLO, CLIENT,
                            // CONFIG GET/SET, pub/sub, transactions, SHUTDOWN; not PING)
  // How a Redis Cluster client (the sidecar's l2-mode cluster, cluster/cluster_link.h) routes a
  // command Redis 7 marks with a request_policy tip; never shown by COMMAND INFO.
  kClusterSplit = 1u << 21,  // multi-key, may span slots: split per slot, replies merged by
                             // shape (arrays in key order, integers summed): MGET, DEL, EXISTS,
                             // UNLINK, TOUCH (request_policy:multi_shard)
  kAllShards = 1u << 22,     // keyless, acts on the whole keyspace: sent to every master and
                             // merged (OK when all OK, integers summed, arrays concatenated,
                             // the first non-nil string): FLUSHDB, FLUSHALL, DBSIZE, KEYS,
                             // RANDOMKEY (request_policy:all_shards)
  kShardCursor = 1u << 23,   // SCAN: walks the masters one after the other, the master's index
                             // in the cursor's high bits (request_policy:special)
  kMayReplicate = 1u << 24,  // not a write, yet postponed by CLIENT PAUSE WRITE: PUBLISH, EVAL,
                             // EVALSHA (Redis's may_replicate)
};

enum class KeySpec : uint8_t {
  kNone,     // no keys
  kRange,    // keys at first_key..last_key (negative last counts from the end) by key_step
  kNumkeys,  // args[numkeys_at] is numkeys and that many keys follow it (EVAL, ZUNION, LMPOP);
             // first_key > 0 names one more key before it (ZUNIONSTORE's destination)
};

// COMMAND DOCS' "group", as redis-server 7.0 files each command.
enum class Group : uint8_t {
  kGeneric,
  kString,
  kList,
  kSet,
  kSortedSet,
  kHash,
  kPubSub,
  kTransactions,
  kConnection,
  kServer,
  kScripting,
};
std::string_view group_name(Group g);  // "sorted-set", ...

struct CommandSpec {
  std::string_view name;  // lower case
  int arity;              // Redis convention: N exact, -N at least N (the name counts)
  uint32_t flags;
  KeySpec key_spec;
  int first_key;
  int last_key;
  int key_step;
  Group group;
  int numkeys_at = 0;  // kNumkeys: the index of the numkeys argument
  uint16_t id = 0;     // index in the table, for per-server handler arrays (set by the table)
};

// A container's subcommand (CONFIG GET): Redis checks its arity before running, and inside
// MULTI before queueing, as "config|get".
struct SubcommandSpec {
  std::string_view container;  // lower case
  std::string_view name;       // lower case
  int arity;                   // counts the container's name and the subcommand's
  uint32_t flags = 0;          // the Flag bits a subcommand has of its own (kAllowBusy,
                               // kLoading)
};

// The complete, immutable table. Lookups are case-insensitive and allocation-free.
class CommandTable {
 public:
  CommandTable();

  // nullptr when unknown.
  const CommandSpec* find(std::string_view name) const;

  std::span<const CommandSpec> all() const;

  // A kContainer command's subcommand, as redis-server 7.0 lists them (some may be
  // unimplemented: the handler answers those); nullptr when Redis does not know it either.
  // Case-insensitive, allocation-free.
  static const SubcommandSpec* find_subcommand(const CommandSpec& container,
                                               std::string_view name);

  // The name CLIENT LIST shows for a request's command, as Redis 7.0 does: "get", or
  // "client|list" for a container's subcommand (lower case), "NULL" for an unknown command.
  // Written into buf (no allocation); the view points into buf or into static storage.
  static std::string_view display_name(const CommandSpec* spec,
                                       std::span<const std::string_view> args,
                                       std::span<char> buf);

  // Whether a request's command has `flag`, or, for a container, its subcommand (Redis checks
  // a subcommand's own flags): kAllowBusy (runs while a script is busy: SCRIPT KILL), kLoading
  // (runs while the RDB file loads: CONFIG GET).
  static bool request_has(const CommandSpec& spec, std::span<const std::string_view> args,
                          Flag flag);

  // True for commands of Redis data types that tiercache deliberately does not implement.
  static bool is_unsupported_type_command(std::string_view name);

  // Arity check with the Redis convention.
  static bool arity_ok(int arity, size_t argc) {
    return arity >= 0 ? argc == static_cast<size_t>(arity) : argc >= static_cast<size_t>(-arity);
  }
  static bool arity_ok(const CommandSpec& spec, size_t argc) { return arity_ok(spec.arity, argc); }

  // Appends the indexes of key arguments of `args` (args[0] is the name) to `out`.
  // Returns false if the numkeys argument is invalid.
  static bool key_positions(const CommandSpec& spec, std::span<const std::string_view> args,
                            std::vector<int>* out);

 private:
  static constexpr size_t kBuckets = 512;
  uint16_t buckets_[kBuckets];  // open addressing: spec index + 1, 0 = empty
};

}  // namespace tiercache::command
