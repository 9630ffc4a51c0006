// The object codec (see rdb_object.h): put_object writes one value, read_object reads one in
// any type Redis 7.0 accepts, install turns it into a keyspace entry, and the DUMP payload
// frames one object with the RDB version and a CRC64.
#include "l2/persistence/rdb_object.h"

#include <cmath>
#include <cstring>

#include "l2/persistence/crc64.h"
#include "l2/persistence/lzf.h"
#include "l2/persistence/rdb_format.h"

namespace tiercache::l2::persistence {
namespace {

void put_le(std::string& out, uint64_t v, int n) {
  for (int i = 0; i < n; ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}

// Reads `count` strings into out->items (`per` strings per element: 1, or 2 for hash pairs).
bool read_strings(Reader& r, uint64_t count, int per, Decoded* out) {
  std::string s;
  for (uint64_t k = 0; k < count; ++k) {
    for (int j = 0; j < per; ++j) {
      if (!r.string(&s)) return false;
      out->items.push_back(std::move(s));
    }
  }
  return true;
}

// Reads a string holding a compact blob and appends its elements to out->items.
bool read_blob(Reader& r, bool (*parse)(std::string_view, std::vector<std::string>*, std::string*),
               Decoded* out) {
  std::string blob, why;
  if (!r.string(&blob)) return false;
  if (!parse(blob, &out->items, &why)) return r.fail(why);
  return true;
}

// Splits flat member,score pairs (ziplist/listpack sorted sets) into members and scores.
bool split_scores(Reader& r, Decoded* out) {
  if (out->items.size() % 2 != 0) return r.fail("sorted set blob with an odd element count");
  std::vector<std::string> members;
  members.reserve(out->items.size() / 2);
  for (size_t i = 0; i < out->items.size(); i += 2) {
    double score;
    if (!parse_score(out->items[i + 1], &score)) return r.fail("sorted set score is not a number");
    members.push_back(std::move(out->items[i]));
    out->scores.push_back(score);
  }
  out->items = std::move(members);
  return true;
}

bool read_quicklist(Reader& r, bool v2, Decoded* out) {
  uint64_t nodes;
  if (!r.length(&nodes)) return false;
  std::string blob, why;
  for (uint64_t k = 0; k < nodes; ++k) {
    uint64_t container = kQuicklistPacked;
    if (v2 && !r.length(&container)) return false;
    if (container != kQuicklistPacked && container != kQuicklistPlain)
      return r.fail("quicklist node container unknown");
    if (!r.string(&blob)) return false;
    if (blob.empty()) return r.fail("quicklist node empty");
    if (container == kQuicklistPlain) {
      out->items.push_back(std::move(blob));
    } else if (!(v2 ? parse_listpack(blob, &out->items, &why)
                    : parse_ziplist(blob, &out->items, &why))) {
      return r.fail(why);
    }
  }
  return true;
}

}  // namespace

void put_length(std::string& out, uint64_t len) {
  if (len < 64) {
    out.push_back(static_cast<char>(len));
  } else if (len < 16384) {
    out.push_back(static_cast<char>(0x40 | (len >> 8)));
    out.push_back(static_cast<char>(len & 0xff));
  } else {
    bool wide = len > UINT32_MAX;
    out.push_back(static_cast<char>(wide ? kLen64Bit : kLen32Bit));
    for (int i = wide ? 7 : 3; i >= 0; --i) out.push_back(static_cast<char>((len >> (8 * i)) & 0xff));
  }
}

RdbWriteOptions& rdb_write_options() {
  static RdbWriteOptions options;
  return options;
}

// As Redis's rdbSaveLzfStringObject: only when the compressed form is at least 4 bytes shorter.
static bool put_lzf(std::string& out, std::string_view s) {
  std::string packed;
  size_t n = lzf_compress(s, s.size() - 4, &packed);
  if (n == 0) return false;
  out.push_back(static_cast<char>((kLenEncoded << 6) | kEncLzf));
  put_length(out, n);
  put_length(out, s.size());
  out.append(packed);
  return true;
}

void put_string(std::string& out, std::string_view s) {
  int64_t v;
  // As Redis's rdbTryIntegerEncoding: canonical decimals that fit 32 bits become integers.
  if (s.size() <= 11 && strict_int64(s, &v) && v >= INT32_MIN && v <= INT32_MAX) {
    int n = v >= INT8_MIN && v <= INT8_MAX ? 1 : v >= INT16_MIN && v <= INT16_MAX ? 2 : 4;
    uint8_t enc = n == 1 ? kEncInt8 : n == 2 ? kEncInt16 : kEncInt32;
    out.push_back(static_cast<char>((kLenEncoded << 6) | enc));
    put_le(out, static_cast<uint64_t>(v), n);
    return;
  }
  if (s.size() > 20 && rdb_write_options().compression && put_lzf(out, s)) return;
  put_length(out, s.size());
  out.append(s);
}

// A list or a set: the type byte, the count, then each element as a string.
template <typename Members>
void put_members(std::string& out, uint8_t rdb_type, const Members& v) {
  out.push_back(static_cast<char>(rdb_type));
  put_length(out, v.size());
  v.for_each([&out](std::string_view s) { put_string(out, s); });
}

void put_object(std::string& out, const Entry& e) {
  auto type = static_cast<ValueType>(e.type);
  switch (type) {
    case ValueType::kString:
      out.push_back(static_cast<char>(kTypeString));
      put_string(out, e.value());
      return;
    case ValueType::kList:
      return put_members(out, kTypeList, *e.object<ListValue>());
    case ValueType::kSet:
      return put_members(out, kTypeSet, *e.object<SetValue>());
    case ValueType::kZSet: {
      const auto* v = e.object<ZSetValue>();
      out.push_back(static_cast<char>(kTypeZSet2));
      put_length(out, v->size());
      v->for_each([&out](std::string_view m, double score) {
        put_string(out, m);
        uint64_t bits;
        memcpy(&bits, &score, sizeof bits);
        put_le(out, bits, 8);
      });
      return;
    }
    case ValueType::kHash: {
      const auto* v = e.object<HashValue>();
      out.push_back(static_cast<char>(kTypeHash));
      put_length(out, v->size());
      v->for_each([&out](std::string_view f, std::string_view val) {
        put_string(out, f);
        put_string(out, val);
      });
      return;
    }
  }
}

bool is_object_type(uint8_t t) { return t <= kTypeStreamListpacks2 && t != 8; }

bool read_object(Reader& r, uint8_t rdb_type, Decoded* out) {
  *out = Decoded{};
  uint64_t len;
  switch (rdb_type) {
    case kTypeString:
      out->type = ValueType::kString;
      return r.string(&out->str);
    case kTypeList:
      out->type = ValueType::kList;
      return r.length(&len) && read_strings(r, len, 1, out);
    case kTypeSet:
      out->type = ValueType::kSet;
      return r.length(&len) && read_strings(r, len, 1, out);
    case kTypeHash:
      out->type = ValueType::kHash;
      return r.length(&len) && read_strings(r, len, 2, out);
    case kTypeZSet:
    case kTypeZSet2: {
      out->type = ValueType::kZSet;
      if (!r.length(&len)) return false;
      std::string member;
      for (uint64_t k = 0; k < len; ++k) {
        double score;
        if (!r.string(&member)) return false;
        if (!(rdb_type == kTypeZSet2 ? r.binary_double(&score) : r.string_double(&score)))
          return false;
        if (std::isnan(score)) return r.fail("sorted set with a NaN score");
        out->items.push_back(std::move(member));
        out->scores.push_back(score);
      }
      return true;
    }
    case kTypeListQuicklist:
    case kTypeListQuicklist2:
      out->type = ValueType::kList;
      return read_quicklist(r, rdb_type == kTypeListQuicklist2, out);
    case kTypeListZiplist:
      out->type = ValueType::kList;
      return read_blob(r, parse_ziplist, out);
    case kTypeSetIntset:
      out->type = ValueType::kSet;
      return read_blob(r, parse_intset, out);
    case kTypeZSetZiplist:
    case kTypeZSetListpack:
      out->type = ValueType::kZSet;
      return read_blob(r, rdb_type == kTypeZSetZiplist ? parse_ziplist : parse_listpack, out) &&
             split_scores(r, out);
    case kTypeHashZiplist:
    case kTypeHashListpack:
      out->type = ValueType::kHash;
      if (!read_blob(r, rdb_type == kTypeHashZiplist ? parse_ziplist : parse_listpack, out))
        return false;
      if (out->items.size() % 2 != 0) return r.fail("hash blob with an odd element count");
      return true;
    case kTypeHashZipmap:
      return r.fail("zipmap hashes (RDB files of Redis before 2.6) are not supported");
    case kTypeStreamListpacks:
    case kTypeStreamListpacks2:
      return r.fail("streams are not supported by tiercache-l2");
    case kTypeModule:
    case kTypeModule2:
      return r.fail("module values are not supported by tiercache-l2");
    default:
      return r.fail("unknown object type " + std::to_string(rdb_type));
  }
}

bool install(Keyspace& ks, int db, std::string_view key, Decoded&& d, int64_t expire_at,
             std::string* error) {
  bool dup = false;
  switch (d.type) {
    case ValueType::kString:
      ks.set(db, key, d.str, expire_at);
      return true;
    case ValueType::kList: {
      auto* v = ks.create<ListValue>(db, key);
      for (const auto& s : d.items) v->items().push_back(make_str(s));
      break;
    }
    case ValueType::kSet: {
      auto* v = ks.create<SetValue>(db, key);
      for (const auto& s : d.items) dup |= !v->add(s);
      break;
    }
    case ValueType::kHash: {
      auto* v = ks.create<HashValue>(db, key);
      for (size_t i = 0; i + 1 < d.items.size(); i += 2) dup |= !v->set(d.items[i], d.items[i + 1]);
      break;
    }
    case ValueType::kZSet: {
      auto* v = ks.create<ZSetValue>(db, key);
      size_t longest = 0;
      for (const auto& s : d.items) longest = std::max(longest, s.size());
      v->prepare(d.items.size(), longest);
      for (size_t i = 0; i < d.items.size(); ++i) {
        dup |= v->score(d.items[i]).has_value();
        v->set(d.items[i], d.scores[i]);
      }
      break;
    }
  }
  if (dup) {
    ks.remove(db, key);
    *error = "duplicate members in a collection";
    return false;
  }
  if (expire_at != 0) ks.set_expire(db, ks.lookup_write(db, key, 0), expire_at);
  return true;
}

std::string dump_payload(const Entry& e) {
  std::string out;
  put_object(out, e);
  put_le(out, kRdbVersion, 2);
  put_le(out, crc64(0, out), 8);
  return out;
}

PayloadStatus read_payload(std::string_view payload, Decoded* out) {
  if (payload.size() < 10) return PayloadStatus::kBadVersionOrChecksum;
  const auto* footer = reinterpret_cast<const unsigned char*>(payload.data() + payload.size() - 10);
  unsigned version = footer[0] | (footer[1] << 8);
  if (version > kRdbVersion) return PayloadStatus::kBadVersionOrChecksum;
  uint64_t crc = 0;
  for (int i = 7; i >= 0; --i) crc = (crc << 8) | footer[2 + i];
  if (crc64(0, payload.substr(0, payload.size() - 8)) != crc)
    return PayloadStatus::kBadVersionOrChecksum;
  Reader r(payload);  // as Redis: the object is read from the whole payload, footer included
  uint8_t type;
  if (!r.u8(&type) || !is_object_type(type) || !read_object(r, type, out) || out->empty())
    return PayloadStatus::kBadFormat;
  return PayloadStatus::kOk;
}

}  // namespace tiercache::l2::persistence
