// tiercache-l2 entry point: configuration, then the server loop. Exceptions stop here.
#include <cstdio>
#include <exception>

#include "l2/config.h"
#include "l2/server.h"
#include "shared/log/log.h"

int main(int argc, char** argv) {
  try {
    tiercache::l2::Config config;
    int rc = tiercache::l2::parse_command_line(argc, argv, &config);
    if (rc == 2) return 0;
    if (rc != 0) return 1;
    tiercache::log::setup("tiercache-l2", config.logfile);
    tiercache::l2::Server server(std::move(config));
    if (!server.listen()) return 1;
    return server.run();
  } catch (const std::exception& e) {
    fprintf(stderr, "tiercache-l2: fatal: %s\n", e.what());
    return 1;
  }
}
