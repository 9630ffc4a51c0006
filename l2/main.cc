// tiercache-l2 entry point: configuration, then the server loop. Exceptions stop here.
#include <spdlog/sinks/basic_file_sink.h>
#include <spdlog/spdlog.h>

#include <cstdio>
#include <exception>

#include "l2/config.h"
#include "l2/server.h"

int main(int argc, char** argv) {
  try {
    tiercache::l2::Config config;
    int rc = tiercache::l2::parse_command_line(argc, argv, &config);
    if (rc == 2) return 0;
    if (rc != 0) return 1;
    if (!config.logfile.empty()) {
      spdlog::set_default_logger(spdlog::basic_logger_mt("tiercache-l2", config.logfile));
    }
    spdlog::set_pattern("%Y-%m-%dT%H:%M:%S.%e %^%l%$ tiercache-l2[%P] %v");
    tiercache::l2::Server server(std::move(config));
    if (!server.load_data() || !server.listen()) return 1;
    return server.run();
  } catch (const std::exception& e) {
    fprintf(stderr, "tiercache-l2: fatal: %s\n", e.what());
    return 1;
  }
}
