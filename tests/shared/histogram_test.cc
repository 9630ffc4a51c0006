// Latency histogram percentiles.
#include "shared/metrics/histogram.h"

#include <doctest/doctest.h>

using tiercache::metrics::Histogram;

TEST_CASE("percentiles within the bucket resolution") {
  Histogram h;
  CHECK(h.percentile(0.5) == 0);
  for (uint64_t v = 1; v <= 10000; ++v) h.record(v);
  CHECK(h.count() == 10000);
  CHECK(h.max() == 10000);
  uint64_t p50 = h.percentile(0.5), p99 = h.percentile(0.99);
  CHECK(p50 >= 5000);
  CHECK(p50 <= 5000 * 107 / 100);
  CHECK(p99 >= 9900);
  CHECK(p99 <= 10000);
  CHECK(h.percentile(1.0) == 10000);
}

TEST_CASE("small and huge values") {
  Histogram h;
  h.record(0);
  h.record(3);
  h.record(UINT64_MAX / 2);
  CHECK(h.percentile(0.0) == 0);
  CHECK(h.max() == UINT64_MAX / 2);
}

TEST_CASE("merge: the same distribution as recording everything in one") {
  Histogram a, b, all;
  for (uint64_t v = 1; v <= 1000; ++v) {
    (v % 3 == 0 ? a : b).record(v * 7);
    all.record(v * 7);
  }
  a.merge(b);
  CHECK(a.count() == all.count());
  CHECK(a.max() == all.max());
  for (double q : {0.0, 0.5, 0.9, 0.99, 1.0}) CHECK(a.percentile(q) == all.percentile(q));
}
