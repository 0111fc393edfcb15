#include "triaged/admin/terminal.h"

#include <unistd.h>

#include <cstdlib>
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

}  // namespace triaged::admin
