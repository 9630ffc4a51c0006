// libFuzzer target: attach to a segment whose header (or whole file) was overwritten, XORed or
// truncated by the input. Attaching must never crash or hang; an owner must always end up
// with a working store, and a reader must either refuse or read within bounds.
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "l1/store.h"

namespace {

using tiercache::l1::GetResult;
using tiercache::l1::Header;
using tiercache::l1::OpenMode;
using tiercache::l1::Options;
using tiercache::l1::Store;

void check(bool ok, const char* what) {
  if (!ok) {
    std::fprintf(stderr, "fuzz_l1_attach: %s\n", what);
    std::abort();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  static const std::string name = "fuzz-attach-" + std::to_string(getpid());
  const std::string path = "/dev/shm/tiercache-" + name;
  Options o;
  o.name = name;
  o.memory_bytes = 128 << 10;
  std::string error;
  {
    Store::unlink(name);
    auto s = Store::open(o, &error);
    check(s != nullptr, "initial open failed");
    for (int i = 0; i < 50; ++i) s->set(i % 3, "key" + std::to_string(i), std::string(i, 'v'), 0);
    if (data[0] & 0x10) s->close_clean();  // else left "in use" by a live owner (us)
  }
  const uint8_t mode = data[0] % 4;
  const uint8_t* in = data + 1;
  const size_t n = size - 1;
  const int fd = ::open(path.c_str(), O_RDWR);
  check(fd >= 0, "segment file missing");
  if (mode == 2) {
    // Truncate (or extend) to a length taken from the input.
    uint32_t len = 0;
    std::memcpy(&len, in, n < 4 ? n : 4);
    check(ftruncate(fd, len % (256 << 10)) == 0, "ftruncate");
  } else if (mode == 3) {
    // The input is the whole file.
    check(ftruncate(fd, 0) == 0 && (n == 0 || pwrite(fd, in, n, 0) == static_cast<ssize_t>(n)),
          "rewrite");
  } else {
    void* p = mmap(nullptr, o.memory_bytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    check(p != MAP_FAILED, "mmap");
    auto* bytes = static_cast<uint8_t*>(p);
    if (mode == 0) {
      std::memcpy(bytes, in, n < sizeof(Header) ? n : sizeof(Header));  // overwrite header
    } else {
      for (size_t i = 0; i + 2 < n; i += 3) {  // (offset16, xor) pairs anywhere in the header
        const size_t off = (in[i] | (size_t{in[i + 1]} << 8)) % sizeof(Header);
        bytes[off] ^= in[i + 2];
      }
    }
    munmap(p, o.memory_bytes);
  }
  close(fd);

  std::string out;
  Options ro = o;
  ro.mode = OpenMode::kReader;
  if (auto r = Store::open(ro, &error)) {
    for (int i = 0; i < 50; ++i) r->get(i % 3, "key" + std::to_string(i), &out, nullptr);
    std::vector<tiercache::l1::ScanEntry> entries;
    r->scan(0, 0, &entries);
    r->stats();
  }
  auto s = Store::open(o, &error);
  check(s != nullptr, "owner could not open a corrupted segment");
  for (int i = 0; i < 200; ++i) {
    // A refusal here can only be a lock timeout (lock word naming a live foreign thread):
    // stop rather than wait a second per call.
    if (!s->set(0, "new" + std::to_string(i), std::string(i * 3, 'n'), 0)) break;
    s->get(0, "key" + std::to_string(i % 50), &out, nullptr);
  }
  if (s->set(1, "probe", "value", 0)) {
    check(s->get(1, "probe", &out, nullptr) == GetResult::kHit && out == "value",
          "store unusable after attach");
  }
  const auto st = s->stats();
  check(st.arena_bytes_held <= st.capacity_bytes, "arena over capacity");
  s.reset();
  Store::unlink(name);
  return 0;
}
