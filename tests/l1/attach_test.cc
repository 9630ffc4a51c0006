// L1 attach rules: reattach after clean shutdown, crashed owner, version mismatch, other sizes,
// corrupt or truncated headers, reader mode, and a writer that died holding the lock.
#include <doctest/doctest.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <random>
#include <thread>

#include "l1/store.h"
#include "tests/l1/test_util.h"

namespace tiercache::l1 {
namespace {

using testing::make_options;
using testing::SegmentGuard;
using testing::unique_name;

std::string path_of(const std::string& name) { return "/dev/shm/tiercache-" + name; }

// Applies `f` to the raw bytes of the segment file (as a corrupting process would).
template <class F>
void with_raw(const std::string& name, F&& f) {
  const int fd = ::open(path_of(name).c_str(), O_RDWR);
  REQUIRE(fd >= 0);
  struct stat st;
  REQUIRE(fstat(fd, &st) == 0);
  void* p = mmap(nullptr, st.st_size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  REQUIRE(p != MAP_FAILED);
  f(static_cast<unsigned char*>(p), static_cast<size_t>(st.st_size), fd);
  munmap(p, st.st_size);
  close(fd);
}

std::unique_ptr<Store> open_or_fail(const Options& o) {
  std::string error;
  auto s = Store::open(o, &error);
  REQUIRE_MESSAGE(s != nullptr, error);
  return s;
}

bool has(Store& s, const std::string& key) {
  std::string v;
  return s.get(0, key, &v, nullptr) == GetResult::kHit;
}

TEST_CASE("clean shutdown then reattach keeps the contents") {
  SegmentGuard g{unique_name("clean")};
  const Options o = make_options(g.name, 1 << 20);
  {
    auto s = open_or_fail(o);
    REQUIRE(s->set(0, "k", "v", 0));
    s->close_clean();
  }
  auto s = open_or_fail(o);
  CHECK(has(*s, "k"));
  CHECK(s->stats().reinits == 0);
}

TEST_CASE("co-writer attaches to a segment whose owner is alive") {
  SegmentGuard g{unique_name("co")};
  const Options o = make_options(g.name, 1 << 20);
  auto a = open_or_fail(o);
  REQUIRE(a->set(0, "k", "v", 0));
  auto b = open_or_fail(o);
  CHECK(has(*b, "k"));
  REQUIRE(b->set(0, "k2", "v2", 0));
  CHECK(has(*a, "k2"));
}

TEST_CASE("segment left by a crashed owner is reinitialized") {
  SegmentGuard g{unique_name("crash")};
  const Options o = make_options(g.name, 1 << 20);
  const pid_t child = fork();
  REQUIRE(child >= 0);
  if (child == 0) {
    std::string error;
    auto s = Store::open(o, &error);
    _exit(s && s->set(0, "k", "v", 0) ? 0 : 1);  // exits without close_clean()
  }
  int status = 0;
  REQUIRE(waitpid(child, &status, 0) == child);
  REQUIRE(WIFEXITED(status));
  REQUIRE(WEXITSTATUS(status) == 0);
  // A reader refuses it: nobody owns it any more.
  Options ro = o;
  ro.mode = OpenMode::kReader;
  std::string error;
  CHECK(Store::open(ro, &error) == nullptr);
  CHECK(error.find("owner") != std::string::npos);
  auto s = open_or_fail(o);
  CHECK_FALSE(has(*s, "k"));
  CHECK(s->stats().reinits == 1);
  CHECK(s->stats().items == 0);
  REQUIRE(s->set(0, "k", "v2", 0));
  CHECK(has(*s, "k"));
}

TEST_CASE("a writer that died holding the lock is recovered (robust mutex)") {
  SegmentGuard g{unique_name("lockdead")};
  const Options o = make_options(g.name, 1 << 20);
  auto s = open_or_fail(o);
  REQUIRE(s->set(0, "k", "v", 0));
  const pid_t child = fork();
  REQUIRE(child >= 0);
  if (child == 0) {
    // Die mid-write: lock held and a bucket left odd. The mapping must stay in place until
    // exit, since the kernel marks robust mutexes of a dead thread through its addresses.
    const int fd = ::open(path_of(g.name).c_str(), O_RDWR);
    void* p = mmap(nullptr, 1 << 20, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (fd < 0 || p == MAP_FAILED) _exit(1);
    auto* h = static_cast<Header*>(p);
    if (pthread_mutex_lock(&h->writer_lock) != 0) _exit(1);
    reinterpret_cast<Bucket*>(static_cast<unsigned char*>(p) + h->bucket_offset)[0].meta |= 1;
    _exit(0);
  }
  int status = 0;
  REQUIRE(waitpid(child, &status, 0) == child);
  REQUIRE(WEXITSTATUS(status) == 0);
  // Next mutation sees EOWNERDEAD, clears the segment and proceeds.
  CHECK(s->set(0, "k2", "v", 0));
  CHECK(s->stats().reinits == 1);
  CHECK_FALSE(has(*s, "k"));
  CHECK(has(*s, "k2"));
}

TEST_CASE("layout version mismatch is reinitialized, never trusted") {
  SegmentGuard g{unique_name("version")};
  const Options o = make_options(g.name, 1 << 20);
  {
    auto s = open_or_fail(o);
    REQUIRE(s->set(0, "k", "v", 0));
    s->close_clean();
  }
  with_raw(g.name, [](unsigned char* p, size_t, int) {
    auto* h = reinterpret_cast<Header*>(p);
    h->layout_version = kLayoutVersion + 1;
    h->static_checksum = header_checksum(*h);  // even with a matching checksum
  });
  auto s = open_or_fail(o);
  CHECK_FALSE(has(*s, "k"));
  CHECK(s->stats().reinits == 1);
}

TEST_CASE("a reader refuses a segment of another layout version (3: no hash-slot region)") {
  SegmentGuard g{unique_name("rversion")};
  Options o = make_options(g.name, 1 << 20);
  o.hash_slot_generations = true;
  auto owner = open_or_fail(o);
  REQUIRE(owner->set(0, "k", "v", 0));
  Options ro = make_options(g.name, 1 << 20);
  ro.mode = OpenMode::kReader;
  REQUIRE(open_or_fail(ro)->hash_slot_generations());
  with_raw(g.name, [](unsigned char* p, size_t, int) {
    auto* h = reinterpret_cast<Header*>(p);
    h->layout_version = kLayoutVersion - 1;
    h->static_checksum = header_checksum(*h);
  });
  std::string error;
  CHECK(Store::open(ro, &error) == nullptr);
  CHECK(error == "segment header invalid");
  // A region where the header says none fits is refused as well.
  with_raw(g.name, [](unsigned char* p, size_t, int) {
    auto* h = reinterpret_cast<Header*>(p);
    h->layout_version = kLayoutVersion;
    h->hash_slot_offset = h->bucket_offset - 64;
    h->static_checksum = header_checksum(*h);
  });
  CHECK(Store::open(ro, &error) == nullptr);
}

TEST_CASE("other sizes: the old segment is retired and replaced") {
  SegmentGuard g{unique_name("sizes")};
  Options o = make_options(g.name, 1 << 20);
  auto old_store = open_or_fail(o);
  REQUIRE(old_store->set(0, "k", "v", 0));
  o.memory_bytes = 2 << 20;
  auto s = open_or_fail(o);
  CHECK(old_store->retired());
  CHECK_FALSE(has(*old_store, "k"));  // retired segments serve no hits
  CHECK_FALSE(has(*s, "k"));
  CHECK(s->layout().total_bytes == (2u << 20));
  // Other options with the same size (a different TTL cap) are "other sizes" too.
  o.max_ttl_ms = 1234;
  auto t = open_or_fail(o);
  CHECK(s->retired());
  CHECK(t->layout().max_ttl_ms == 1234);
}

TEST_CASE("corrupt headers never crash the attacher and are reinitialized") {
  SegmentGuard g{unique_name("corrupt")};
  const Options o = make_options(g.name, 1 << 20);
  std::mt19937_64 rng(5);
  for (int round = 0; round < 50; ++round) {
    {
      auto s = open_or_fail(o);
      REQUIRE(s->set(0, "k", "v", 0));
      s->close_clean();
    }
    with_raw(g.name, [&](unsigned char* p, size_t, int) {
      // Flip a few random bytes of the header (static or dynamic part).
      for (int i = 0; i < 1 + round % 4; ++i) p[rng() % sizeof(Header)] ^= 1 + rng() % 255;
    });
    auto s = open_or_fail(o);
    // Whatever survived, the store must work and stay consistent.
    REQUIRE(s->set(0, "k2", "v2", 0));
    CHECK(has(*s, "k2"));
    for (int i = 0; i < 2000; ++i) REQUIRE(s->set(0, std::to_string(i), std::string(200, 'x'), 0));
    CHECK(s->stats().arena_bytes_held <= s->stats().capacity_bytes);
    s->close_clean();
  }
}

TEST_CASE("truncated or empty segment files are reinitialized") {
  SegmentGuard g{unique_name("trunc")};
  const Options o = make_options(g.name, 1 << 20);
  for (off_t size : {off_t{0}, off_t{17}, off_t{sizeof(Header) - 1}, off_t{4096 * 3}}) {
    {
      auto s = open_or_fail(o);
      REQUIRE(s->set(0, "k", "v", 0));
      s->close_clean();
    }
    with_raw(g.name, [&](unsigned char*, size_t, int fd) { REQUIRE(ftruncate(fd, size) == 0); });
    Options ro = o;
    ro.mode = OpenMode::kReader;
    std::string error;
    CHECK(Store::open(ro, &error) == nullptr);  // readers never trust it
    auto s = open_or_fail(o);
    CHECK_FALSE(has(*s, "k"));
    REQUIRE(s->set(0, "k", "v", 0));
    CHECK(has(*s, "k"));
    s->close_clean();
  }
}

TEST_CASE("reader mode: reads a live segment, cannot mutate, rejects garbage") {
  SegmentGuard g{unique_name("reader")};
  Options o = make_options(g.name, 1 << 20);
  Options ro = o;
  ro.mode = OpenMode::kReader;
  std::string error;
  CHECK(Store::open(ro, &error) == nullptr);  // absent
  auto w = open_or_fail(o);
  REQUIRE(w->set(3, "k", "v", 0));
  auto r = open_or_fail(ro);
  std::string v;
  CHECK(r->get(3, "k", &v, nullptr) == GetResult::kHit);
  CHECK(v == "v");
  CHECK_FALSE(r->set(3, "k", "x", 0));
  CHECK_FALSE(r->del(3, "k"));
  CHECK_FALSE(r->flush_all());
  REQUIRE(w->set(3, "k", "w", 0));
  CHECK(r->get(3, "k", &v, nullptr) == GetResult::kHit);
  CHECK(v == "w");
  with_raw(g.name, [](unsigned char* p, size_t, int) { p[0] ^= 0xFF; });  // bad magic
  CHECK(Store::open(ro, &error) == nullptr);
}

TEST_CASE("reader mode: counts its own lookups, trusts only a segment vouched for lately") {
  SegmentGuard g{unique_name("staleness")};
  Options o = testing::fake_clock_options(g.name, 1 << 20);
  Options ro = testing::reader_options(o, 1000);
  auto w = open_or_fail(o);
  REQUIRE(w->set(0, "k", "v", 0));
  auto r = open_or_fail(ro);
  CHECK_FALSE(r->serving());  // never vouched for yet
  CHECK_FALSE(has(*r, "k"));
  w->mark_current(testing::fake_clock());
  CHECK(r->serving());
  CHECK(has(*r, "k"));
  CHECK_FALSE(has(*r, "absent"));
  CHECK(has(*w, "k"));
  Stats st = w->stats();
  CHECK(st.reader_hits == 1);
  CHECK(st.reader_misses == 2);
  CHECK(st.hits == 1);
  CHECK(st.misses == 0);

  testing::g_fake_now += 999;  // vouched for 999 ms ago: still trusted
  w->heartbeat();              // liveness alone does not vouch for the contents
  CHECK(has(*r, "k"));
  CHECK(r->serving());
  testing::g_fake_now += 2;  // 1001 ms: the owner may have missed invalidations
  CHECK_FALSE(has(*r, "k"));
  CHECK_FALSE(r->serving());
  CHECK(has(*w, "k"));  // the owner's own lookups are not gated
  w->mark_current(testing::fake_clock() - 10);
  CHECK(has(*r, "k"));
  w->mark_current(testing::fake_clock() + 5000);  // from the future: not trusted either
  CHECK_FALSE(has(*r, "k"));
  w->mark_current(testing::fake_clock());
  CHECK(has(*r, "k"));

  ro.reader_max_staleness_ms = 0;  // unchecked
  auto unchecked = open_or_fail(ro);
  testing::g_fake_now += 5000;
  w->heartbeat();
  CHECK_FALSE(has(*r, "k"));
  CHECK(has(*unchecked, "k"));

  w->mark_current(testing::fake_clock());
  CHECK(r->serving());
  w->close_clean();  // no owner any more: nothing is trusted
  CHECK_FALSE(has(*r, "k"));
  CHECK_FALSE(r->serving());
  auto w2 = open_or_fail(o);  // a new owner reattaches the clean segment: not vouched for yet
  CHECK_FALSE(r->serving());
  CHECK_FALSE(has(*r, "k"));
  w2->mark_current(testing::fake_clock());
  CHECK(has(*r, "k"));
}

TEST_CASE("the owner creates the segment with the mode asked for, whatever the umask") {
  SegmentGuard g{unique_name("mode")};
  Options o = make_options(g.name, 1 << 20);
  o.file_mode = 0660;
  const mode_t old = umask(077);
  auto w = open_or_fail(o);
  umask(old);
  struct stat st;
  REQUIRE(stat(path_of(g.name).c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0660);
}

TEST_CASE("an exclusive owner refuses a segment another live owner has") {
  SegmentGuard g{unique_name("exclusive")};
  Options o = make_options(g.name, 1 << 20);
  auto first = open_or_fail(o);
  o.exclusive = true;
  std::string error;
  CHECK(Store::open(o, &error) == nullptr);
  CHECK(error.find("in use by live process") != std::string::npos);
  first->close_clean();
  auto second = open_or_fail(o);  // a cleanly closed one is taken over
}

TEST_CASE("an invalidation refused for a hung lock withdraws the vouch until a flush") {
  SegmentGuard g{unique_name("unvouch")};
  Options o = make_options(g.name, 1 << 20);
  Options ro = o;
  ro.mode = OpenMode::kReader;
  ro.reader_max_staleness_ms = 60000;
  auto w = open_or_fail(o);
  REQUIRE(w->set(0, "k", "v", 0));
  w->mark_current(Store::steady_ms());
  auto r = open_or_fail(ro);
  REQUIRE(has(*r, "k"));
  // Another thread (alive, so not EOWNERDEAD) holds the segment's writer lock.
  std::atomic<int> phase{0};
  std::thread holder([&] {
    with_raw(g.name, [&](unsigned char* p, size_t, int) {
      auto* h = reinterpret_cast<Header*>(p);
      REQUIRE(pthread_mutex_lock(&h->writer_lock) == 0);
      phase = 1;
      while (phase != 2) std::this_thread::sleep_for(std::chrono::milliseconds(1));
      pthread_mutex_unlock(&h->writer_lock);
    });
  });
  while (phase != 1) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  CHECK_FALSE(w->del(0, "k"));  // times out after 1 s: the invalidation is lost
  CHECK_FALSE(r->serving());
  CHECK_FALSE(has(*r, "k"));
  phase = 2;
  holder.join();
  w->mark_current(Store::steady_ms());  // flushes first, then vouches again
  CHECK(r->serving());
  CHECK_FALSE(has(*r, "k"));
  CHECK_FALSE(has(*w, "k"));
}

}  // namespace
}  // namespace tiercache::l1
