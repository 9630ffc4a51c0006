// RDB snapshots (see snapshots.h): SAVE, the BGSAVE child, the save rules.
#include "l2/persistence/snapshots.h"

#include <signal.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cstring>

#include "shared/log/log.h"

namespace tiercache::l2::persistence {
namespace {

constexpr int64_t kRetryAfterFailureMs = 5000;  // as Redis's CONFIG_BGSAVE_RETRY_DELAY

int64_t wall_ms() {
  timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1000 + ts.tv_nsec / 1000000;
}

uint64_t mono_us() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1000000 + static_cast<uint64_t>(ts.tv_nsec) / 1000;
}

// The BGSAVE child: write, rename, _exit. Nothing else of the parent's is touched.
[[noreturn]] void child_main(const Keyspace& ks, const std::string& dir,
                             const std::string& filename, const SaveOptions& opts) {
  signal(SIGTERM, SIG_DFL);
  signal(SIGINT, SIG_DFL);
  signal(SIGPIPE, SIG_DFL);
  close_range(3, ~0U, 0);  // listeners, clients, the loop's descriptors: not ours to hold
  std::string error;
  if (!save_file(dir, filename, ks, opts, &error)) {
    std::string msg = "tiercache-l2 BGSAVE child: " + error + "\n";
    ssize_t n = write(2, msg.data(), msg.size());
    (void)n;
    _exit(1);
  }
  _exit(0);
}

}  // namespace

Snapshots::Snapshots(Keyspace& ks, const Config& config)
    : ks_(ks), config_(config), last_save_ms_(wall_ms()) {}

Snapshots::~Snapshots() { kill_child(); }

void Snapshots::on_key_modified(int, std::string_view, ModifiedBy) { ++dirty_; }
void Snapshots::on_flushed(int db) {
  ++dirty_;
  if (db != -1) return;
  // As Redis's FLUSHALL: a running BGSAVE is abandoned and, with `save` rules, the empty
  // dataset is saved at once, so a restart cannot bring the flushed keys back.
  kill_child();
  if (!config_.save.empty()) {
    std::string error;
    save(wall_ms(), 0, &error);
  }
}

SaveOptions Snapshots::options(int64_t now_ms, uint64_t used_memory) const {
  SaveOptions o;
  o.now_ms = now_ms;
  o.used_memory = used_memory;
  o.key_delay_us = static_cast<uint64_t>(config_.rdb_key_save_delay);
  return o;
}

bool Snapshots::load(int64_t now_ms, std::function<bool()> events, std::string* error) {
  last_load_ = LoadStats{};
  progress_ = LoadProgress{};
  progress_.events = std::move(events);
  progress_.interval_bytes = static_cast<uint64_t>(config_.loading_process_events_interval_bytes);
  progress_.key_delay_us = config_.key_load_delay;
  loading_ = true;
  loading_start_time_ = now_ms / 1000;
  LoadFile result = load_file(path(), ks_, now_ms, &last_load_, error, &progress_);
  loading_ = false;
  switch (result) {
    case LoadFile::kMissing:
      return true;
    case LoadFile::kFailed:
      return false;
    case LoadFile::kLoaded:
      if (progress_.stopped) {
        log::warn("Loading of {} stopped by a shutdown after {} keys", path(),
                  last_load_.keys_loaded);
        return true;
      }
      log::info("DB loaded from disk: {} keys ({} expired, {} empty skipped) from {}",
                last_load_.keys_loaded, last_load_.keys_expired, last_load_.empty_keys, path());
      dirty_ = 0;
      return true;
  }
  return false;
}

bool Snapshots::save(int64_t now_ms, uint64_t used_memory, std::string* error) {
  if (!save_file(config_.dir, config_.dbfilename, ks_, options(now_ms, used_memory), error)) {
    log::warn("Failed saving the DB: {}", *error);
    return false;
  }
  dirty_ = 0;
  last_save_ms_ = now_ms;
  last_bgsave_ok_ = true;  // as Redis: a good SAVE clears a failed BGSAVE's status
  ++saves_;
  log::info("DB saved on disk");
  return true;
}

Snapshots::Bg Snapshots::bgsave(int64_t now_ms, uint64_t used_memory) {
  if (child_running()) return Bg::kInProgress;
  last_try_ms_ = now_ms;
  dirty_at_fork_ = dirty_;
  SaveOptions opts = options(now_ms, used_memory);
  uint64_t start = mono_us();
  pid_t pid = fork();
  if (pid == 0) child_main(ks_, config_.dir, config_.dbfilename, opts);
  latest_fork_usec_ = mono_us() - start;
  if (pid < 0) {
    last_bgsave_ok_ = false;
    log::warn("Can't save in background: fork: {}", strerror(errno));
    return Bg::kFailed;
  }
  child_pid_ = pid;
  child_start_ms_ = now_ms;
  log::info("Background saving started by pid {}", pid);
  return Bg::kStarted;
}

void Snapshots::reaped(int status, int64_t now_ms) {
  bool ok = WIFEXITED(status) && WEXITSTATUS(status) == 0;
  if (ok) {
    log::info("Background saving terminated with success");
    dirty_ = dirty_ >= dirty_at_fork_ ? dirty_ - dirty_at_fork_ : 0;
    last_save_ms_ = now_ms;
    ++saves_;
  } else if (WIFSIGNALED(status)) {
    log::warn("Background saving terminated by signal {}", WTERMSIG(status));
    std::string tmp = config_.dir + "/temp-" + std::to_string(child_pid_) + ".rdb";
    unlink(tmp.c_str());
  } else {
    log::warn("Background saving error");
  }
  last_bgsave_ok_ = ok;
  last_bgsave_time_sec_ = (now_ms - child_start_ms_) / 1000;
  child_pid_ = -1;
}

void Snapshots::cron(int64_t now_ms, uint64_t used_memory) {
  if (child_running()) {
    int status = 0;
    pid_t got = waitpid(child_pid_, &status, WNOHANG);
    if (got == child_pid_) reaped(status, now_ms);
    else if (got < 0 && errno == ECHILD) reaped(1 << 8, now_ms);  // someone else reaped it
    if (child_running()) return;
  }
  if (scheduled_) {
    scheduled_ = false;
    bgsave(now_ms, used_memory);
    return;
  }
  for (const SaveRule& r : config_.save) {
    if (dirty_ >= static_cast<uint64_t>(r.changes) && now_ms - last_save_ms_ > r.seconds * 1000 &&
        (last_bgsave_ok_ || now_ms - last_try_ms_ > kRetryAfterFailureMs)) {
      log::info("{} changes in {} seconds. Saving...", r.changes, r.seconds);
      bgsave(now_ms, used_memory);
      return;
    }
  }
}

void Snapshots::kill_child() {
  if (!child_running()) return;
  kill(child_pid_, SIGKILL);
  int status;
  while (waitpid(child_pid_, &status, 0) < 0 && errno == EINTR) {
  }
  std::string tmp = config_.dir + "/temp-" + std::to_string(child_pid_) + ".rdb";
  unlink(tmp.c_str());
  child_pid_ = -1;
  scheduled_ = false;
}

bool Snapshots::shutdown_save(int64_t now_ms, uint64_t used_memory, bool force_save, bool nosave,
                              std::string* error) {
  kill_child();
  if (nosave || loading_ || (!force_save && config_.save.empty())) return true;
  log::info("Saving the final RDB snapshot before exiting.");
  return save(now_ms, used_memory, error);
}

}  // namespace tiercache::l2::persistence
