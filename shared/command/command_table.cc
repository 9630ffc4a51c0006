// The command table (see command_table.h). Adding a command is one row here.
#include "shared/command/command_table.h"

#include <cstdlib>
#include <cstring>

#include "shared/util/numbers.h"

namespace tiercache::command {
namespace {

constexpr uint32_t R = kRead, W = kWrite, A = kAdmin, P = kPubSub, M = kDenyOom, N = kNoAuth,
                   S = kNoScript, F = kFast, B = kSubscribed, L = kFlush, E = kScripting,
                   T = kTransaction, Q = kNotQueued, D = kAllDbs, K = kBlocking, C = kContainer,
                   O = kOtherDb, X = kNoMulti, Y = kAllowBusy, Z = kExec, G = kLoading,
                   MS = kClusterSplit, AS = kAllShards, SC = kShardCursor, MR = kMayReplicate;
constexpr KeySpec kN = KeySpec::kNone, kR = KeySpec::kRange, kK = KeySpec::kNumkeys;
constexpr Group Gen = Group::kGeneric, Str = Group::kString, Lst = Group::kList,
                Set = Group::kSet, Zst = Group::kSortedSet, Hsh = Group::kHash,
                Pub = Group::kPubSub, Tx = Group::kTransactions, Con = Group::kConnection,
                Srv = Group::kServer, Scr = Group::kScripting;

// name, arity, flags, key spec, first, last, step, COMMAND DOCS group, numkeys index (kK rows
// only). The id is filled in by position. Arity, flags, keys and group are redis-server 7.0's.
constexpr CommandSpec kCommands[] = {
    {"ping", -1, F | B, kN, 0, 0, 0, Con},
    {"echo", 2, F | G, kN, 0, 0, 0, Con},
    {"select", 2, F | G, kN, 0, 0, 0, Con},
    {"quit", -1, N | S | F | B | Q | Y | G, kN, 0, 0, 0, Con},
    {"auth", -2, N | S | F | Y | G, kN, 0, 0, 0, Con},
    {"hello", -1, N | S | F | Y | G, kN, 0, 0, 0, Con},
    {"reset", 1, N | S | F | B | Q | Y | G, kN, 0, 0, 0, Con},
    {"client", -2, A | S | C, kN, 0, 0, 0, Con},
    {"command", -1, C | G, kN, 0, 0, 0, Srv},
    {"config", -2, A | S | C, kN, 0, 0, 0, Srv},
    {"info", -1, G, kN, 0, 0, 0, Srv},
    {"time", 1, F | G, kN, 0, 0, 0, Srv},
    {"dbsize", 1, R | F | AS, kN, 0, 0, 0, Srv},
    {"get", 2, R | F, kR, 1, 1, 1, Str},
    {"set", -3, W | M, kR, 1, 1, 1, Str},
    {"setnx", 3, W | M | F, kR, 1, 1, 1, Str},
    {"setex", 4, W | M, kR, 1, 1, 1, Str},
    {"psetex", 4, W | M, kR, 1, 1, 1, Str},
    {"getset", 3, W | M | F, kR, 1, 1, 1, Str},
    {"getdel", 2, W | F, kR, 1, 1, 1, Str},
    {"getex", -2, W | F, kR, 1, 1, 1, Str},
    {"mget", -2, R | F | MS, kR, 1, -1, 1, Str},
    {"mset", -3, W | M, kR, 1, -1, 2, Str},
    {"msetnx", -3, W | M, kR, 1, -1, 2, Str},
    {"append", 3, W | M | F, kR, 1, 1, 1, Str},
    {"strlen", 2, R | F, kR, 1, 1, 1, Str},
    {"incr", 2, W | M | F, kR, 1, 1, 1, Str},
    {"decr", 2, W | M | F, kR, 1, 1, 1, Str},
    {"incrby", 3, W | M | F, kR, 1, 1, 1, Str},
    {"decrby", 3, W | M | F, kR, 1, 1, 1, Str},
    {"incrbyfloat", 3, W | M | F, kR, 1, 1, 1, Str},
    {"del", -2, W | MS, kR, 1, -1, 1, Gen},
    {"unlink", -2, W | F | MS, kR, 1, -1, 1, Gen},
    {"exists", -2, R | F | MS, kR, 1, -1, 1, Gen},
    {"type", 2, R | F, kR, 1, 1, 1, Gen},
    {"rename", 3, W, kR, 1, 2, 1, Gen},
    {"renamenx", 3, W | F, kR, 1, 2, 1, Gen},
    {"copy", -3, W | M | O, kR, 1, 2, 1, Gen},
    {"move", 3, W | F | O, kR, 1, 1, 1, Gen},
    {"expire", -3, W | F, kR, 1, 1, 1, Gen},
    {"pexpire", -3, W | F, kR, 1, 1, 1, Gen},
    {"expireat", -3, W | F, kR, 1, 1, 1, Gen},
    {"pexpireat", -3, W | F, kR, 1, 1, 1, Gen},
    {"expiretime", 2, R | F, kR, 1, 1, 1, Gen},
    {"pexpiretime", 2, R | F, kR, 1, 1, 1, Gen},
    {"ttl", 2, R | F, kR, 1, 1, 1, Gen},
    {"pttl", 2, R | F, kR, 1, 1, 1, Gen},
    {"persist", 2, W | F, kR, 1, 1, 1, Gen},
    {"touch", -2, R | F | MS, kR, 1, -1, 1, Gen},
    {"keys", 2, R | AS, kN, 0, 0, 0, Gen},
    {"scan", -2, R | SC, kN, 0, 0, 0, Gen},
    {"randomkey", 1, R | AS, kN, 0, 0, 0, Gen},
    {"flushdb", -1, W | L | AS, kN, 0, 0, 0, Srv},
    {"flushall", -1, W | L | D | AS, kN, 0, 0, 0, Srv},
    {"multi", 1, S | F | T | Q | Y | G, kN, 0, 0, 0, Tx},
    {"exec", 1, S | T | Q | Z | G, kN, 0, 0, 0, Tx},
    {"discard", 1, S | F | T | Q | Y | G, kN, 0, 0, 0, Tx},
    {"watch", -2, S | F | T | Q | Y | G, kR, 1, -1, 1, Tx},
    {"unwatch", 1, S | F | T | Y | G, kN, 0, 0, 0, Tx},
    {"publish", 3, P | F | G | MR, kN, 0, 0, 0, Pub},
    {"subscribe", -2, P | S | B | G, kN, 0, 0, 0, Pub},
    {"unsubscribe", -1, P | S | B | G, kN, 0, 0, 0, Pub},
    {"psubscribe", -2, P | S | B | G, kN, 0, 0, 0, Pub},
    {"punsubscribe", -1, P | S | B | G, kN, 0, 0, 0, Pub},
    {"pubsub", -2, P | C, kN, 0, 0, 0, Pub},
    {"eval", -3, S | M | E | MR, kK, 0, 0, 0, Scr, 2},
    {"evalsha", -3, S | M | E | MR, kK, 0, 0, 0, Scr, 2},
    {"eval_ro", -3, S | R | E, kK, 0, 0, 0, Scr, 2},
    {"evalsha_ro", -3, S | R | E, kK, 0, 0, 0, Scr, 2},
    {"script", -2, S | C, kN, 0, 0, 0, Scr},
    {"object", -2, C, kN, 0, 0, 0, Gen},
    {"memory", -2, C, kN, 0, 0, 0, Srv},
    // Persistence (RDB snapshots) and DUMP/RESTORE: rows as redis-server 7.0's COMMAND INFO.
    {"save", 1, A | S | X, kN, 0, 0, 0, Srv},
    {"bgsave", -1, A | S, kN, 0, 0, 0, Srv},
    {"lastsave", 1, F | G, kN, 0, 0, 0, Srv},
    {"shutdown", -1, A | S | X | Y | G, kN, 0, 0, 0, Srv},
    {"dump", 2, R, kR, 1, 1, 1, Gen},
    {"restore", -4, W | M, kR, 1, 1, 1, Gen},
    // Hashes, lists, sets and sorted sets: rows as redis-server 7.0's COMMAND INFO (checked by
    // tests/integration/test_command_table.py).
    {"hdel", -3, W | F, kR, 1, 1, 1, Hsh},
    {"hexists", 3, R | F, kR, 1, 1, 1, Hsh},
    {"hget", 3, R | F, kR, 1, 1, 1, Hsh},
    {"hgetall", 2, R, kR, 1, 1, 1, Hsh},
    {"hincrby", 4, W | M | F, kR, 1, 1, 1, Hsh},
    {"hincrbyfloat", 4, W | M | F, kR, 1, 1, 1, Hsh},
    {"hkeys", 2, R, kR, 1, 1, 1, Hsh},
    {"hlen", 2, R | F, kR, 1, 1, 1, Hsh},
    {"hmget", -3, R | F, kR, 1, 1, 1, Hsh},
    {"hrandfield", -2, R, kR, 1, 1, 1, Hsh},
    {"hscan", -3, R, kR, 1, 1, 1, Hsh},
    {"hset", -4, W | M | F, kR, 1, 1, 1, Hsh},
    {"hsetnx", 4, W | M | F, kR, 1, 1, 1, Hsh},
    {"hstrlen", 3, R | F, kR, 1, 1, 1, Hsh},
    {"hvals", 2, R, kR, 1, 1, 1, Hsh},
    {"lindex", 3, R, kR, 1, 1, 1, Lst},
    {"linsert", 5, W | M, kR, 1, 1, 1, Lst},
    {"llen", 2, R | F, kR, 1, 1, 1, Lst},
    {"lmove", 5, W | M, kR, 1, 2, 1, Lst},
    {"lmpop", -4, W, kK, 0, 0, 0, Lst, 1},
    {"lpop", -2, W | F, kR, 1, 1, 1, Lst},
    {"lpos", -3, R, kR, 1, 1, 1, Lst},
    {"lpush", -3, W | M | F, kR, 1, 1, 1, Lst},
    {"lpushx", -3, W | M | F, kR, 1, 1, 1, Lst},
    {"lrange", 4, R, kR, 1, 1, 1, Lst},
    {"lrem", 4, W, kR, 1, 1, 1, Lst},
    {"lset", 4, W | M, kR, 1, 1, 1, Lst},
    {"ltrim", 4, W, kR, 1, 1, 1, Lst},
    {"rpop", -2, W | F, kR, 1, 1, 1, Lst},
    {"rpush", -3, W | M | F, kR, 1, 1, 1, Lst},
    {"rpushx", -3, W | M | F, kR, 1, 1, 1, Lst},
    {"sadd", -3, W | M | F, kR, 1, 1, 1, Set},
    {"scard", 2, R | F, kR, 1, 1, 1, Set},
    {"sdiff", -2, R, kR, 1, -1, 1, Set},
    {"sdiffstore", -3, W | M, kR, 1, -1, 1, Set},
    {"sinter", -2, R, kR, 1, -1, 1, Set},
    {"sintercard", -3, R, kK, 0, 0, 0, Set, 1},
    {"sinterstore", -3, W | M, kR, 1, -1, 1, Set},
    {"sismember", 3, R | F, kR, 1, 1, 1, Set},
    {"smembers", 2, R, kR, 1, 1, 1, Set},
    {"smismember", -3, R | F, kR, 1, 1, 1, Set},
    {"smove", 4, W | F, kR, 1, 2, 1, Set},
    {"spop", -2, W | F, kR, 1, 1, 1, Set},
    {"srandmember", -2, R, kR, 1, 1, 1, Set},
    {"srem", -3, W | F, kR, 1, 1, 1, Set},
    {"sscan", -3, R, kR, 1, 1, 1, Set},
    {"sunion", -2, R, kR, 1, -1, 1, Set},
    {"sunionstore", -3, W | M, kR, 1, -1, 1, Set},
    {"zadd", -4, W | M | F, kR, 1, 1, 1, Zst},
    {"zcard", 2, R | F, kR, 1, 1, 1, Zst},
    {"zcount", 4, R | F, kR, 1, 1, 1, Zst},
    {"zdiff", -3, R, kK, 0, 0, 0, Zst, 1},
    {"zdiffstore", -4, W | M, kK, 1, 1, 1, Zst, 2},
    {"zincrby", 4, W | M | F, kR, 1, 1, 1, Zst},
    {"zinter", -3, R, kK, 0, 0, 0, Zst, 1},
    {"zintercard", -3, R, kK, 0, 0, 0, Zst, 1},
    {"zinterstore", -4, W | M, kK, 1, 1, 1, Zst, 2},
    {"zlexcount", 4, R | F, kR, 1, 1, 1, Zst},
    {"zmpop", -4, W, kK, 0, 0, 0, Zst, 1},
    {"zmscore", -3, R | F, kR, 1, 1, 1, Zst},
    {"zpopmax", -2, W | F, kR, 1, 1, 1, Zst},
    {"zpopmin", -2, W | F, kR, 1, 1, 1, Zst},
    {"zrandmember", -2, R, kR, 1, 1, 1, Zst},
    {"zrange", -4, R, kR, 1, 1, 1, Zst},
    {"zrangestore", -5, W | M, kR, 1, 2, 1, Zst},
    {"zrank", 3, R | F, kR, 1, 1, 1, Zst},
    {"zrem", -3, W | F, kR, 1, 1, 1, Zst},
    {"zremrangebylex", 4, W, kR, 1, 1, 1, Zst},
    {"zremrangebyrank", 4, W, kR, 1, 1, 1, Zst},
    {"zremrangebyscore", 4, W, kR, 1, 1, 1, Zst},
    {"zrevrank", 3, R | F, kR, 1, 1, 1, Zst},
    {"zscan", -3, R, kR, 1, 1, 1, Zst},
    {"zscore", 3, R | F, kR, 1, 1, 1, Zst},
    {"zunion", -3, R, kK, 0, 0, 0, Zst, 1},
    {"zunionstore", -4, W | M, kK, 1, 1, 1, Zst, 2},
    {"hmset", -4, W | M | F, kR, 1, 1, 1, Hsh},
    {"rpoplpush", 3, W | M, kR, 1, 2, 1, Lst},
    {"zrangebyscore", -4, R, kR, 1, 1, 1, Zst},
    {"zrevrangebyscore", -4, R, kR, 1, 1, 1, Zst},
    {"zrangebylex", -4, R, kR, 1, 1, 1, Zst},
    {"zrevrangebylex", -4, R, kR, 1, 1, 1, Zst},
    {"zrevrange", -4, R, kR, 1, 1, 1, Zst},
    {"blpop", -3, W | S | K, kR, 1, -2, 1, Lst},
    {"brpop", -3, W | S | K, kR, 1, -2, 1, Lst},
    {"blmove", 6, W | M | S | K, kR, 1, 2, 1, Lst},
    {"brpoplpush", 4, W | M | S | K, kR, 1, 2, 1, Lst},
    {"blmpop", -5, W | K, kK, 0, 0, 0, Lst, 2},
    {"bzpopmin", -3, W | S | K | F, kR, 1, -2, 1, Zst},
    {"bzpopmax", -3, W | S | K | F, kR, 1, -2, 1, Zst},
    {"bzmpop", -5, W | K, kK, 0, 0, 0, Zst, 2},
};
constexpr size_t kCount = sizeof(kCommands) / sizeof(kCommands[0]);

// Every subcommand redis-server 7.0 lists for the containers above (COMMAND INFO's tenth
// field), sorted; checked against redis-server by tests/integration/test_command_table.py.
constexpr SubcommandSpec kSubcommands[] = {
    {"client", "caching", 3, G},
    {"client", "getname", 2, G},
    {"client", "getredir", 2, G},
    {"client", "help", 2, G},
    {"client", "id", 2, G},
    {"client", "info", 2, G},
    {"client", "kill", -3, G},
    {"client", "list", -2, G},
    {"client", "no-evict", 3, G},
    {"client", "pause", -3, G},
    {"client", "reply", 3, G},
    {"client", "setname", 3, G},
    {"client", "tracking", -3, G},
    {"client", "trackinginfo", 2, G},
    {"client", "unblock", -3, G},
    {"client", "unpause", 2, G},
    {"command", "count", 2, G},
    {"command", "docs", -2, G},
    {"command", "getkeys", -4, G},
    {"command", "getkeysandflags", -4, G},
    {"command", "help", 2, G},
    {"command", "info", -2, G},
    {"command", "list", -2, G},
    {"config", "get", -3, G},
    {"config", "help", 2, G},
    {"config", "resetstat", 2, G},
    {"config", "rewrite", 2, G},
    {"config", "set", -4, G},
    {"memory", "doctor", 2},
    {"memory", "help", 2, G},
    {"memory", "malloc-stats", 2},
    {"memory", "purge", 2},
    {"memory", "stats", 2},
    {"memory", "usage", -3},
    {"object", "encoding", 3},
    {"object", "freq", 3},
    {"object", "help", 2, G},
    {"object", "idletime", 3},
    {"object", "refcount", 3},
    {"pubsub", "channels", -2, G},
    {"pubsub", "help", 2, G},
    {"pubsub", "numpat", 2, G},
    {"pubsub", "numsub", -2, G},
    {"pubsub", "shardchannels", -2, G},
    {"pubsub", "shardnumsub", -2, G},
    {"script", "debug", 3},
    {"script", "exists", -3},
    {"script", "flush", -2},
    {"script", "help", 2, G},
    {"script", "kill", 2, Y},
    {"script", "load", 3},
    // Redis 7.2's CLIENT SETINFO, which 7.2-era clients send on connect: accepted and ignored
    {"client", "setinfo", 4, G},
};

// Commands of other Redis data types, answered with a clear "strings only" error.
constexpr std::string_view kUnsupported[] = {
    "xadd",
    "xread",
    "xrange",
    "xlen",
    "pfadd",
    "pfcount",
    "pfmerge",
    "setbit",
    "getbit",
    "bitcount",
    "bitop",
    "bitpos",
    "bitfield",
    "geoadd",
    "georadius",
    "geodist",
    "geopos",
    "getrange",
    "setrange",
    "substr",
    "lcs",
};

uint32_t hash_name(std::string_view lower) {
  uint32_t h = 2166136261u;
  for (char c : lower) {
    h ^= static_cast<unsigned char>(c);
    h *= 16777619u;
  }
  return h;
}

// Lower-cases into buf; false when too long to be any command name.
bool lower_name(std::string_view name, char* buf, size_t cap, std::string_view* out) {
  if (name.size() > cap) return false;
  for (size_t i = 0; i < name.size(); ++i) {
    char c = name[i];
    buf[i] = (c >= 'A' && c <= 'Z') ? static_cast<char>(c + 32) : c;
  }
  *out = std::string_view(buf, name.size());
  return true;
}

struct Numbered {
  CommandSpec specs[kCount];
  constexpr Numbered() : specs() {
    for (size_t i = 0; i < kCount; ++i) {
      specs[i] = kCommands[i];
      specs[i].id = static_cast<uint16_t>(i);
    }
  }
};
constexpr Numbered kNumbered{};

}  // namespace

CommandTable::CommandTable() {
  static_assert(kCount * 2 < kBuckets, "command hash table too full");
  memset(buckets_, 0, sizeof buckets_);
  for (size_t i = 0; i < kCount; ++i) {
    uint32_t b = hash_name(kNumbered.specs[i].name) % kBuckets;
    while (buckets_[b] != 0) b = (b + 1) % kBuckets;
    buckets_[b] = static_cast<uint16_t>(i + 1);
  }
}

const CommandSpec* CommandTable::find(std::string_view name) const {
  char buf[32];
  std::string_view lower;
  if (!lower_name(name, buf, sizeof buf, &lower)) return nullptr;
  uint32_t b = hash_name(lower) % kBuckets;
  while (buckets_[b] != 0) {
    const CommandSpec& s = kNumbered.specs[buckets_[b] - 1];
    if (s.name == lower) return &s;
    b = (b + 1) % kBuckets;
  }
  return nullptr;
}

std::span<const CommandSpec> CommandTable::all() const { return {kNumbered.specs, kCount}; }

const SubcommandSpec* CommandTable::find_subcommand(const CommandSpec& container,
                                                    std::string_view name) {
  char buf[32];
  std::string_view lower;
  if (!lower_name(name, buf, sizeof buf, &lower)) return nullptr;
  for (const SubcommandSpec& s : kSubcommands)
    if (s.container == container.name && s.name == lower) return &s;
  return nullptr;
}

bool CommandTable::request_has(const CommandSpec& spec, std::span<const std::string_view> args,
                               Flag flag) {
  if (spec.flags & flag) return true;
  if (!(spec.flags & kContainer) || args.size() < 2) return false;
  const SubcommandSpec* sub = find_subcommand(spec, args[1]);
  return sub != nullptr && (sub->flags & flag);
}

std::string_view group_name(Group g) {
  switch (g) {
    case Group::kGeneric: return "generic";
    case Group::kString: return "string";
    case Group::kList: return "list";
    case Group::kSet: return "set";
    case Group::kSortedSet: return "sorted-set";
    case Group::kHash: return "hash";
    case Group::kPubSub: return "pubsub";
    case Group::kTransactions: return "transactions";
    case Group::kConnection: return "connection";
    case Group::kServer: return "server";
    case Group::kScripting: return "scripting";
  }
  return "server";
}

std::string_view CommandTable::display_name(const CommandSpec* spec,
                                            std::span<const std::string_view> args,
                                            std::span<char> buf) {
  if (spec == nullptr) return "NULL";
  if (!(spec->flags & kContainer) || args.size() < 2) return spec->name;
  const std::string_view sub = args[1];
  if (spec->name.size() + 1 + sub.size() > buf.size()) return spec->name;
  size_t n = 0;
  for (char ch : spec->name) buf[n++] = ch;
  buf[n++] = '|';
  for (char ch : sub) buf[n++] = static_cast<char>(tolower(static_cast<unsigned char>(ch)));
  return std::string_view(buf.data(), n);
}

bool CommandTable::is_unsupported_type_command(std::string_view name) {
  char buf[32];
  std::string_view lower;
  if (!lower_name(name, buf, sizeof buf, &lower)) return false;
  for (std::string_view u : kUnsupported) {
    if (u == lower) return true;
  }
  return false;
}

bool CommandTable::key_positions(const CommandSpec& spec, std::span<const std::string_view> args,
                                 std::vector<int>* out) {
  int argc = static_cast<int>(args.size());
  switch (spec.key_spec) {
    case KeySpec::kNone:
      return true;
    case KeySpec::kRange: {
      int last = spec.last_key < 0 ? argc + spec.last_key : spec.last_key;
      for (int i = spec.first_key; i <= last && i < argc; i += spec.key_step) out->push_back(i);
      return true;
    }
    case KeySpec::kNumkeys: {
      // A fixed key first (ZUNIONSTORE's destination), then numkeys keys after the count.
      if (spec.first_key > 0 && spec.first_key < argc) out->push_back(spec.first_key);
      int at = spec.numkeys_at;
      if (argc <= at) return false;
      auto n = util::parse_int64(args[at]);
      if (!n || *n < 0 || *n > argc - at - 1) return false;
      for (int i = 0; i < *n; ++i) out->push_back(at + 1 + i);
      return true;
    }
  }
  return true;
}

}  // namespace tiercache::command
