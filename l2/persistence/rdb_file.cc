// RDB files (see rdb_file.h): the writer streams through a buffer into the file descriptor
// and keeps the running CRC64; the loader walks opcodes and objects with a bounds-checked
// Reader and installs each key through the object codec.
#include "l2/persistence/rdb_file.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "l2/persistence/crc64.h"
#include "l2/persistence/rdb_format.h"
#include "l2/persistence/rdb_object.h"
#include "l2/persistence/rdb_reader.h"
#include "shared/util/numbers.h"

namespace tiercache::l2::persistence {
namespace {

constexpr size_t kFlushAt = 1 << 20;

// Collects bytes, keeps the CRC, and writes them to fd (or keeps them when fd < 0).
class Out {
 public:
  explicit Out(int fd) : fd_(fd) {}
  std::string& buf() { return buf_; }
  bool maybe_flush() { return buf_.size() < kFlushAt || flush(); }
  bool flush() {
    crc_ = crc64(crc_, std::string_view(buf_).substr(crc_done_));
    crc_done_ = buf_.size();
    if (fd_ < 0) return true;
    size_t off = 0;
    while (off < buf_.size()) {
      ssize_t n = ::write(fd_, buf_.data() + off, buf_.size() - off);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return false;
      off += static_cast<size_t>(n);
    }
    buf_.clear();
    crc_done_ = 0;
    return true;
  }
  uint64_t crc() {
    crc_ = crc64(crc_, std::string_view(buf_).substr(crc_done_));
    crc_done_ = buf_.size();
    return crc_;
  }

 private:
  int fd_;
  std::string buf_;
  uint64_t crc_ = 0;
  size_t crc_done_ = 0;  // bytes of buf_ already in crc_
};

// A read-only mapping of a whole file, unmapped when it goes.
struct Mapping {
  void* data = nullptr;
  size_t size = 0;
  ~Mapping() {
    if (data != nullptr) munmap(data, size);
  }
};

void put_aux(std::string& out, std::string_view key, std::string_view value) {
  out.push_back(static_cast<char>(kOpAux));
  put_string(out, key);
  put_string(out, value);
}

void put_le64(std::string& out, uint64_t v) {
  for (int i = 0; i < 8; ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}

bool write_all(Out& out, const Keyspace& ks, const SaveOptions& opts) {
  std::string& b = out.buf();
  b.append("REDIS0010");
  put_aux(b, "tiercache-ver", TIERCACHE_VERSION);
  put_aux(b, "redis-bits", "64");
  put_aux(b, "ctime", std::to_string(opts.now_ms / 1000));
  put_aux(b, "used-mem", std::to_string(opts.used_memory));
  put_aux(b, "aof-base", "0");
  bool ok = true;
  for (int db = 0; db < ks.num_dbs() && ok; ++db) {
    if (ks.db_size(db) == 0) continue;
    b.push_back(static_cast<char>(kOpSelectDb));
    put_length(b, static_cast<uint64_t>(db));
    b.push_back(static_cast<char>(kOpResizeDb));
    put_length(b, ks.db_size(db));
    put_length(b, ks.db_expires(db));
    uint64_t cursor = 0;
    do {
      cursor = ks.scan(db, cursor, [&](const Entry* e) {
        if (!ok) return;
        if (e->expire_at != 0) {
          b.push_back(static_cast<char>(kOpExpireTimeMs));
          put_le64(b, static_cast<uint64_t>(e->expire_at));
        }
        std::string obj;
        put_object(obj, *e);
        b.push_back(obj[0]);  // type byte, then the key, then the value
        put_string(b, e->key());
        b.append(obj, 1);
        ok = out.maybe_flush();
        if (opts.key_delay_us != 0) usleep(static_cast<useconds_t>(opts.key_delay_us));
      });
    } while (cursor != 0 && ok);
  }
  if (!ok) return false;
  b.push_back(static_cast<char>(kOpEof));
  uint64_t crc = out.crc();
  put_le64(out.buf(), crc);
  return out.flush();
}

}  // namespace

bool write_rdb(int fd, const Keyspace& ks, const SaveOptions& opts, std::string* error) {
  Out out(fd);
  if (!write_all(out, ks, opts)) {
    *error = std::string("write failed: ") + strerror(errno);
    return false;
  }
  return true;
}

std::string rdb_bytes(const Keyspace& ks, const SaveOptions& opts) {
  Out out(-1);
  write_all(out, ks, opts);
  return std::move(out.buf());
}

bool save_file(const std::string& dir, const std::string& filename, const Keyspace& ks,
               const SaveOptions& opts, std::string* error) {
  std::string tmp = dir + "/temp-" + std::to_string(getpid()) + ".rdb";
  std::string dest = dir + "/" + filename;
  int fd = open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) {
    *error = "Failed opening the temp RDB file " + tmp + " (in server root dir " + dir +
             ") for saving: " + strerror(errno);
    return false;
  }
  bool ok = write_rdb(fd, ks, opts, error);
  if (ok && fsync(fd) != 0) {
    *error = std::string("fsync failed: ") + strerror(errno);
    ok = false;
  }
  if (close(fd) != 0 && ok) {
    *error = std::string("close failed: ") + strerror(errno);
    ok = false;
  }
  if (ok && rename(tmp.c_str(), dest.c_str()) != 0) {
    *error = "Error moving temp DB file " + tmp + " on the final destination " + dest + ": " +
             strerror(errno);
    ok = false;
  }
  if (!ok) unlink(tmp.c_str());
  return ok;
}

namespace {

// Redis's debugDelay: usec > 0 sleeps that long; -N sleeps 1 us once per N calls on average
// (the shortest sleep is a context switch, so short delays are made by sleeping less often).
void key_load_delay(int64_t usec) {
  if (usec < 0) usec = (random() % -usec) == 0 ? 1 : 0;
  if (usec > 0) usleep(static_cast<useconds_t>(usec));
}

}  // namespace

bool load_rdb(std::string_view data, Keyspace& ks, int64_t now_ms, LoadStats* stats,
              std::string* error, LoadProgress* progress) {
  Reader r(data);
  const uint64_t interval = progress != nullptr ? std::max<uint64_t>(progress->interval_bytes, 1) : 0;
  uint64_t events_at = interval;
  std::string_view header;
  if (!r.bytes(9, &header) || header.substr(0, 5) != "REDIS")
    return *error = "not an RDB file (wrong signature)", false;
  int version = 0;
  for (char ch : header.substr(5)) {
    if (ch < '0' || ch > '9') return *error = "not an RDB file (bad version)", false;
    version = version * 10 + (ch - '0');
  }
  if (version < 1 || version > kRdbVersion)
    return *error = "can't handle RDB format version " + std::to_string(version), false;
  int db = 0;
  int64_t expire_at = 0;
  std::string key, aux_value;
  Decoded value;
  while (true) {
    if (progress != nullptr && r.pos() >= events_at) {
      events_at = r.pos() + interval;
      progress->loaded_bytes = r.pos();
      if (!progress->events()) {
        progress->stopped = true;
        return true;
      }
    }
    uint8_t type;
    if (!r.u8(&type)) break;
    if (type == kOpEof) break;
    uint64_t a, b;
    switch (type) {
      case kOpExpireTimeMs:
        if (r.le64(&a)) expire_at = static_cast<int64_t>(a);
        continue;
      case kOpExpireTime: {
        uint32_t s;
        if (r.le32(&s)) expire_at = static_cast<int64_t>(static_cast<int32_t>(s)) * 1000;
        continue;
      }
      case kOpFreq: {
        uint8_t f;
        r.u8(&f);
        continue;
      }
      case kOpIdle:
        r.length(&a);
        continue;
      case kOpSelectDb:
        if (r.length(&a) && a >= static_cast<uint64_t>(ks.num_dbs()))
          r.fail("the RDB file holds db " + std::to_string(a) + " but only " +
                 std::to_string(ks.num_dbs()) + " databases are configured");
        db = static_cast<int>(a);
        continue;
      case kOpResizeDb:
        if (r.length(&a)) r.length(&b);
        continue;
      case kOpAux:
        if (r.string(&key) && r.string(&aux_value) && progress != nullptr && key == "used-mem")
          progress->rdb_used_mem =
              static_cast<uint64_t>(std::max<int64_t>(0, util::parse_int64(aux_value).value_or(0)));
        continue;
      case kOpModuleAux:
        r.fail("module auxiliary data is not supported by tiercache-l2");
        continue;
      case kOpFunction:
      case kOpFunction2:
        r.fail("functions (FUNCTION LOAD libraries) are not supported by tiercache-l2");
        continue;
      default:
        break;
    }
    if (!is_object_type(type)) {
      r.fail("unknown RDB opcode " + std::to_string(type));
      break;
    }
    if (!r.string(&key) || !read_object(r, type, &value)) break;
    if (progress != nullptr && progress->key_delay_us != 0) key_load_delay(progress->key_delay_us);
    int64_t when = expire_at;
    expire_at = 0;
    if (value.empty()) {
      stats->empty_keys++;
      continue;
    }
    if (when != 0 && when < now_ms) {
      stats->keys_expired++;
      continue;
    }
    if (ks.lookup_write(db, key, INT64_MIN) != nullptr) {
      r.fail("duplicated key '" + key + "' in db " + std::to_string(db));
      break;
    }
    std::string why;
    if (!install(ks, db, key, std::move(value), when, &why)) {
      r.fail(why + " (key '" + key + "')");
      break;
    }
    stats->keys_loaded++;
  }
  if (!r.ok()) return *error = r.error(), false;
  if (version >= 5) {
    size_t body = r.pos();
    uint64_t crc;
    if (!r.le64(&crc)) return *error = "RDB file without its checksum", false;
    if (crc != 0 && crc != crc64(0, data.substr(0, body)))
      return *error = "wrong RDB checksum", false;
  }
  return true;
}

LoadFile load_file(const std::string& path, Keyspace& ks, int64_t now_ms, LoadStats* stats,
                   std::string* error, LoadProgress* progress) {
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) return LoadFile::kMissing;
    *error = "cannot open " + path + ": " + strerror(errno);
    return LoadFile::kFailed;
  }
  // Mapped, not read into memory: the loader parses the page cache from the first byte on (its
  // progress and the used-mem field are known at once) and the file is never copied whole.
  struct stat st;
  Mapping map;
  if (fstat(fd, &st) == 0 && st.st_size > 0) {
    map.size = static_cast<size_t>(st.st_size);
    map.data = mmap(nullptr, map.size, PROT_READ, MAP_PRIVATE, fd, 0);
  }
  int map_errno = errno;
  close(fd);
  if (map.data == MAP_FAILED) {
    map.data = nullptr;
    *error = "cannot map " + path + ": " + strerror(map_errno);
    return LoadFile::kFailed;
  }
  if (map.data != nullptr) madvise(map.data, map.size, MADV_SEQUENTIAL);
  if (progress != nullptr) progress->total_bytes = map.size;
  std::string_view data(static_cast<const char*>(map.data), map.data ? map.size : 0);
  if (!load_rdb(data, ks, now_ms, stats, error, progress)) {
    *error = path + ": " + *error;
    return LoadFile::kFailed;
  }
  return LoadFile::kLoaded;
}

}  // namespace tiercache::l2::persistence
