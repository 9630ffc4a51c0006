// A fixed-size latency histogram (log-linear buckets, ~6% resolution) for percentiles in INFO.
// Recording is O(1) and allocation-free. Not thread-safe.
#pragma once

#include <array>
#include <bit>
#include <cstddef>
#include <cstdint>

namespace tiercache::metrics {

class Histogram {
 public:
  // Records one value (e.g. microseconds).
  void record(uint64_t v) {
    ++counts_[bucket(v)];
    ++total_;
    if (v > max_) max_ = v;
  }
  uint64_t count() const { return total_; }
  uint64_t max() const { return max_; }
  // The value at quantile q in [0,1] (upper edge of its bucket, capped at max), 0 when empty.
  uint64_t percentile(double q) const {
    if (total_ == 0) return 0;
    uint64_t rank = static_cast<uint64_t>(q * static_cast<double>(total_ - 1)) + 1;
    uint64_t seen = 0;
    for (size_t b = 0; b < kBuckets; ++b) {
      seen += counts_[b];
      if (seen >= rank) {
        uint64_t edge = upper_edge(b);
        return edge < max_ ? edge : max_;
      }
    }
    return max_;
  }
  void reset() { *this = Histogram{}; }
  // Adds o's values to this one (several sources' lags as one distribution).
  void merge(const Histogram& o) {
    for (size_t b = 0; b < kBuckets; ++b) counts_[b] += o.counts_[b];
    total_ += o.total_;
    if (o.max_ > max_) max_ = o.max_;
  }

 private:
  static constexpr int kSubBits = 4;  // 16 sub-buckets per power of two
  static constexpr size_t kBuckets = 64 * (1 << kSubBits);
  static size_t bucket(uint64_t v) {
    if (v < (1u << kSubBits)) return static_cast<size_t>(v);
    int msb = 63 - std::countl_zero(v);
    uint64_t sub = (v >> (msb - kSubBits)) & ((1u << kSubBits) - 1);
    return static_cast<size_t>((msb - kSubBits + 1) * (1 << kSubBits) + sub);
  }
  static uint64_t upper_edge(size_t b) {
    if (b < (size_t{1} << kSubBits)) return b;
    size_t group = b >> kSubBits;
    uint64_t sub = b & ((1u << kSubBits) - 1);
    int msb = static_cast<int>(group) + kSubBits - 1;
    return ((uint64_t{1} << kSubBits | sub) + 1) << (msb - kSubBits);
  }
  std::array<uint64_t, kBuckets> counts_{};
  uint64_t total_ = 0;
  uint64_t max_ = 0;
};

}  // namespace tiercache::metrics
