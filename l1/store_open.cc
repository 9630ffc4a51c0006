// L1 segment lifecycle: create, validate and attach, reinitialize untrusted segments, retire
// replaced ones, heartbeat and clean shutdown.
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <cstring>

#include "l1/store.h"

namespace tiercache::l1 {

namespace {

constexpr uint64_t kHeartbeatStaleMs = 15000;  // owner considered gone after this silence
constexpr int kLockTimeoutSeconds = 2;         // waiting for the writer lock on attach

template <class T>
T load_acq(const T& v) {
  return std::atomic_ref<T>(const_cast<T&>(v)).load(std::memory_order_acquire);
}
template <class T, class U>
void store_rel(T& v, U x) {
  std::atomic_ref<T>(v).store(static_cast<T>(x), std::memory_order_release);
}

std::string shm_name(const std::string& name) { return "/tiercache-" + name; }
std::string shm_path(const std::string& name) { return "/dev/shm/tiercache-" + name; }

uint64_t realtime_ms() {
  timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1000 + static_cast<uint64_t>(ts.tv_nsec) / 1000000;
}

bool pid_alive(uint32_t pid) {
  if (pid == 0) return false;
  return kill(static_cast<pid_t>(pid), 0) == 0 || errno == EPERM;
}

bool same_layout(const Header& h, const Layout& l) {
  return h.header_bytes == l.header_bytes && h.total_bytes == l.total_bytes &&
         h.bucket_offset == l.bucket_offset && h.bucket_count == l.bucket_count &&
         h.ghost_offset == l.ghost_offset && h.ghost_count == l.ghost_count &&
         h.arena_offset == l.arena_offset && h.arena_bytes == l.arena_bytes &&
         h.small_bytes == l.small_bytes && h.max_item_bytes == l.max_item_bytes &&
         h.max_record_bytes == l.max_record_bytes && h.max_ttl_ms == l.max_ttl_ms &&
         h.hash_slot_offset == l.hash_slot_offset && h.hash_slot_count == l.hash_slot_count;
}

// Validates a header read from an untrusted mapping of `file_bytes` bytes and, if sound,
// fills *out with its layout. Every bound a reader relies on is checked here.
bool header_sound(const Header& h, uint64_t file_bytes, Layout* out) {
  if (file_bytes < sizeof(Header)) return false;
  if (h.magic != kMagic || h.layout_version != kLayoutVersion) return false;
  if (h.static_checksum != header_checksum(h)) return false;
  if (h.total_bytes != file_bytes || h.header_bytes < sizeof(Header)) return false;
  if (h.bucket_count < kMaxProbe || h.bucket_count > (1ull << 31)) return false;
  if (h.bucket_offset < h.header_bytes || h.bucket_offset % 64 != 0) return false;
  if (h.ghost_offset != h.bucket_offset + h.bucket_count * sizeof(Bucket)) return false;
  if (h.ghost_count == 0 || h.ghost_count > (1ull << 34)) return false;
  if (h.arena_offset < h.ghost_offset + h.ghost_count * sizeof(uint32_t)) return false;
  if (h.arena_offset % 64 != 0 || h.arena_offset > file_bytes) return false;
  if (h.arena_bytes > file_bytes - h.arena_offset || h.arena_bytes % 64 != 0) return false;
  if (h.small_bytes == 0 || h.small_bytes >= h.arena_bytes || h.small_bytes % kArenaUnit) {
    return false;
  }
  if (h.max_record_bytes > h.small_bytes || h.max_record_bytes < sizeof(RecordHeader)) {
    return false;
  }
  if (h.arena_bytes / kArenaUnit >= kSlotOffsetMask) return false;
  if (h.hash_slot_offset != 0 || h.hash_slot_count != 0) {  // the optional hash-slot region
    if (h.hash_slot_count != kHashSlotCount || h.hash_slot_offset < h.header_bytes ||
        h.hash_slot_offset % 64 != 0 || h.hash_slot_offset > h.bucket_offset ||
        h.bucket_offset - h.hash_slot_offset < sizeof(HashSlotRegion)) {
      return false;
    }
  }
  Layout l{};
  l.header_bytes = h.header_bytes;
  l.total_bytes = h.total_bytes;
  l.bucket_offset = h.bucket_offset;
  l.bucket_count = h.bucket_count;
  l.ghost_offset = h.ghost_offset;
  l.ghost_count = h.ghost_count;
  l.arena_offset = h.arena_offset;
  l.arena_bytes = h.arena_bytes;
  l.small_bytes = h.small_bytes;
  l.max_item_bytes = h.max_item_bytes;
  l.max_record_bytes = h.max_record_bytes;
  l.max_ttl_ms = h.max_ttl_ms;
  l.hash_slot_offset = h.hash_slot_offset;
  l.hash_slot_count = h.hash_slot_count;
  *out = l;
  return true;
}

// Opens the segment and takes an flock, retrying if the name was replaced meanwhile (the
// file we locked must still be the one linked under the name).
int open_locked(const std::string& name, bool create, mode_t mode, int lock_op, struct stat* st,
                std::string* error) {
  for (int attempt = 0; attempt < 8; ++attempt) {
    int fd = shm_open(shm_name(name).c_str(), O_RDWR | (create ? O_CREAT : 0), mode);
    if (fd < 0) {
      *error = "shm_open " + shm_name(name) + ": " + strerror(errno);
      return -1;
    }
    // The umask must not narrow the mode: readers in other users' processes may need it. (A
    // segment another user created keeps its mode: EPERM is not an error.)
    if (create && fchmod(fd, mode) != 0 && errno != EPERM) {
      *error = "fchmod " + shm_name(name) + ": " + strerror(errno);
      close(fd);
      return -1;
    }
    if (flock(fd, lock_op) != 0) {
      *error = std::string("flock: ") + strerror(errno);
      close(fd);
      return -1;
    }
    struct stat linked;
    if (fstat(fd, st) == 0 && stat(shm_path(name).c_str(), &linked) == 0 &&
        linked.st_ino == st->st_ino) {
      return fd;
    }
    close(fd);  // replaced while we waited; try the new one
  }
  *error = "segment keeps being replaced";
  return -1;
}

void init_mutex(pthread_mutex_t* m) {
  pthread_mutexattr_t attr;
  pthread_mutexattr_init(&attr);
  pthread_mutexattr_setpshared(&attr, PTHREAD_PROCESS_SHARED);
  pthread_mutexattr_setrobust(&attr, PTHREAD_MUTEX_ROBUST);
  pthread_mutex_init(m, &attr);
  pthread_mutexattr_destroy(&attr);
}

// Cheap sanity check of the robust mutex in a segment we are about to trust (glibc layout):
// its kind must be ours, and a lock word naming a dead thread must carry FUTEX_OWNER_DIED
// (the kernel sets it when a holder dies with the segment mapped). Anything else means the
// bytes were corrupted and waiting on them could hang.
bool mutex_sane(const pthread_mutex_t& m) {
#ifdef __GLIBC__
  pthread_mutex_t ref;
  init_mutex(&ref);
  const bool kind_ok = m.__data.__kind == ref.__data.__kind;
  pthread_mutex_destroy(&ref);
  if (!kind_ok) return false;
  constexpr uint32_t kOwnerDied = 0x40000000, kTidMask = 0x3fffffff;
  const uint32_t word = static_cast<uint32_t>(m.__data.__lock);
  const uint32_t tid = word & kTidMask;
  if (tid != 0 && (word & kOwnerDied) == 0 && !pid_alive(tid)) return false;
  if (tid == static_cast<uint32_t>(gettid())) return false;  // we hold no lock while attaching
#endif
  return true;
}

}  // namespace

uint64_t Store::now_ms() const { return options_.clock_ms ? options_.clock_ms() : realtime_ms(); }

uint64_t Store::steady_ms() {
  timespec ts;
  clock_gettime(CLOCK_BOOTTIME, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1000 + static_cast<uint64_t>(ts.tv_nsec) / 1000000;
}

uint64_t Store::steady_now_ms() const {
  return options_.steady_clock_ms ? options_.steady_clock_ms() : steady_ms();
}

bool Store::unlink(const std::string& name) { return shm_unlink(shm_name(name).c_str()) == 0; }

Store::~Store() {
  if (map_ != nullptr) munmap(map_, map_bytes_);
  if (fd_ >= 0) close(fd_);
}

std::unique_ptr<Store> Store::open(const Options& options, std::string* error) {
  std::string scratch;
  if (error == nullptr) error = &scratch;
  if (options.name.empty() || options.name.find('/') != std::string::npos ||
      options.name.size() > 200) {
    *error = "invalid segment name";
    return nullptr;
  }
  std::unique_ptr<Store> s(new Store());
  bool replaced = false;  // a previous segment was retired: count it as a reinit
  s->options_ = options;
  s->owner_ = options.mode == OpenMode::kOwner;
  Layout want{};
  if (s->owner_ && !compute_layout(options.memory_bytes, options.expected_item_bytes,
                                   options.max_item_size, options.max_ttl_ms,
                                   options.hash_slot_generations, &want)) {
    *error = "memory_bytes out of range";
    return nullptr;
  }

  // Maps `bytes` of fd_ read-write; returns false (with *error) on failure.
  auto map = [&](uint64_t bytes) {
    void* p = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_SHARED, s->fd_, 0);
    if (p == MAP_FAILED) {
      *error = std::string("mmap: ") + strerror(errno);
      return false;
    }
    s->map_ = p;
    s->map_bytes_ = bytes;
    s->header_ = static_cast<Header*>(p);
    return true;
  };
  auto unmap = [&] {
    if (s->map_ != nullptr) munmap(s->map_, s->map_bytes_);
    s->map_ = nullptr;
    s->header_ = nullptr;
  };
  auto bind = [&](const Layout& l) {
    s->layout_ = l;
    auto* base = static_cast<unsigned char*>(s->map_);
    s->buckets_ = reinterpret_cast<Bucket*>(base + l.bucket_offset);
    s->ghost_ = reinterpret_cast<uint32_t*>(base + l.ghost_offset);
    s->arena_ = base + l.arena_offset;
    s->hash_slots_ = l.hash_slot_count != 0
                         ? reinterpret_cast<HashSlotRegion*>(base + l.hash_slot_offset)
                         : nullptr;
  };

  for (int round = 0; round < 3; ++round) {
    struct stat st;
    const int fd =
        open_locked(options.name, s->owner_, static_cast<mode_t>(options.file_mode & 07777),
                    s->owner_ ? LOCK_EX : LOCK_SH, &st, error);
    if (fd < 0) return nullptr;
    s->fd_ = fd;
    const uint64_t file_bytes = static_cast<uint64_t>(st.st_size);

    if (!s->owner_) {
      Layout l{};
      if (file_bytes < sizeof(Header) || !map(file_bytes) ||
          !header_sound(*s->header_, file_bytes, &l)) {
        if (error->empty()) *error = "segment header invalid";
        return nullptr;
      }
      const Header& h = *s->header_;
      const uint64_t hb = load_acq(h.heartbeat_ms);
      const uint64_t now = s->now_ms();
      if (load_acq(h.state) != kStateInUse || !pid_alive(load_acq(h.owner_pid)) ||
          (now > hb && now - hb > kHeartbeatStaleMs)) {
        *error = "segment has no live owner";
        return nullptr;
      }
      bind(l);
      flock(s->fd_, LOCK_UN);
      return s;
    }

    if (file_bytes == 0) {
      if (ftruncate(s->fd_, static_cast<off_t>(want.total_bytes)) != 0) {
        *error = std::string("ftruncate: ") + strerror(errno);
        return nullptr;
      }
      if (!map(want.total_bytes)) return nullptr;
      bind(want);
      s->initialize_fresh(replaced ? 1 : 0);
      flock(s->fd_, LOCK_UN);
      return s;
    }

    if (file_bytes == want.total_bytes) {
      if (!map(want.total_bytes)) return nullptr;
      bind(want);
      Header& h = *s->header_;
      if (h.magic == kMagic && h.layout_version == kLayoutVersion &&
          h.static_checksum == header_checksum(h) && same_layout(h, want)) {
        const uint32_t state = load_acq(h.state);
        const uint64_t hb = load_acq(h.heartbeat_ms);
        const uint64_t now = s->now_ms();
        const bool sound = s->dynamic_sound();
        if (state == kStateClean && sound) {
          // Nobody writes a cleanly closed segment: a fresh lock also discards a corrupted one.
          init_mutex(&h.writer_lock);
          store_rel(h.current_ms, uint64_t{0});  // readers wait until the new owner vouches
          store_rel(h.stale_window_ms, uint64_t{0});
          store_rel(h.owner_pid, static_cast<uint32_t>(getpid()));
          store_rel(h.heartbeat_ms, now);
          store_rel(h.state, kStateInUse);
          flock(s->fd_, LOCK_UN);
          return s;
        }
        if (state == kStateInUse && sound && mutex_sane(h.writer_lock) &&
            pid_alive(load_acq(h.owner_pid)) && !(now > hb && now - hb > kHeartbeatStaleMs)) {
          flock(s->fd_, LOCK_UN);
          if (options.exclusive) {
            *error = "segment " + shm_path(options.name) + " is in use by live process " +
                     std::to_string(load_acq(h.owner_pid)) + " (another owner with this name?)";
            return nullptr;
          }
          return s;  // a live owner maintains it: attach as a co-writer
        }
        if ((state == kStateInUse || state == kStateClean) && mutex_sane(h.writer_lock)) {
          // Owner crashed or went silent (or the dynamic fields are inconsistent). The layout is
          // ours, so processes still mapping it stay within bounds: clear the contents through the
          // seqlock protocol under the writer lock (a dead holder is recovered through EOWNERDEAD).
          timespec deadline;
          clock_gettime(CLOCK_REALTIME, &deadline);
          deadline.tv_sec += kLockTimeoutSeconds;
          const int r = pthread_mutex_timedlock(&h.writer_lock, &deadline);
          if (r == 0 || r == EOWNERDEAD) {
            if (r == EOWNERDEAD) pthread_mutex_consistent(&h.writer_lock);
            s->reinitialize_locked();
            store_rel(h.owner_pid, static_cast<uint32_t>(getpid()));
            store_rel(h.heartbeat_ms, now);
            store_rel(h.state, kStateInUse);  // also when it was a clean but unsound one
            pthread_mutex_unlock(&h.writer_lock);
            flock(s->fd_, LOCK_UN);
            return s;
          }
          // Lock unusable (hung holder or garbage): replace the segment below.
        }
      }
    }

    // Unknown, corrupt, other version, other sizes, or unrecoverable: never trusted. Retire
    // it (processes still mapping it see kStateRetired), unlink it and create a new one.
    if (s->map_ == nullptr && file_bytes >= sizeof(Header)) map(sizeof(Header));
    if (s->map_ != nullptr) store_rel(s->header_->state, kStateRetired);
    unmap();
    shm_unlink(shm_name(options.name).c_str());
    close(s->fd_);
    s->fd_ = -1;
    replaced = true;
  }
  *error = "could not create segment";
  return nullptr;
}

void Store::initialize_fresh(uint64_t reinits) {
  const Layout& want = layout_;
  Header& h = *header_;
  std::memset(static_cast<void*>(&h), 0, sizeof(Header));
  h.magic = kMagic;
  h.layout_version = kLayoutVersion;
  h.header_bytes = static_cast<uint32_t>(want.header_bytes);
  h.total_bytes = want.total_bytes;
  h.bucket_offset = want.bucket_offset;
  h.bucket_count = want.bucket_count;
  h.ghost_offset = want.ghost_offset;
  h.ghost_count = want.ghost_count;
  h.arena_offset = want.arena_offset;
  h.arena_bytes = want.arena_bytes;
  h.small_bytes = want.small_bytes;
  h.max_item_bytes = want.max_item_bytes;
  h.max_record_bytes = want.max_record_bytes;
  h.max_ttl_ms = want.max_ttl_ms;
  h.hash_slot_offset = want.hash_slot_offset;
  h.hash_slot_count = want.hash_slot_count;
  h.static_checksum = header_checksum(h);
  h.reinits = reinits;
  h.global_gen = 1;
  h.base_ms = now_ms();
  h.small = Ring{0, want.small_bytes, 0, 0, want.small_bytes, 0, 0, 0};
  h.main = Ring{want.small_bytes,
                want.arena_bytes,
                want.small_bytes,
                want.small_bytes,
                want.arena_bytes,
                0,
                0,
                0};
  init_mutex(&h.writer_lock);
  store_rel(h.heartbeat_ms, now_ms());
  store_rel(h.owner_pid, static_cast<uint32_t>(getpid()));
  store_rel(h.state, kStateInUse);
}

void Store::heartbeat() {
  if (owner_) store_rel(header_->heartbeat_ms, now_ms());
}

void Store::mark_current(uint64_t as_of_ms) {
  if (!owner_) return;
  if (unvouched_ && !flush_all()) return;  // flush_all clears unvouched_ once it gets the lock
  store_rel(header_->current_ms, as_of_ms);
}

void Store::set_stale_window(uint64_t window_ms) {
  if (owner_) store_rel(header_->stale_window_ms, window_ms);
}

void Store::close_clean() {
  if (!owner_ || !lock()) return;
  if (load_acq(header_->owner_pid) == static_cast<uint32_t>(getpid())) {
    store_rel(header_->current_ms, uint64_t{0});  // nobody applies invalidations any more
    store_rel(header_->stale_window_ms, uint64_t{0});
    store_rel(header_->state, kStateClean);
  }
  unlock();
  owner_ = false;  // no more mutations through this object
}

bool Store::retired() const { return load_acq(header_->state) == kStateRetired; }

bool Store::detached() const {
  if (retired()) return true;
  struct stat mine, linked;
  if (fstat(fd_, &mine) != 0 || mine.st_nlink == 0) return true;
  return stat(shm_path(options_.name).c_str(), &linked) != 0 || linked.st_ino != mine.st_ino ||
         linked.st_dev != mine.st_dev;
}

bool Store::lock() {
  // Bounded wait: a writer holds the lock for microseconds (a full reinitialization for
  // milliseconds). A lock word left garbage by a corrupted segment must not hang us: the
  // mutation is then refused and the caller bypasses L1.
  timespec deadline;
  clock_gettime(CLOCK_REALTIME, &deadline);
  deadline.tv_sec += 1;
  int r = pthread_mutex_timedlock(&header_->writer_lock, &deadline);
  if (r != 0 && r != EOWNERDEAD) {
    // The mutation is refused: if it was an invalidation, readers must not trust the segment
    // until a flush succeeds.
    unvouched_ = true;
    store_rel(header_->current_ms, uint64_t{0});
    return false;
  }
  if (r == EOWNERDEAD) {
    // The previous writer died mid-mutation: its bucket may be half written. Clear every
    // entry (readers stay safe through the seqlock protocol), then mark the lock usable.
    reinitialize_locked();
    pthread_mutex_consistent(&header_->writer_lock);
    return true;
  }
  return r == 0;
}

void Store::unlock() { pthread_mutex_unlock(&header_->writer_lock); }

}  // namespace tiercache::l1
