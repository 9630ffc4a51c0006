// Whole RDB files: the keyspace written as Redis 7.0's RDB version 10 (header, AUX fields, per
// db SELECTDB + RESIZEDB, keys with absolute ms expiry, EOF, CRC64) and read back from the
// bytes of any RDB Redis 7.0 writes. Errors are return values; the loader is a parser of
// untrusted bytes.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "l2/keyspace/keyspace.h"

namespace tiercache::l2::persistence {

struct SaveOptions {
  int64_t now_ms = 0;       // the "ctime" AUX field
  uint64_t used_memory = 0; // the "used-mem" AUX field
  uint64_t key_delay_us = 0;  // sleep per key (rdb-key-save-delay: tests of a slow BGSAVE)
};

// Writes the whole keyspace to fd. False with *error on a write failure.
bool write_rdb(int fd, const Keyspace& ks, const SaveOptions& opts, std::string* error);
// The same bytes in memory (unit tests, fuzz seeds).
std::string rdb_bytes(const Keyspace& ks, const SaveOptions& opts);

// Writes dir/temp-<pid>.rdb, fsyncs it and renames it onto dir/filename, so a crash at any
// point leaves the previous file whole. False with *error.
bool save_file(const std::string& dir, const std::string& filename, const Keyspace& ks,
               const SaveOptions& opts, std::string* error);

struct LoadStats {
  uint64_t keys_loaded = 0;
  uint64_t keys_expired = 0;  // skipped: already expired at now_ms
  uint64_t empty_keys = 0;    // skipped: empty collections
};

// Loads an RDB image into ks (which should be empty). False with *error (what and where) when
// the data is malformed or holds what tiercache-l2 cannot store (streams, modules, functions);
// the keys loaded before the error stay in ks.
bool load_rdb(std::string_view data, Keyspace& ks, int64_t now_ms, LoadStats* stats,
              std::string* error);

enum class LoadFile { kLoaded, kMissing, kFailed };
LoadFile load_file(const std::string& path, Keyspace& ks, int64_t now_ms, LoadStats* stats,
                   std::string* error);

}  // namespace tiercache::l2::persistence
