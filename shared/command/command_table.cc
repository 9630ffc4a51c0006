// The command table (see command_table.h). Adding a command is one row here.
#include "shared/command/command_table.h"

#include <cstdlib>
#include <cstring>

#include "shared/util/numbers.h"

namespace tiercache::command {
namespace {

constexpr uint32_t R = kRead, W = kWrite, A = kAdmin, P = kPubSub, M = kDenyOom, N = kNoAuth,
                   S = kNoScript, F = kFast, B = kSubscribed, L = kFlush,
                   E = kScripting, T = kTransaction, Q = kNotQueued,
                   D = kAllDbs, K = kBlocking, C = kContainer, O = kOtherDb, X = kNoMulti;
constexpr KeySpec kN = KeySpec::kNone, kR = KeySpec::kRange, kK = KeySpec::kNumkeys;

// name, arity, flags, key spec, first, last, step, id (filled in by position), numkeys index
// (kK rows only).
constexpr CommandSpec kCommands[] = {
    {"ping", -1, F | B, kN, 0, 0, 0, 0},
    {"echo", 2, F, kN, 0, 0, 0, 0},
    {"select", 2, F, kN, 0, 0, 0, 0},
    {"quit", -1, N | S | F | B | Q, kN, 0, 0, 0, 0},
    {"auth", -2, N | S | F, kN, 0, 0, 0, 0},
    {"hello", -1, N | S | F, kN, 0, 0, 0, 0},
    {"reset", 1, N | S | F | B | Q, kN, 0, 0, 0, 0},
    {"client", -2, A | S | C, kN, 0, 0, 0, 0},
    {"command", -1, C, kN, 0, 0, 0, 0},
    {"config", -2, A | S | C, kN, 0, 0, 0, 0},
    {"info", -1, 0, kN, 0, 0, 0, 0},
    {"time", 1, F, kN, 0, 0, 0, 0},
    {"dbsize", 1, R | F, kN, 0, 0, 0, 0},
    {"get", 2, R | F, kR, 1, 1, 1, 0},
    {"set", -3, W | M, kR, 1, 1, 1, 0},
    {"setnx", 3, W | M | F, kR, 1, 1, 1, 0},
    {"setex", 4, W | M, kR, 1, 1, 1, 0},
    {"psetex", 4, W | M, kR, 1, 1, 1, 0},
    {"getset", 3, W | M | F, kR, 1, 1, 1, 0},
    {"getdel", 2, W | F, kR, 1, 1, 1, 0},
    {"getex", -2, W | F, kR, 1, 1, 1, 0},
    {"mget", -2, R | F, kR, 1, -1, 1, 0},
    {"mset", -3, W | M, kR, 1, -1, 2, 0},
    {"msetnx", -3, W | M, kR, 1, -1, 2, 0},
    {"append", 3, W | M | F, kR, 1, 1, 1, 0},
    {"strlen", 2, R | F, kR, 1, 1, 1, 0},
    {"incr", 2, W | M | F, kR, 1, 1, 1, 0},
    {"decr", 2, W | M | F, kR, 1, 1, 1, 0},
    {"incrby", 3, W | M | F, kR, 1, 1, 1, 0},
    {"decrby", 3, W | M | F, kR, 1, 1, 1, 0},
    {"incrbyfloat", 3, W | M | F, kR, 1, 1, 1, 0},
    {"del", -2, W, kR, 1, -1, 1, 0},
    {"unlink", -2, W | F, kR, 1, -1, 1, 0},
    {"exists", -2, R | F, kR, 1, -1, 1, 0},
    {"type", 2, R | F, kR, 1, 1, 1, 0},
    {"rename", 3, W, kR, 1, 2, 1, 0},
    {"renamenx", 3, W | F, kR, 1, 2, 1, 0},
    {"copy", -3, W | M | O, kR, 1, 2, 1, 0},
    {"move", 3, W | F | O, kR, 1, 1, 1, 0},
    {"expire", -3, W | F, kR, 1, 1, 1, 0},
    {"pexpire", -3, W | F, kR, 1, 1, 1, 0},
    {"expireat", -3, W | F, kR, 1, 1, 1, 0},
    {"pexpireat", -3, W | F, kR, 1, 1, 1, 0},
    {"expiretime", 2, R | F, kR, 1, 1, 1, 0},
    {"pexpiretime", 2, R | F, kR, 1, 1, 1, 0},
    {"ttl", 2, R | F, kR, 1, 1, 1, 0},
    {"pttl", 2, R | F, kR, 1, 1, 1, 0},
    {"persist", 2, W | F, kR, 1, 1, 1, 0},
    {"touch", -2, R | F, kR, 1, -1, 1, 0},
    {"keys", 2, R, kN, 0, 0, 0, 0},
    {"scan", -2, R, kN, 0, 0, 0, 0},
    {"randomkey", 1, R, kN, 0, 0, 0, 0},
    {"flushdb", -1, W | L, kN, 0, 0, 0, 0},
    {"flushall", -1, W | L | D, kN, 0, 0, 0, 0},
    {"multi", 1, S | F | T | Q, kN, 0, 0, 0, 0},
    {"exec", 1, S | T | Q, kN, 0, 0, 0, 0},
    {"discard", 1, S | F | T | Q, kN, 0, 0, 0, 0},
    {"watch", -2, S | F | T | Q, kR, 1, -1, 1, 0},
    {"unwatch", 1, S | F | T, kN, 0, 0, 0, 0},
    {"publish", 3, P | F, kN, 0, 0, 0, 0},
    {"subscribe", -2, P | S | B, kN, 0, 0, 0, 0},
    {"unsubscribe", -1, P | S | B, kN, 0, 0, 0, 0},
    {"psubscribe", -2, P | S | B, kN, 0, 0, 0, 0},
    {"punsubscribe", -1, P | S | B, kN, 0, 0, 0, 0},
    {"pubsub", -2, P | C, kN, 0, 0, 0, 0},
    {"eval", -3, S | M | E, kK, 0, 0, 0, 0, 2},
    {"evalsha", -3, S | M | E, kK, 0, 0, 0, 0, 2},
    {"eval_ro", -3, S | R | E, kK, 0, 0, 0, 0, 2},
    {"evalsha_ro", -3, S | R | E, kK, 0, 0, 0, 0, 2},
    {"script", -2, S | C, kN, 0, 0, 0, 0},
    {"object", -2, C, kN, 0, 0, 0, 0},
    {"memory", -2, C, kN, 0, 0, 0, 0},
    // Persistence (RDB snapshots) and DUMP/RESTORE: rows as redis-server 7.0's COMMAND INFO.
    {"save", 1, A | S | X, kN, 0, 0, 0, 0},
    {"bgsave", -1, A | S, kN, 0, 0, 0, 0},
    {"lastsave", 1, F, kN, 0, 0, 0, 0},
    {"shutdown", -1, A | S | X, kN, 0, 0, 0, 0},
    {"dump", 2, R, kR, 1, 1, 1, 0},
    {"restore", -4, W | M, kR, 1, 1, 1, 0},
    // Hashes, lists, sets and sorted sets: rows as redis-server 7.0's COMMAND INFO (checked by
    // tests/integration/test_types_command_table.py).
    {"hdel", -3, W | F, kR, 1, 1, 1, 0},
    {"hexists", 3, R | F, kR, 1, 1, 1, 0},
    {"hget", 3, R | F, kR, 1, 1, 1, 0},
    {"hgetall", 2, R, kR, 1, 1, 1, 0},
    {"hincrby", 4, W | M | F, kR, 1, 1, 1, 0},
    {"hincrbyfloat", 4, W | M | F, kR, 1, 1, 1, 0},
    {"hkeys", 2, R, kR, 1, 1, 1, 0},
    {"hlen", 2, R | F, kR, 1, 1, 1, 0},
    {"hmget", -3, R | F, kR, 1, 1, 1, 0},
    {"hrandfield", -2, R, kR, 1, 1, 1, 0},
    {"hscan", -3, R, kR, 1, 1, 1, 0},
    {"hset", -4, W | M | F, kR, 1, 1, 1, 0},
    {"hsetnx", 4, W | M | F, kR, 1, 1, 1, 0},
    {"hstrlen", 3, R | F, kR, 1, 1, 1, 0},
    {"hvals", 2, R, kR, 1, 1, 1, 0},
    {"lindex", 3, R, kR, 1, 1, 1, 0},
    {"linsert", 5, W | M, kR, 1, 1, 1, 0},
    {"llen", 2, R | F, kR, 1, 1, 1, 0},
    {"lmove", 5, W | M, kR, 1, 2, 1, 0},
    {"lmpop", -4, W, kK, 0, 0, 0, 0, 1},
    {"lpop", -2, W | F, kR, 1, 1, 1, 0},
    {"lpos", -3, R, kR, 1, 1, 1, 0},
    {"lpush", -3, W | M | F, kR, 1, 1, 1, 0},
    {"lpushx", -3, W | M | F, kR, 1, 1, 1, 0},
    {"lrange", 4, R, kR, 1, 1, 1, 0},
    {"lrem", 4, W, kR, 1, 1, 1, 0},
    {"lset", 4, W | M, kR, 1, 1, 1, 0},
    {"ltrim", 4, W, kR, 1, 1, 1, 0},
    {"rpop", -2, W | F, kR, 1, 1, 1, 0},
    {"rpush", -3, W | M | F, kR, 1, 1, 1, 0},
    {"rpushx", -3, W | M | F, kR, 1, 1, 1, 0},
    {"sadd", -3, W | M | F, kR, 1, 1, 1, 0},
    {"scard", 2, R | F, kR, 1, 1, 1, 0},
    {"sdiff", -2, R, kR, 1, -1, 1, 0},
    {"sdiffstore", -3, W | M, kR, 1, -1, 1, 0},
    {"sinter", -2, R, kR, 1, -1, 1, 0},
    {"sintercard", -3, R, kK, 0, 0, 0, 0, 1},
    {"sinterstore", -3, W | M, kR, 1, -1, 1, 0},
    {"sismember", 3, R | F, kR, 1, 1, 1, 0},
    {"smembers", 2, R, kR, 1, 1, 1, 0},
    {"smismember", -3, R | F, kR, 1, 1, 1, 0},
    {"smove", 4, W | F, kR, 1, 2, 1, 0},
    {"spop", -2, W | F, kR, 1, 1, 1, 0},
    {"srandmember", -2, R, kR, 1, 1, 1, 0},
    {"srem", -3, W | F, kR, 1, 1, 1, 0},
    {"sscan", -3, R, kR, 1, 1, 1, 0},
    {"sunion", -2, R, kR, 1, -1, 1, 0},
    {"sunionstore", -3, W | M, kR, 1, -1, 1, 0},
    {"zadd", -4, W | M | F, kR, 1, 1, 1, 0},
    {"zcard", 2, R | F, kR, 1, 1, 1, 0},
    {"zcount", 4, R | F, kR, 1, 1, 1, 0},
    {"zdiff", -3, R, kK, 0, 0, 0, 0, 1},
    {"zdiffstore", -4, W | M, kK, 1, 1, 1, 0, 2},
    {"zincrby", 4, W | M | F, kR, 1, 1, 1, 0},
    {"zinter", -3, R, kK, 0, 0, 0, 0, 1},
    {"zintercard", -3, R, kK, 0, 0, 0, 0, 1},
    {"zinterstore", -4, W | M, kK, 1, 1, 1, 0, 2},
    {"zlexcount", 4, R | F, kR, 1, 1, 1, 0},
    {"zmpop", -4, W, kK, 0, 0, 0, 0, 1},
    {"zmscore", -3, R | F, kR, 1, 1, 1, 0},
    {"zpopmax", -2, W | F, kR, 1, 1, 1, 0},
    {"zpopmin", -2, W | F, kR, 1, 1, 1, 0},
    {"zrandmember", -2, R, kR, 1, 1, 1, 0},
    {"zrange", -4, R, kR, 1, 1, 1, 0},
    {"zrangestore", -5, W | M, kR, 1, 2, 1, 0},
    {"zrank", 3, R | F, kR, 1, 1, 1, 0},
    {"zrem", -3, W | F, kR, 1, 1, 1, 0},
    {"zremrangebylex", 4, W, kR, 1, 1, 1, 0},
    {"zremrangebyrank", 4, W, kR, 1, 1, 1, 0},
    {"zremrangebyscore", 4, W, kR, 1, 1, 1, 0},
    {"zrevrank", 3, R | F, kR, 1, 1, 1, 0},
    {"zscan", -3, R, kR, 1, 1, 1, 0},
    {"zscore", 3, R | F, kR, 1, 1, 1, 0},
    {"zunion", -3, R, kK, 0, 0, 0, 0, 1},
    {"zunionstore", -4, W | M, kK, 1, 1, 1, 0, 2},
    {"hmset", -4, W | M | F, kR, 1, 1, 1, 0},
    {"rpoplpush", 3, W | M, kR, 1, 2, 1, 0},
    {"zrangebyscore", -4, R, kR, 1, 1, 1, 0},
    {"zrevrangebyscore", -4, R, kR, 1, 1, 1, 0},
    {"zrangebylex", -4, R, kR, 1, 1, 1, 0},
    {"zrevrangebylex", -4, R, kR, 1, 1, 1, 0},
    {"zrevrange", -4, R, kR, 1, 1, 1, 0},
    {"blpop", -3, W | S | K, kR, 1, -2, 1, 0},
    {"brpop", -3, W | S | K, kR, 1, -2, 1, 0},
    {"blmove", 6, W | M | S | K, kR, 1, 2, 1, 0},
    {"brpoplpush", 4, W | M | S | K, kR, 1, 2, 1, 0},
    {"blmpop", -5, W | K, kK, 0, 0, 0, 0, 2},
    {"bzpopmin", -3, W | S | K | F, kR, 1, -2, 1, 0},
    {"bzpopmax", -3, W | S | K | F, kR, 1, -2, 1, 0},
    {"bzmpop", -5, W | K, kK, 0, 0, 0, 0, 2},
};
constexpr size_t kCount = sizeof(kCommands) / sizeof(kCommands[0]);

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
