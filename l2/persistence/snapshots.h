// tiercache-l2's RDB snapshots: loading at start, SAVE in-process, BGSAVE in a forked child
// (copy-on-write: the parent keeps serving), the `save` rules, and the state INFO persistence,
// LASTSAVE and SHUTDOWN read. Counts changes as a keyspace listener (one per modified key,
// where Redis counts per element).
//
// The child only writes: it closes every inherited descriptor but stdio, resets the stop
// signals, writes dir/temp-<pid>.rdb, fsyncs, renames it onto dir/dbfilename and _exits. It
// never touches the event loop or a socket. The parent reaps it from cron (waitpid WNOHANG).
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include "l2/config.h"
#include "l2/keyspace/keyspace.h"
#include "l2/persistence/rdb_file.h"

namespace tiercache::l2::persistence {

// The reply to a command without the table's kLoading while the file loads (Redis's text).
inline constexpr std::string_view kLoadingError = "LOADING Redis is loading the dataset in memory";

class Snapshots : public KeyspaceListener {
 public:
  // Keeps references to both; they must outlive it.
  Snapshots(Keyspace& ks, const Config& config);
  ~Snapshots() override;

  // Loads dir/dbfilename into the (empty) keyspace, if the file exists. False with *error when
  // it exists but cannot be loaded. Meanwhile loading() is true and `events` (the server
  // letting its loop turn) runs every 2 MB of the file; a false from it stops the load (a
  // shutdown): true then, the keys loaded so far in the keyspace.
  bool load(int64_t now_ms, std::function<bool()> events, std::string* error);
  bool loading() const { return loading_; }
  int64_t loading_start_time() const { return loading_start_time_; }  // unix seconds
  const LoadProgress& load_progress() const { return progress_; }

  // SAVE: writes the snapshot now. False with *error.
  bool save(int64_t now_ms, uint64_t used_memory, std::string* error);

  enum class Bg { kStarted, kInProgress, kFailed };
  // BGSAVE: forks a child that writes the snapshot.
  Bg bgsave(int64_t now_ms, uint64_t used_memory);
  // BGSAVE SCHEDULE while a child runs: another BGSAVE starts when it ends.
  void schedule() { scheduled_ = true; }

  // Every cron tick: reaps a finished child, runs a scheduled BGSAVE or one the rules call for.
  void cron(int64_t now_ms, uint64_t used_memory);

  // Kills a running child and removes its temp file (SHUTDOWN, FLUSHALL).
  void kill_child();
  // Saves at shutdown as Redis does: when `save` rules are set (or force_save) and not nosave,
  // never while loading (it would overwrite the file with half of it). False with *error when
  // the save failed.
  bool shutdown_save(int64_t now_ms, uint64_t used_memory, bool force_save, bool nosave,
                     std::string* error);

  bool child_running() const { return child_pid_ > 0; }
  uint64_t dirty() const { return dirty_; }
  int64_t last_save_unix() const { return last_save_ms_ / 1000; }
  bool last_bgsave_ok() const { return last_bgsave_ok_; }
  int64_t last_bgsave_time_sec() const { return last_bgsave_time_sec_; }
  int64_t current_bgsave_time_sec(int64_t now_ms) const {
    return child_running() ? (now_ms - child_start_ms_) / 1000 : -1;
  }
  uint64_t saves() const { return saves_; }
  uint64_t latest_fork_usec() const { return latest_fork_usec_; }
  const LoadStats& last_load() const { return last_load_; }

  // KeyspaceListener
  void on_key_modified(int db, std::string_view key, ModifiedBy by) override;
  void on_flushed(int db) override;

 private:
  std::string path() const { return config_.dir + "/" + config_.dbfilename; }
  SaveOptions options(int64_t now_ms, uint64_t used_memory) const;
  void reaped(int status, int64_t now_ms);

  Keyspace& ks_;
  const Config& config_;
  uint64_t dirty_ = 0;
  uint64_t dirty_at_fork_ = 0;
  int64_t last_save_ms_ = 0;
  int64_t last_try_ms_ = 0;
  bool last_bgsave_ok_ = true;
  int64_t last_bgsave_time_sec_ = -1;
  uint64_t saves_ = 0;
  uint64_t latest_fork_usec_ = 0;
  pid_t child_pid_ = -1;
  int64_t child_start_ms_ = 0;
  bool scheduled_ = false;
  LoadStats last_load_;
  bool loading_ = false;
  int64_t loading_start_time_ = 0;
  LoadProgress progress_;
};

}  // namespace tiercache::l2::persistence
