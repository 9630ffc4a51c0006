// Unit tests of fail-safe's per-slot bookkeeping (sidecar/slot_stale.h): which slots open a
// stale window and since when, expiry, closing the slots of a master that answers again, and
// the probes' round robin.
#include "sidecar/slot_stale.h"

#include <doctest/doctest.h>

#include <vector>

namespace tiercache::sidecar {
namespace {

using V = std::vector<uint16_t>;

TEST_CASE("slot stale windows: open within the window, drop the rest, keep the first time") {
  SlotStaleWindows w(1000);
  V drop;
  const uint16_t a[] = {1, 2, 3};
  w.open(a, 5000, 5400, &drop);  // vouched 400 ms ago
  CHECK(drop.empty());
  CHECK(w.open_count() == 3);
  CHECK(w.answers(2, 5400));
  CHECK(w.answers(2, 6000));       // vouched + window: still
  CHECK_FALSE(w.answers(2, 6001));  // past it
  CHECK_FALSE(w.answers(4, 5400));  // never opened
  // Lost again (a reconnect that failed, vouched 0): open slots keep their time, others drop.
  const uint16_t b[] = {3, 4};
  w.open(b, 0, 5500, &drop);
  CHECK(drop == V{4});
  CHECK(w.open_count() == 3);
  CHECK(w.answers(3, 6000));
  // Vouched too long ago: dropped at once.
  drop.clear();
  const uint16_t c[] = {7};
  w.open(c, 1000, 5500, &drop);
  CHECK(drop == V{7});

  drop.clear();
  w.expire(6000, &drop);
  CHECK(drop.empty());
  w.expire(6001, &drop);
  CHECK(drop == V{1, 2, 3});
  CHECK(w.open_count() == 0);
  CHECK_FALSE(w.answers(1, 5400));
}

TEST_CASE("slot stale windows: no window means every slot is dropped") {
  SlotStaleWindows w(0);
  V drop;
  const uint16_t a[] = {10, 11};
  w.open(a, 5000, 5000, &drop);
  CHECK(drop == V{10, 11});
  CHECK(w.open_count() == 0);
}

TEST_CASE("slot stale windows: close, close_if and the probes' turns") {
  SlotStaleWindows w(1000);
  V drop;
  const uint16_t a[] = {5, 100, 16383};
  w.open(a, 5000, 5000, &drop);
  CHECK(w.next_open(0) == 5);
  CHECK(w.next_open(6) == 100);
  CHECK(w.next_open(101) == 16383);
  CHECK(w.next_open(16384) == 5);  // wraps around
  const uint16_t gone[] = {100, 200};
  w.close(gone);  // dropped (a move, the master back): 200 was never open
  CHECK(w.open_count() == 2);
  CHECK_FALSE(w.answers(100, 5000));
  w.close_if([](uint16_t s) { return s > 1000; }, &drop);
  CHECK(drop == V{16383});
  CHECK(w.open_count() == 1);
  CHECK(w.next_open(6) == 5);
  w.close(V{5});
  CHECK(w.next_open(0) == -1);
}

}  // namespace
}  // namespace tiercache::sidecar
