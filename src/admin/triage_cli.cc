#include "triaged/admin/triage_cli.h"

#include <chrono>
#include <cstdio>
#include <optional>
#include <string>

#include "triaged/admin/http_get.h"
#include "triaged/admin/terminal.h"
#include "triaged/diagnose/failure.h"
#include "triaged/diagnose/failure_table.h"

namespace triaged::admin {
namespace {

constexpr std::chrono::seconds kTimeout{5};

constexpr const char* kUsage =
    "usage: triaged triage --admin HOST:PORT [--json]\n"
    "  --admin HOST:PORT  the daemon's admin listener (server.admin_listen), e.g.\n"
    "                     127.0.0.1:9901 or [::1]:9901\n"
    "  --json             print the JSON report instead of the text table\n"
    "The text report is coloured when stdout is a terminal, unless NO_COLOR is set or\n"
    "TERM=dumb.\n";

int usageError(const std::string& problem) { return admin::usageError("triage", problem, kUsage); }

bool isWordChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
}

// True when `word` occurs in `line` with no word character on either side.
bool containsWord(std::string_view line, std::string_view word) {
  for (size_t at = line.find(word); at != std::string_view::npos; at = line.find(word, at + 1)) {
    const bool left_ok = at == 0 || !isWordChar(line[at - 1]);
    const size_t after = at + word.size();
    const bool right_ok = after >= line.size() || !isWordChar(line[after]);
    if (left_ok && right_ok) return true;
  }
  return false;
}

bool isHeading(std::string_view line) {
  if (line.empty() || line.front() == ' ' || line.front() == '\t') return false;
  if (line.starts_with("triaged triage report") || line.front() == '#') return true;
  if (line.back() == ':') return true;
  // The table's column header: capitals, digits and spaces only ("UPSTREAM CAUSE ... 1m"
  // has lower-case 'm', so allow that one letter after a digit).
  bool has_letter = false;
  for (size_t i = 0; i < line.size(); ++i) {
    const char c = line[i];
    if (c >= 'A' && c <= 'Z') {
      has_letter = true;
    } else if (c == 'm' && i > 0 && line[i - 1] >= '0' && line[i - 1] <= '9') {
      continue;
    } else if (c != ' ' && c != '\t' && c != '_' && c != '-' && !(c >= '0' && c <= '9')) {
      return false;
    }
  }
  return has_letter;
}

// The colour for a line naming failures, or nullptr. 503 and causes that mean "too busy" or
// "the client's doing" are yellow; everything else (502, 504, crashes, timeouts) is red.
const char* severityColour(std::string_view line) {
  if (containsWord(line, "502") || containsWord(line, "504")) return kRed;
  if (containsWord(line, "503")) return kYellow;
  for (const auto& info : diagnose::allCauses()) {
    if (containsWord(line, info.name)) return causeColour(info);
  }
  return nullptr;
}

}  // namespace

std::string colorizeTriageText(std::string_view text) {
  std::string out;
  out.reserve(text.size() + text.size() / 8);
  while (!text.empty()) {
    const size_t eol = text.find('\n');
    const std::string_view line = text.substr(0, eol);
    const char* colour = isHeading(line) ? kBold : severityColour(line);
    if (colour != nullptr && !line.empty()) {
      out.append(colour).append(line).append(kReset);
    } else {
      out.append(line);
    }
    if (eol == std::string_view::npos) break;
    out.push_back('\n');
    text.remove_prefix(eol + 1);
  }
  return out;
}

int runTriageCommand(const std::vector<std::string_view>& args) {
  std::optional<std::string_view> admin;
  bool json = false;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string_view a = args[i];
    if (a == "--help" || a == "-h") {
      std::fputs(kUsage, stdout);
      return 0;
    }
    if (a == "--json") {
      json = true;
    } else if (a == "--admin") {
      if (i + 1 >= args.size()) return usageError("--admin needs HOST:PORT");
      admin = args[++i];
    } else if (a.starts_with("--admin=")) {
      admin = a.substr(8);
    } else {
      return usageError("unknown argument: " + std::string(a));
    }
  }
  if (!admin) return usageError("--admin HOST:PORT is required");
  const std::optional<HttpEndpoint> target = parseHttpEndpoint(*admin);
  if (!target || !target->base_path.empty()) {
    return usageError("--admin wants HOST:PORT (IPv6 as [ADDR]:PORT), not '" + std::string(*admin) +
                      "'");
  }

  HttpGetOptions options;
  options.timeout = kTimeout;
  options.user_agent = "triaged-triage/" TRIAGED_VERSION;
  options.headers = {{"Accept", json ? "application/json" : "text/plain"}};
  const HttpGetResult got =
      httpGet(*target, json ? "/debug/triage" : "/debug/triage?format=text", options);
  if (!got.reply) {
    std::fprintf(stderr, "triaged triage: %s %s: %s\n",
                 got.unreachable ? "cannot reach admin listener" : "admin listener",
                 std::string(*admin).c_str(), got.problem.c_str());
    return 1;
  }
  const HttpReply& reply = *got.reply;
  if (reply.status != 200) {
    std::fprintf(stderr, "triaged triage: admin listener %s answered %d %s\n",
                 std::string(*admin).c_str(), reply.status, reply.reason.c_str());
    std::fwrite(reply.body.data(), 1, reply.body.size(), stderr);
    if (!reply.body.empty() && reply.body.back() != '\n') std::fputc('\n', stderr);
    return 1;
  }
  return writeReport("triage",
                     !json && stdoutWantsColour() ? colorizeTriageText(reply.body) : reply.body);
}

}  // namespace triaged::admin
