// The L2 link: what the sidecar's read and write paths need from their L2, as an interface.
// HiredisLink (link/hiredis_link.h) is today's implementation: one ordered connection. The
// same interface is the seam for a router over N links keyed by hash slot (one per Redis
// Cluster master) and for an in-process fake in unit tests.
#pragma once

#include <hiredis/hiredis.h>

#include <memory>
#include <span>
#include <string>
#include <string_view>

#include "shared/metrics/histogram.h"

namespace tiercache::sidecar {

// The continuation of one L2 request. The link owns it from send() until it has called
// on_reply exactly once (in request order), then destroys it.
class Completion {
 public:
  virtual ~Completion() = default;
  // reply is nullptr when the request failed (link down, timeout, shutdown);
  // L2Link::last_error() says why. The reply is valid during the call only.
  virtual void on_reply(const redisReply* reply) = 0;
};

class L2Link {
 public:
  virtual ~L2Link() = default;
  // Starts connecting (and reconnecting); stop() fails what is pending and stays down.
  virtual void start() = 0;
  virtual void stop() = 0;
  virtual bool connected() const = 0;
  // Drops the connection (what is in flight fails) and connects again, to where the L2 is now
  // (link/l2_locator.h): the L2 moved. A link that is never re-established is lost instead.
  virtual void reconnect(const std::string& why) = 0;
  // Why the last request failed or the link went down.
  virtual const std::string& last_error() const = 0;
  // Queues one command. `done` may be null (the reply is dropped). When the link cannot take
  // the request, done->on_reply(nullptr) runs before send returns false.
  virtual bool send(std::span<const std::string_view> args, std::unique_ptr<Completion> done) = 0;
  // Same, with the command already in RESP form.
  virtual bool send_formatted(std::string_view resp, std::unique_ptr<Completion> done) = 0;
  // For INFO.
  virtual uint64_t reconnects() const = 0;
  virtual const metrics::Histogram& latency_us() const = 0;
};

}  // namespace tiercache::sidecar
