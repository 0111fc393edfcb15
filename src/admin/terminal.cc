#include "triaged/admin/terminal.h"

#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string_view>

namespace triaged::admin {

bool stdoutWantsColour() {
  if (::isatty(STDOUT_FILENO) == 0) return false;
  if (std::getenv("NO_COLOR") != nullptr) return false;
  const char* term = std::getenv("TERM");
  return term == nullptr || std::string_view(term) != "dumb";
}

const char* causeColour(const diagnose::CauseInfo& info) {
  return info.severity == diagnose::Severity::Error ? kRed : kYellow;
}

int usageError(std::string_view command, std::string_view problem, std::string_view usage) {
  std::fprintf(stderr, "triaged %.*s: %.*s\n", static_cast<int>(command.size()), command.data(),
               static_cast<int>(problem.size()), problem.data());
  std::fwrite(usage.data(), 1, usage.size(), stderr);
  return 2;
}

int writeReport(std::string_view command, std::string report) {
  if (!report.empty() && report.back() != '\n') report.push_back('\n');
  if (std::fwrite(report.data(), 1, report.size(), stdout) != report.size() ||
      std::fflush(stdout) != 0) {
    std::fprintf(stderr, "triaged %.*s: writing the report failed: %s\n",
                 static_cast<int>(command.size()), command.data(), std::strerror(errno));
    return 1;
  }
  return 0;
}

}  // namespace triaged::admin
