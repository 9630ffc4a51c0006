// Multi-process torn-read test: a writer churns self-checksummed values (with eviction,
// reinsertion and flushes) while reader processes, and a reader thread in the writer's own
// process, verify that every value they get was written whole for that very key.
// Usage: test_l1_torn [--seconds N] [--readers N]. Exit status 0 iff zero bad reads.
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "l1/store.h"

#define XXH_INLINE_ALL
#include <xxhash.h>

namespace {

using tiercache::l1::GetResult;
using tiercache::l1::OpenMode;
using tiercache::l1::Options;
using tiercache::l1::Store;

constexpr int kKeys = 3000;
constexpr int kMaxReaders = 16;

struct ReaderResult {
  std::atomic<uint64_t> reads;
  std::atomic<uint64_t> hits;
  std::atomic<uint64_t> bad;        // torn, mixed or malformed values
  std::atomic<uint64_t> backwards;  // a key's sequence number went back
  std::atomic<int> ready;
};
struct Shared {  // anonymous shared mapping, created before fork
  std::atomic<int> stop;
  ReaderResult results[kMaxReaders + 1];
};

std::string key_of(int i) { return "torn-key-" + std::to_string(i); }

// Skewed key choice so that readers often hit what the writer keeps rewriting.
int pick_key(std::mt19937_64& rng) {
  const uint64_t r = rng();
  return static_cast<int>((r & 1) ? (r >> 1) % 64 : (r >> 1) % kKeys);
}

// value = seq (8) | n (4) | payload (n) | xxh64(key, seq, n, payload) (8)
std::string make_value(const std::string& key, uint64_t seq, std::mt19937_64& rng) {
  const uint32_t n = static_cast<uint32_t>(rng() % 3000);
  std::string v(12 + n + 8, '\0');
  std::memcpy(v.data(), &seq, 8);
  std::memcpy(v.data() + 8, &n, 4);
  for (uint32_t i = 0; i < n; ++i) v[12 + i] = static_cast<char>(seq * 31 + i * 7);
  XXH64_state_t st;
  XXH64_reset(&st, 0);
  XXH64_update(&st, key.data(), key.size());
  XXH64_update(&st, v.data(), 12 + n);
  const uint64_t sum = XXH64_digest(&st);
  std::memcpy(v.data() + 12 + n, &sum, 8);
  return v;
}

bool check_value(const std::string& key, const std::string& v, uint64_t* seq) {
  if (v.size() < 20) return false;
  uint32_t n;
  std::memcpy(&n, v.data() + 8, 4);
  if (v.size() != 20 + uint64_t{n}) return false;
  XXH64_state_t st;
  XXH64_reset(&st, 0);
  XXH64_update(&st, key.data(), key.size());
  XXH64_update(&st, v.data(), 12 + n);
  uint64_t sum;
  std::memcpy(&sum, v.data() + 12 + n, 8);
  std::memcpy(seq, v.data(), 8);
  return sum == XXH64_digest(&st);
}

void reader_loop(Store& store, Shared* shared, ReaderResult* out, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::vector<uint64_t> last_seq(kKeys, 0);
  std::string v;
  out->ready = 1;
  uint64_t reads = 0, hits = 0, bad = 0, backwards = 0;
  while (!shared->stop.load(std::memory_order_relaxed)) {
    const int k = pick_key(rng);
    const std::string key = key_of(k);
    ++reads;
    if (store.get(0, key, &v, nullptr) != GetResult::kHit) continue;
    ++hits;
    uint64_t seq = 0;
    if (!check_value(key, v, &seq)) {
      if (bad < 5) std::fprintf(stderr, "bad value for %s (size %zu)\n", key.c_str(), v.size());
      ++bad;
      continue;
    }
    if (seq < last_seq[k]) ++backwards;
    last_seq[k] = seq;
  }
  out->reads = reads;
  out->hits = hits;
  out->bad = bad;
  out->backwards = backwards;
}

}  // namespace

int main(int argc, char** argv) {
  double seconds = 3;
  int readers = 2;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (std::strcmp(argv[i], "--seconds") == 0) seconds = std::atof(argv[i + 1]);
    if (std::strcmp(argv[i], "--readers") == 0) readers = std::atoi(argv[i + 1]);
  }
  if (readers < 1 || readers > kMaxReaders) readers = 2;

  Options o;
  o.name = "test-torn-" + std::to_string(getpid());
  o.memory_bytes = 1 << 20;  // small: constant eviction, reinsertion and memory reuse
  o.max_ttl_ms = 0;
  std::string error;
  auto store = Store::open(o, &error);
  if (!store) {
    std::fprintf(stderr, "open: %s\n", error.c_str());
    return 2;
  }
  auto* shared = static_cast<Shared*>(
      mmap(nullptr, sizeof(Shared), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0));
  if (shared == MAP_FAILED) return 2;
  new (shared) Shared{};

  std::vector<pid_t> children;
  for (int r = 0; r < readers; ++r) {
    const pid_t pid = fork();
    if (pid == 0) {
      Options ro = o;
      ro.mode = OpenMode::kReader;
      std::string err;
      auto reader = Store::open(ro, &err);
      if (!reader) {
        std::fprintf(stderr, "reader attach: %s\n", err.c_str());
        _exit(3);
      }
      reader_loop(*reader, shared, &shared->results[r], 1000 + r);
      _exit(0);
    }
    children.push_back(pid);
  }
  std::thread local_reader([&] { reader_loop(*store, shared, &shared->results[readers], 999); });
  for (int r = 0; r < readers; ++r) {
    while (!shared->results[r].ready.load()) std::this_thread::yield();
  }

  std::mt19937_64 rng(1);
  uint64_t seq = 0, sets = 0;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
  while (std::chrono::steady_clock::now() < deadline) {
    for (int i = 0; i < 256; ++i) {
      const std::string key = key_of(pick_key(rng));
      const int op = static_cast<int>(rng() % 1000);
      if (op < 980) {
        if (store->set(0, key, make_value(key, ++seq, rng), 0)) ++sets;
      } else if (op < 999) {
        store->del(0, key);
      } else {
        store->flush_all();
      }
    }
    store->heartbeat();
  }
  shared->stop = 1;
  local_reader.join();
  bool ok = true;
  for (pid_t pid : children) {
    int status = 0;
    waitpid(pid, &status, 0);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) ok = false;
  }
  uint64_t reads = 0, hits = 0, bad = 0, backwards = 0;
  for (int r = 0; r <= readers; ++r) {
    reads += shared->results[r].reads;
    hits += shared->results[r].hits;
    bad += shared->results[r].bad;
    backwards += shared->results[r].backwards;
  }
  const auto st = store->stats();
  std::printf(
      "writer sets=%llu evictions=%llu | readers=%d+1 reads=%llu hits=%llu bad=%llu "
      "backwards=%llu\n",
      static_cast<unsigned long long>(sets), static_cast<unsigned long long>(st.evictions), readers,
      static_cast<unsigned long long>(reads), static_cast<unsigned long long>(hits),
      static_cast<unsigned long long>(bad), static_cast<unsigned long long>(backwards));
  Store::unlink(o.name);
  // The test must have exercised something: many hits while eviction was running.
  if (hits < 1000 || st.evictions < 1000) ok = false;
  return ok && bad == 0 && backwards == 0 ? 0 : 1;
}
