// ClusterLink's internals shared by its files (cluster_link.cc, cluster_nodes.cc,
// cluster_txn.cc): the Op, one caller request on its way through the FIFO, and the SlotTxn,
// one hash slot's part of a transaction. Not for other users.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "sidecar/cluster/cluster_link.h"

namespace tiercache::sidecar::cluster {

// One caller request. The reply is merged from its parts, then held as RESP until every
// earlier Op was answered.
struct ClusterLink::Op {
  enum class Merge { kPass, kSplit, kAll, kScan, kExec };
  std::unique_ptr<Completion> done;
  Merge merge = Merge::kPass;
  size_t waiting = 0;  // parts not answered yet
  bool complete = false;
  bool failed = false;  // a part got no reply: the Op answers nullptr
  std::string error;    // the first error reply of a merged part
  std::string reply;    // RESP, once complete
  // Merging: elements by position (kSplit arrays, kExec), concatenated (kAll), sums.
  std::vector<std::vector<size_t>> positions;  // part -> positions of its elements
  std::vector<std::string> elements;
  std::vector<std::optional<long long>> sums;  // kExec: integers of a split command, summed
  int shape = 0;  // kAll/kSplit: REDIS_REPLY_* seen
  long long sum = 0;
  std::string first;  // kAll: the first status or non-nil string
  int scan_master = 0;
  bool retry_tryagain = false;  // a read: answered TRYAGAIN, sent again at the next tick
};

// One hash slot's MULTI ... EXEC of a transaction (cluster_txn.cc).
struct ClusterLink::SlotTxn {
  struct Cmd {
    std::string wire;
    Op* op;             // the queued command's own Op (answered QUEUED, or its error)
    std::string reply;  // this attempt's reply, RESP
    bool answered = false;
  };
  Op* exec_op = nullptr;
  size_t group = 0;  // its part of exec_op
  int slot = -1;
  std::vector<Cmd> cmds;
  int redirects = 0;
  int tryagains = 0;
  // This attempt: the first redirection met, and whether every error met allows a resend.
  bool redirected = false;
  Redirect where;
  bool tryagain = false;
  bool other_error = false;
  Endpoint at;
};

}  // namespace tiercache::sidecar::cluster
