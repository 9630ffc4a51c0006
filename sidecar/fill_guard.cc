// The fill guard (see fill_guard.h): the invalidation sequence and its per-key, per-db and
// global records.
#include "sidecar/fill_guard.h"

#include "sidecar/cluster/slot.h"

namespace tiercache::sidecar {

void guard_key(std::string& out, int db, std::string_view key) {
  out.clear();
  out.append(reinterpret_cast<const char*>(&db), sizeof db);
  out.append(key);
}

bool FillGuard::allows(int db, std::string_view key, uint64_t stamp) {
  if (all_flushed_at_ > stamp) return false;
  if (static_cast<size_t>(db) < db_flushed_at_.size() && db_flushed_at_[db] > stamp) return false;
  if (!slot_flushed_at_.empty() && slot_flushed_at_[cluster::key_slot(key)] > stamp) return false;
  guard_key(key_scratch_, db, key);  // the reused buffer: no allocation per completed fetch
  auto it = guards_.find(key_scratch_);
  return it == guards_.end() || it->second.invalidated_at <= stamp;
}

void FillGuard::started(int db, std::string_view key) {
  if (db_used_.size() <= static_cast<size_t>(db)) db_used_.resize(db + 1, 0);
  if (!db_used_[db]) {
    db_used_[db] = 1;
    used_dbs_.push_back(db);
  }
  guard_key(key_scratch_, db, key);
  guards_[key_scratch_].fetches++;
}

void FillGuard::finished(int db, std::string_view key) {
  guard_key(key_scratch_, db, key);
  auto it = guards_.find(key_scratch_);
  if (it != guards_.end() && --it->second.fetches == 0) guards_.erase(it);
}

void FillGuard::key_invalidated(int db, std::string_view key) {
  ++seq_;
  if (guards_.empty()) return;
  guard_key(key_scratch_, db, key);
  if (auto it = guards_.find(key_scratch_); it != guards_.end()) it->second.invalidated_at = seq_;
}

void FillGuard::db_flushed(uint32_t db) {
  ++seq_;
  if (db_flushed_at_.size() <= db) db_flushed_at_.resize(db + 1, 0);
  db_flushed_at_[db] = seq_;
}

void FillGuard::all_flushed() { all_flushed_at_ = ++seq_; }

void FillGuard::slot_flushed(uint16_t slot) {
  if (slot >= cluster::kSlots) return;
  if (slot_flushed_at_.empty()) slot_flushed_at_.assign(cluster::kSlots, 0);
  slot_flushed_at_[slot] = ++seq_;
}

}  // namespace tiercache::sidecar
