// A test fixture for l2 unit tests: a server that never listens and an internal client that
// runs commands through the real dispatcher and returns their raw replies.
#pragma once

#include <initializer_list>
#include <string>
#include <string_view>
#include <vector>

#include "l2/client.h"
#include "l2/server.h"

namespace tiercache::l2::testing {

struct DirectClient {
  Server server{Config{}};
  Client* client;  // internal: freed by close()

  DirectClient() : client(new Client(&server, 1000, Client::Kind::kInternal)) {
    client->authenticated = true;
  }
  ~DirectClient() { client->close(); }

  // Runs one command and returns its raw reply.
  std::string run(std::initializer_list<std::string_view> args) {
    std::vector<std::string_view> v(args);
    client->out.clear();
    server.execute(*client, v);
    return client->out;
  }
  std::string eval(std::string_view script, std::initializer_list<std::string_view> rest = {}) {
    std::vector<std::string_view> v{"EVAL", script};
    if (rest.size() == 0) v.push_back("0");
    v.insert(v.end(), rest.begin(), rest.end());
    client->out.clear();
    server.execute(*client, v);
    return client->out;
  }
};

}  // namespace tiercache::l2::testing
