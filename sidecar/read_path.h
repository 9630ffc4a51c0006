// The read path: GET, MGET, EXISTS and STRLEN answered from L1 when L1 may answer (the source
// of invalidations healthy, or fail-safe's stale window), misses fetched from the L2 with
// single flight per (db, key) (one GET + PTTL in flight, later readers join), MGET split over
// L1 hits and one L2 MGET for the rest, EXISTS over L1 answers and one EXISTS per unknown key.
// A fetched value goes into L1 only through the fill guard (fill_guard.h): not if the key (its
// db, or everything) was invalidated meanwhile; a key the L2 said is absent (PTTL -2, EXISTS 0)
// goes in as a negative entry (--l1-negative) through the same guard. Also where invalidations
// land (local writes, other hosts' through the source): keys and dbs dropped from L1, from the
// guard's point of view, and from the flights later readers may join.
// It owns the operations in flight (by id) and its scratch buffers; what it needs of the rest
// of the sidecar comes through ReadHost.
// Scopes dropped: a key, a db, everything, and hash slots (a cluster's source, per master:
// invalidate_slots, an O(1) L1 drop per slot). Each is an L1 drop of that scope, a FillGuard
// record, end_joinable_if over its flights. While a slot's source is down (ReadHost::
// key_followed false) its keys are neither answered from L1 nor filled.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "l1/store.h"
#include "shared/net/connection.h"
#include "sidecar/config.h"
#include "sidecar/fill_guard.h"
#include "sidecar/invalidation/message.h"
#include "sidecar/link/l2_link.h"
#include "sidecar/stats.h"

namespace tiercache::sidecar {

// Whether a read may be answered from L1 now: kServe while the source of invalidations is
// healthy; kStale in fail-safe (the L2 unreachable, --stale-if-error-ms) while L1 was last
// vouched for within the window; else kOff (reads go to the L2).
enum class L1Use { kOff, kServe, kStale };

// What the read path needs of the sidecar around it (Sidecar implements it; unit tests fake it).
class ReadHost {
 public:
  virtual ~ReadHost() = default;
  virtual l1::Store& l1() = 0;
  virtual L1Use l1_use() const = 0;
  // Fills may go into L1 at all (the source of invalidations is healthy).
  virtual bool l1_serving() const = 0;
  // The source of invalidations reports writes of this key (--track-prefix).
  virtual bool tracks(std::string_view key) const = 0;
  // The source follows this key's hash slot now (a cluster's, per master: its master's
  // tracking is set up). Only a per-slot source says false; L1 then bypasses the key.
  virtual bool key_followed(std::string_view key) const {
    (void)key;
    return true;
  }
  // A key not followed may still be answered from L1 as stale (fail-safe for its slot only:
  // its master is away and was vouched for within the window); it is never filled.
  virtual bool key_stale_ok(std::string_view key) const {
    (void)key;
    return false;
  }
  // Sends a request for a client of `db` in request order (the pending write batch first). The
  // link owns `done`; on failure it has been answered with nullptr. False when L2 is down.
  virtual bool send(int db, std::span<const std::string_view> args,
                    std::unique_ptr<Completion> done) = 0;
  // The connection with this id if it is still open, else nullptr.
  virtual net::Connection* connection(uint64_t id) = 0;
  // Writes an L2 failure reply ("-ERR tiercache: L2 unavailable: ...").
  virtual void write_l2_error(std::string& out) = 0;
};

class ReadPath {
 public:
  ReadPath(ReadHost& host, const Config& config, SidecarStats& stats);
  ~ReadPath();
  ReadPath(const ReadPath&) = delete;
  ReadPath& operator=(const ReadPath&) = delete;

  // The commands, for connection c in db. A hit is answered at once (no allocation); a miss
  // defers c's reply to the L2's answer. exists/strlen return false, having answered nothing,
  // when the caller should relay the command to the L2 as it is.
  void get(net::Connection& c, int db, std::string_view key);
  void mget(net::Connection& c, int db, std::span<const std::string_view> args);
  bool exists(net::Connection& c, int db, std::span<const std::string_view> args);
  bool strlen(net::Connection& c, int db, std::span<const std::string_view> args);

  // One L1 lookup of a read, counted (hit, negative hit, stale answer, miss, bypass): kMiss
  // when L1 may not answer now (use == kOff).
  l1::GetResult l1_lookup(L1Use use, int db, std::string_view key, std::string* value);

  // Fill guard. A fetch records guard_stamp() when it starts; its value may go into L1 only if
  // fill_allowed() says nothing invalidated the key (or its db, or all) since, the source is
  // healthy and tracks the key.
  uint64_t guard_stamp() const { return guard_.stamp(); }
  bool fill_allowed(int db, std::string_view key, uint64_t stamp);
  void fetch_started(int db, std::string_view key) { guard_.started(db, key); }
  void fetch_finished(int db, std::string_view key) { guard_.finished(db, key); }

  // Invalidations: drop keys / dbs from L1, from the fill guard's point of view, and from the
  // flights later readers may join.
  void invalidate(const std::vector<invalidation::Group>& groups);
  void invalidate_key(int db, std::string_view key);
  // A key reported without its db (CLIENT TRACKING): in every db a fetch ever ran in.
  void invalidate_key_in_every_db(std::string_view key);
  void invalidate_db(uint32_t db);  // invalidation::kAllDbs for all
  // Every key of these hash slots (db 0 in L1; the guard and flights in every db). All of L1
  // when it has no per-slot generations.
  void invalidate_slots(std::span<const uint16_t> slots);
  // Fail-safe begins: fills of fetches begun before now must not land, as after a flush, but
  // L1 is kept.
  void refuse_fills_in_flight();

  // Operations in flight (GET flights, MGET and EXISTS splits).
  size_t in_flight() const;

 private:
  struct Flight;
  struct MgetState;
  struct ExistsState;
  class FlightGetOp;
  class FlightTtlOp;
  class MgetFetchOp;
  class MgetTtlOp;
  class ExistsOp;

  void start_flight(int db, std::string_view key, uint64_t conn_id, uint64_t ticket);
  // Puts a fetched value (a negative entry) into L1 if the guard allows it.
  void fill(int db, const std::string& key, const std::string& value, uint64_t ttl, uint64_t stamp);
  void fill_absent(int db, const std::string& key, uint64_t stamp);
  // Ends joinability (later readers fetch afresh) of every flight `ends(flight)` selects.
  template <class Pred>
  void end_joinable_if(Pred ends);
  // Reads in flight, by id: nullptr once ended. take_* ends one and hands it over (not its
  // fill guard entry: the caller calls fetch_finished after its fill).
  Flight* flight(uint64_t id);
  std::unique_ptr<Flight> take_flight(uint64_t id);
  MgetState* mget_op(uint64_t id);
  std::unique_ptr<MgetState> take_mget(uint64_t id);
  ExistsState* exists_op(uint64_t id);
  std::unique_ptr<ExistsState> take_exists(uint64_t id);

  ReadHost& host_;
  const Config& config_;
  SidecarStats& stats_;
  FillGuard guard_;
  uint64_t next_op_id_ = 1;
  std::unordered_map<uint64_t, std::unique_ptr<Flight>> flights_;      // GETs in flight
  std::unordered_map<std::string, uint64_t> joinable_;                 // (db,key) -> flight
  std::unordered_map<uint64_t, std::unique_ptr<MgetState>> mgets_;     // MGET splits in flight
  std::unordered_map<uint64_t, std::unique_ptr<ExistsState>> exists_;  // EXISTS splits
  std::string key_scratch_;                                            // joinable keys, reused
  std::string value_scratch_;             // L1 values of GET/EXISTS/STRLEN hits, reused
  std::vector<std::string> mget_values_;  // MGET's L1 values, reused (no allocation on hits)
  std::vector<uint8_t> mget_hit_;
  std::vector<size_t> exists_unknown_;  // EXISTS's keys L1 cannot answer, reused
};

}  // namespace tiercache::sidecar
