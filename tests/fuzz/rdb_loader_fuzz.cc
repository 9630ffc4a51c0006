// libFuzzer target for tiercache-l2's RDB loader and DUMP payload decoder (l2/persistence/):
// input starting with "REDIS" is loaded as a whole RDB file, anything else is read as one
// object (type byte + value, what RESTORE decodes after its checksum). Checks: no crash, no
// sanitizer report, and every key that loads dumps and restores to a payload that reads back.
#include <cstdint>
#include <string>
#include <string_view>

#include "l2/keyspace/keyspace.h"
#include "l2/persistence/rdb_file.h"
#include "l2/persistence/rdb_object.h"
#include "l2/persistence/rdb_reader.h"

using namespace tiercache::l2;
using namespace tiercache::l2::persistence;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static Keyspace* ks = new Keyspace(16, 1);
  ks->flush_all();
  std::string_view in(reinterpret_cast<const char*>(data), size);
  if (in.substr(0, 5) == "REDIS") {
    LoadStats stats;
    std::string error;
    bool ok = load_rdb(in, *ks, 0, &stats, &error);
    if (!ok && error.empty()) __builtin_trap();
  } else {
    Reader r(in);
    uint8_t type;
    Decoded d;
    if (!r.u8(&type) || !is_object_type(type) || !read_object(r, type, &d) || d.empty()) return 0;
    std::string why;
    if (!install(*ks, 0, "k", std::move(d), 0, &why)) return 0;
  }
  // Whatever loaded must survive DUMP and RESTORE's decoding.
  for (int db = 0; db < ks->num_dbs(); ++db) {
    uint64_t cursor = 0;
    do {
      cursor = ks->scan(db, cursor, [](const Entry* e) {
        Decoded back;
        if (read_payload(dump_payload(*e), &back) != PayloadStatus::kOk) __builtin_trap();
      });
    } while (cursor != 0);
  }
  return 0;
}
