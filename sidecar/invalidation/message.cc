// Invalidation message codec (see message.h), on msgpack-c++ (header-only, without Boost).
#include "sidecar/invalidation/message.h"

#define MSGPACK_NO_BOOST 1
#include <msgpack.hpp>

namespace tiercache::sidecar::invalidation {

std::string encode(const Message& m) {
  msgpack::sbuffer buf;
  msgpack::packer<msgpack::sbuffer> pk(buf);
  pk.pack_array(5);
  pk.pack_uint32(kVersion);
  pk.pack_uint64(m.origin);
  pk.pack_uint64(m.seq);
  pk.pack_uint64(m.sent_at_us);
  pk.pack_array(static_cast<uint32_t>(m.groups.size()));
  for (const Group& g : m.groups) {
    pk.pack_array(3);
    pk.pack_uint32(g.db);
    if (g.flush)
      pk.pack_true();
    else
      pk.pack_false();
    pk.pack_array(static_cast<uint32_t>(g.keys.size()));
    for (const std::string& k : g.keys) {
      pk.pack_bin(static_cast<uint32_t>(k.size()));
      pk.pack_bin_body(k.data(), static_cast<uint32_t>(k.size()));
    }
  }
  return std::string(buf.data(), buf.size());
}

namespace {

bool as_uint(const msgpack::object& o, uint64_t* v) {
  if (o.type != msgpack::type::POSITIVE_INTEGER) return false;
  *v = o.via.u64;
  return true;
}

}  // namespace

bool decode(std::string_view data, Message* out, std::string* error, const DecodeLimits& limits) {
  msgpack::unpack_limit unpack_limits(limits.max_groups + limits.max_keys + 8,  // arrays
                                      0,                                        // maps
                                      limits.max_key_bytes,                     // str
                                      limits.max_key_bytes,                     // bin
                                      0,                                        // ext
                                      8);                                       // depth
  msgpack::object_handle handle;
  try {
    size_t offset = 0;
    handle = msgpack::unpack(data.data(), data.size(), offset, nullptr, nullptr, unpack_limits);
    if (offset != data.size()) {
      *error = "trailing bytes after the message";
      return false;
    }
  } catch (const std::exception& e) {
    *error = std::string("not msgpack: ") + e.what();
    return false;
  }
  const msgpack::object& root = handle.get();
  if (root.type != msgpack::type::ARRAY || root.via.array.size != 5) {
    *error = "not a 5-element array";
    return false;
  }
  const msgpack::object* f = root.via.array.ptr;
  uint64_t version = 0;
  if (!as_uint(f[0], &version) || version != kVersion) {
    *error = "unsupported version";
    return false;
  }
  Message m;
  if (!as_uint(f[1], &m.origin) || !as_uint(f[2], &m.seq) || !as_uint(f[3], &m.sent_at_us)) {
    *error = "bad header field";
    return false;
  }
  if (f[4].type != msgpack::type::ARRAY || f[4].via.array.size > limits.max_groups) {
    *error = "bad group list";
    return false;
  }
  size_t total_keys = 0;
  for (uint32_t i = 0; i < f[4].via.array.size; ++i) {
    const msgpack::object& go = f[4].via.array.ptr[i];
    if (go.type != msgpack::type::ARRAY || go.via.array.size != 3) {
      *error = "bad group";
      return false;
    }
    const msgpack::object* gf = go.via.array.ptr;
    Group g;
    uint64_t db = 0;
    if (!as_uint(gf[0], &db) || db > kAllDbs || gf[1].type != msgpack::type::BOOLEAN ||
        gf[2].type != msgpack::type::ARRAY) {
      *error = "bad group field";
      return false;
    }
    g.db = static_cast<uint32_t>(db);
    g.flush = gf[1].via.boolean;
    total_keys += gf[2].via.array.size;
    if (total_keys > limits.max_keys) {
      *error = "too many keys";
      return false;
    }
    for (uint32_t k = 0; k < gf[2].via.array.size; ++k) {
      const msgpack::object& ko = gf[2].via.array.ptr[k];
      if (ko.type == msgpack::type::BIN)
        g.keys.emplace_back(ko.via.bin.ptr, ko.via.bin.size);
      else if (ko.type == msgpack::type::STR)
        g.keys.emplace_back(ko.via.str.ptr, ko.via.str.size);
      else {
        *error = "key is not bytes";
        return false;
      }
    }
    m.groups.push_back(std::move(g));
  }
  *out = std::move(m);
  return true;
}

}  // namespace tiercache::sidecar::invalidation
