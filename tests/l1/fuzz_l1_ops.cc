// libFuzzer target: random operation sequences on a small L1 store, checked against a model.
// Every hit must be the model's latest unexpired value; while nothing was evicted, every
// unexpired model entry must hit; stats must stay within the arena. Inputs of odd length run
// with per-hash-slot generations (flush_slot among the operations).
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <string>
#include <utility>

#include "l1/hash_slot.h"
#include "l1/store.h"

namespace {

using tiercache::l1::GetResult;
using tiercache::l1::Options;
using tiercache::l1::Store;

uint64_t g_now = 1'000'000;
uint64_t fake_clock() { return g_now; }

struct Entry {
  std::string value;
  uint64_t expires;  // absolute ms, 0 = never
  bool absent = false;  // a negative entry (set_absent)
};

void check(bool ok, const char* what) {
  if (!ok) {
    std::fprintf(stderr, "fuzz_l1_ops: %s\n", what);
    std::abort();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const std::string name = "fuzz-ops-" + std::to_string(getpid());
  Store::unlink(name);
  Options o;
  o.name = name;
  const bool slots = size % 2 == 1;
  o.hash_slot_generations = slots;
  o.memory_bytes = (256 << 10) + (slots ? sizeof(tiercache::l1::HashSlotRegion) : 0);
  o.max_ttl_ms = 50000;
  o.clock_ms = &fake_clock;
  std::string error;
  auto s = Store::open(o, &error);
  check(s != nullptr, "open failed");

  std::map<std::pair<uint32_t, std::string>, Entry> model;
  size_t i = 0;
  auto next = [&]() -> uint8_t { return i < size ? data[i++] : 0; };
  std::string out;
  while (i < size) {
    const uint8_t op = next();
    const uint32_t db = next() % 3;
    std::string key = "k" + std::to_string(next() % 48);
    if (op & 0x80) key.push_back('\0');
    switch (op % 10) {
      case 0:
      case 1:
      case 2: {
        // Mostly small values; sometimes large ones that force eviction.
        const uint8_t len = next();
        const size_t n = (op & 0x40) ? size_t{len} * 64 : len;
        const std::string value(n, static_cast<char>('a' + op % 26));
        const uint64_t ttl = (op & 0x20) ? 1 + next() % 100 : 0;
        if ((op & 0x50) == 0x10) {  // a negative entry instead
          check(s->set_absent(db, key, ttl), "negative entry refused");
          model[{db, key}] = Entry{"", g_now + (ttl ? ttl : o.max_ttl_ms), true};
        } else if (s->set(db, key, value, ttl)) {
          model[{db, key}] = Entry{value, g_now + (ttl ? ttl : o.max_ttl_ms)};
        } else {
          check(n > s->layout().max_record_bytes - 64, "small set refused");
          model.erase({db, key});  // a refused set leaves the old value; forget it
          s->del(db, key);
        }
        break;
      }
      case 3:
      case 4:
      case 5: {
        uint64_t ttl_left = 0;
        const GetResult r = s->get(db, key, &out, &ttl_left);
        const bool hit = r != GetResult::kMiss;
        auto it = model.find({db, key});
        const bool live = it != model.end() && g_now < it->second.expires;
        if (hit) {
          check(live, "hit on a deleted, flushed or expired key");
          check((r == GetResult::kAbsent) == it->second.absent, "absent and value confused");
          check(out == it->second.value, "hit returned a stale or wrong value");
          check(ttl_left == it->second.expires - g_now, "wrong remaining TTL");
        } else if (live && s->stats().evictions == 0) {
          check(false, "miss without any eviction");
        }
        break;
      }
      case 6: {
        auto it = model.find({db, key});
        const bool live = it != model.end() && g_now < it->second.expires;
        const bool removed = s->del(db, key);
        if (removed) check(live, "del removed a dead key");
        if (live && s->stats().evictions == 0) check(removed, "del missed a live key");
        model.erase({db, key});
        break;
      }
      case 7:
        g_now += next();
        break;
      case 8:
        if (slots && (op & 0x30) == 0x20) {
          const uint16_t slot = tiercache::l1::key_slot(key);
          check(s->flush_slot(slot), "flush_slot refused");
          std::erase_if(model, [&](const auto& kv) {
            return kv.first.first == 0 && tiercache::l1::key_slot(kv.first.second) == slot;
          });
        } else if (op & 0x10) {
          s->flush_all();
          model.clear();
        } else {
          s->flush_db(db);
          std::erase_if(model, [&](const auto& kv) { return kv.first.first == db; });
        }
        break;
      case 9:
        s->reclaim_expired(next());
        break;
    }
    const auto st = s->stats();
    check(st.arena_bytes_held <= st.capacity_bytes, "arena over capacity");
    check(st.bytes_used <= st.arena_bytes_held, "live bytes above held bytes");
    check(st.items <= model.size(), "more items counted than the model holds");
  }
  s.reset();
  Store::unlink(name);
  return 0;
}
