// Which address is the L2 now: the one seam every L2 connection of the sidecar (the data link,
// the invalidation source, client pub/sub relays, dedicated links) asks before it connects
// (LinkOptions::locator). Two answers stand behind it (l2-mode):
//   FixedLocator (standalone, the default): the one address of the `l2` option, always.
//   SentinelLocator (sentinel, link/sentinel_locator.h): the master Redis Sentinel names,
//     discovered and followed across failovers.
// A locator tells its Listener when the L2 is (again) known and whether it moved: a move means
// nothing read from the old address may be answered or cached any more.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace tiercache::sidecar {

struct Endpoint {
  bool unix_socket = false;
  std::string host;  // or the socket path
  int port = 0;
  bool operator==(const Endpoint&) const = default;
};
// Parses "HOST:PORT" or "unix:PATH"; false with *error.
bool parse_endpoint(std::string_view s, Endpoint* out, std::string* error);
// Parses a comma-separated list of endpoints (at least one); false with *error.
bool parse_endpoint_list(std::string_view s, std::vector<Endpoint>* out, std::string* error);
// "HOST:PORT" or "unix:PATH" (INFO, logs).
std::string endpoint_text(const Endpoint& e);

class L2Locator {
 public:
  class Listener {
   public:
    virtual ~Listener() = default;
    // The L2 is known (again) at `now`. moved: it is not where it was before (a failover):
    // every connection must move and nothing cached from the old one may be answered.
    virtual void on_l2_located(const Endpoint& now, bool moved) = 0;
  };

  virtual ~L2Locator() = default;
  // Starts finding the L2; the listener hears every (re)location until stop().
  virtual void start(Listener* listener) = 0;
  virtual void stop() = 0;
  // Where an L2 connection should go now; false with *why while no address is known (discovery
  // under way): the connection retries with its backoff.
  virtual bool locate(Endpoint* out, std::string* why) const = 0;
  // The data link to the L2 was lost: the L2 may have moved while it was away.
  virtual void link_lost() = 0;
  // INFO fields: l2_mode, l2_master, l2_master_switches, l2_sentinel.
  virtual void info(std::string& out) const = 0;
  virtual uint64_t switches() const = 0;
};

// standalone: the same address, always.
class FixedLocator final : public L2Locator {
 public:
  explicit FixedLocator(Endpoint e) : endpoint_(std::move(e)) {}
  void start(Listener*) override {}
  void stop() override {}
  bool locate(Endpoint* out, std::string*) const override {
    *out = endpoint_;
    return true;
  }
  void link_lost() override {}
  void info(std::string& out) const override;
  uint64_t switches() const override { return 0; }

 private:
  Endpoint endpoint_;
};

}  // namespace tiercache::sidecar
