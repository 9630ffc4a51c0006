// tiercache-sidecar entry point: configuration, then the event loop. Exceptions stop here.
#include <cstdio>
#include <exception>

#include "shared/log/log.h"
#include "sidecar/config.h"
#include "sidecar/sidecar.h"

int main(int argc, char** argv) {
  try {
    tiercache::sidecar::Config config;
    int rc = tiercache::sidecar::parse_command_line(argc, argv, &config);
    if (rc == 2) return 0;
    if (rc != 0) return 1;
    tiercache::log::setup("tiercache-sidecar");
    tiercache::log::set_level(tiercache::log::level_named(config.loglevel));
    tiercache::sidecar::Sidecar sidecar(std::move(config));
    std::string error;
    if (!sidecar.start(&error)) {
      fprintf(stderr, "tiercache-sidecar: %s\n", error.c_str());
      return 1;
    }
    return sidecar.run();
  } catch (const std::exception& e) {
    fprintf(stderr, "tiercache-sidecar: fatal: %s\n", e.what());
    return 1;
  }
}
