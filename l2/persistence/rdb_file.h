// Whole RDB files: the keyspace written as Redis 7.0's RDB version 10 (header, AUX fields, per
// db SELECTDB + RESIZEDB, keys with absolute ms expiry, EOF, CRC64) and read back from the
// bytes of any RDB Redis 7.0 writes. Errors are return values; the loader is a parser of
// untrusted bytes.
#pragma once

#include <cstdint>
#include <functional>
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

// A load in progress, as INFO shows it (Redis's loading_* fields). The loader keeps the
// numbers and calls events() every interval_bytes of the file it parses (Redis's
// loading-process-events-interval-bytes): tiercache-l2 lets its loop turn there. events()
// returning false stops the load (a shutdown while loading). key_delay_us: Redis's
// key-load-delay, slept after each key object (loaded or skipped); -N sleeps 1 us with
// probability 1/N, as Redis's debugDelay.
struct LoadProgress {
  uint64_t interval_bytes = 2 << 20;
  int64_t key_delay_us = 0;
  uint64_t total_bytes = 0;   // the file's size
  uint64_t rdb_used_mem = 0;  // the file's "used-mem" AUX field
  uint64_t loaded_bytes = 0;  // parsed so far
  bool stopped = false;       // events() said stop
  std::function<bool()> events;
};

// Loads an RDB image into ks (which should be empty). False with *error (what and where) when
// the data is malformed or holds what tiercache-l2 cannot store (streams, modules, functions);
// the keys loaded before the error stay in ks. With progress, true when events() stopped it
// (progress->stopped), the keys loaded so far in ks.
bool load_rdb(std::string_view data, Keyspace& ks, int64_t now_ms, LoadStats* stats,
              std::string* error, LoadProgress* progress = nullptr);

// Maps the file and runs load_rdb on it. kLoaded also when progress->events() stopped it.
enum class LoadFile { kLoaded, kMissing, kFailed };
LoadFile load_file(const std::string& path, Keyspace& ks, int64_t now_ms, LoadStats* stats,
                   std::string* error, LoadProgress* progress = nullptr);

}  // namespace tiercache::l2::persistence
