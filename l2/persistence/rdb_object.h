// One keyspace value <-> its RDB bytes: the object codec that the RDB file writer and loader
// and DUMP/RESTORE all use (one implementation). Writing uses the plain types (string, list,
// set, zset-2, hash), which every Redis since 4.0 loads; reading accepts every type Redis 7.0
// writes or loads from older files (listpack, intset, ziplist, quicklist) except streams and
// modules, which are refused with a clear error.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "l2/keyspace/entry.h"
#include "l2/keyspace/keyspace.h"
#include "l2/persistence/rdb_reader.h"

namespace tiercache::l2::persistence {

// How strings are written (CONFIG rdbcompression). One per process, as the encoding limits: the
// server's thread sets it, a BGSAVE child inherits it.
struct RdbWriteOptions {
  bool compression = true;  // LZF for strings longer than 20 bytes when it saves space
};
RdbWriteOptions& rdb_write_options();

// Appends an RDB length / string as Redis encodes them (small integers as int encodings, long
// strings LZF-compressed when rdb_write_options() says so and it saves space).
void put_length(std::string& out, uint64_t len);
void put_string(std::string& out, std::string_view s);

// Appends e's type byte and value.
void put_object(std::string& out, const Entry& e);

// A value read from RDB bytes, before it enters the keyspace.
struct Decoded {
  ValueType type = ValueType::kString;
  std::string str;                 // kString
  std::vector<std::string> items;  // list elements, set members, hash field/value pairs,
                                   // sorted-set members
  std::vector<double> scores;      // kZSet, one per member
  bool empty() const { return type == ValueType::kString ? false : items.empty(); }
};

// Reads the value of RDB object type `rdb_type` (the type byte, already read). False with the
// reader's error set when malformed or unsupported (streams, modules).
bool read_object(Reader& r, uint8_t rdb_type, Decoded* out);
// True when t is an object type byte (not an opcode).
bool is_object_type(uint8_t t);

// Creates key in db from d (key must be absent; d not empty). expire_at is unix ms, 0 = none.
// False with *error on duplicate members (the value is not created then).
bool install(Keyspace& ks, int db, std::string_view key, Decoded&& d, int64_t expire_at,
             std::string* error);

// DUMP: the object, the RDB version (2 bytes LE) and a CRC64 of all that (8 bytes LE).
std::string dump_payload(const Entry& e);

enum class PayloadStatus { kOk, kBadVersionOrChecksum, kBadFormat };
// RESTORE's checks and decoding, as Redis's verifyDumpPayload + rdbLoadObject.
PayloadStatus read_payload(std::string_view payload, Decoded* out);

}  // namespace tiercache::l2::persistence
