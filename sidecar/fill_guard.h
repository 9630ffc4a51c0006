// The fill guard: whether a value fetched from the L2 may go into L1 once its fetch ends. A
// fetch takes stamp() when it starts and is registered (started ... finished) while in flight;
// every invalidation advances one sequence and records, per scope, when it last happened: per
// key (only keys with a fetch in flight are remembered), per db, and for everything. allows()
// refuses a fill when anything covering the key was invalidated after the fetch's stamp. Also
// remembers the dbs fetches ran in (a key reported without its db is dropped in each).
// Hash slots (a cluster behind the sidecar) are one more scope: a "flushed at" per slot, kept
// (and the key's slot computed in allows()) only once a slot was dropped.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace tiercache::sidecar {

// Encodes (db, key) as one map key.
void guard_key(std::string& out, int db, std::string_view key);

class FillGuard {
 public:
  // The current point in the invalidation sequence (a fetch's stamp).
  uint64_t stamp() const { return seq_; }
  // Nothing covering (db, key) was invalidated after `stamp`. No allocation.
  bool allows(int db, std::string_view key, uint64_t stamp);
  // Everything was invalidated after `stamp` (allows() is then false for every key).
  bool all_flushed_after(uint64_t stamp) const { return all_flushed_at_ > stamp; }
  // A fetch of (db, key) begins / has ended (after its fill). Counted: several may overlap.
  void started(int db, std::string_view key);
  void finished(int db, std::string_view key);
  // Invalidations: one key, one db, everything (also what fail-safe uses to refuse the fills
  // of fetches begun before it, without a flush).
  void key_invalidated(int db, std::string_view key);
  void db_flushed(uint32_t db);
  void all_flushed();
  // Every key of this hash slot (sidecar/cluster/slot.h), in every db.
  void slot_flushed(uint16_t slot);
  // The dbs a fetch ever ran in, in first-use order.
  const std::vector<int>& used_dbs() const { return used_dbs_; }
  // Keys with a fetch in flight.
  size_t fetches_in_flight() const { return guards_.size(); }

 private:
  struct Entry {
    uint32_t fetches = 0;
    uint64_t invalidated_at = 0;
  };
  uint64_t seq_ = 0;
  uint64_t all_flushed_at_ = 0;
  std::vector<uint64_t> db_flushed_at_;
  std::vector<uint64_t> slot_flushed_at_;  // empty until a slot is flushed, then per slot
  std::vector<uint8_t> db_used_;
  std::vector<int> used_dbs_;
  std::unordered_map<std::string, Entry> guards_;  // (db, key) with fetches in flight
  std::string key_scratch_;                        // guard keys, reused
};

}  // namespace tiercache::sidecar
