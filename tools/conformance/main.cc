// triaged_conformance: runs the conformance corpus (tests/conformance) through any proxy that
// forwards to a triaged_recording_upstream, and prints one line per vector:
//   DIR/NAME <TAB> what happened (describe()) <TAB> "ok" or the verdict's problems
// bench/conformance.sh uses it to set triaged, nginx and HAProxy side by side; the integration
// test conformance_test.cc checks triaged against the verdicts with the same runner.
//
//   triaged_conformance --proxy 127.0.0.1:PORT --control 127.0.0.1:PORT [--bytes] DIR...
// --bytes adds a fourth column: what reached the upstream (request vectors) or the client
// (response vectors), escaped and normalized, for writing a verdict after reviewing it.
// A DIR whose name ends in "responses" holds response vectors. Exits 0 whatever the verdicts.

#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "runner.h"

namespace {

conformance::Address parseAddress(const std::string& s) {
  const size_t colon = s.rfind(':');
  conformance::Address a;
  a.host = s.substr(0, colon);
  a.port = static_cast<uint16_t>(std::stoi(s.substr(colon + 1)));
  return a;
}

}  // namespace

int main(int argc, char** argv) {
  conformance::Address proxy;
  conformance::Address control;
  std::vector<std::string> dirs;
  bool bytes = false;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--proxy" && i + 1 < argc) {
      proxy = parseAddress(argv[++i]);
    } else if (arg == "--control" && i + 1 < argc) {
      control = parseAddress(argv[++i]);
    } else if (arg == "--bytes") {
      bytes = true;
    } else if (!arg.empty() && arg[0] != '-') {
      dirs.push_back(arg);
    } else {
      fprintf(stderr, "usage: triaged_conformance --proxy HOST:PORT --control HOST:PORT DIR...\n");
      return 2;
    }
  }
  if (proxy.port == 0 || control.port == 0 || dirs.empty()) {
    fprintf(stderr, "usage: triaged_conformance --proxy HOST:PORT --control HOST:PORT DIR...\n");
    return 2;
  }
  for (const std::string& dir : dirs) {
    const bool responses = dir.size() >= 9 && dir.compare(dir.size() - 9, 9, "responses") == 0;
    const std::string label = dir.substr(dir.find_last_of('/') + 1);
    for (const conformance::Vector& v : conformance::loadVectors(dir)) {
      const conformance::Outcome o = responses ? conformance::runResponseVector(proxy, control, v)
                                               : conformance::runRequestVector(proxy, control, v);
      const auto problems = conformance::checkVerdict(v, o, responses);
      std::string verdict = problems.empty() ? "ok" : "";
      for (const auto& p : problems) verdict += (verdict.empty() ? "" : "; ") + p;
      std::string seen;
      if (bytes) {
        if (responses) {
          for (const auto& r : o.responses) seen += r.raw;
        } else {
          seen = o.forwarded();
        }
        seen = "\t" + conformance::escape(conformance::normalize(seen));
      }
      printf("%s/%s\t%s\t%s%s\n", label.c_str(), v.name.c_str(), conformance::describe(o).c_str(),
             verdict.c_str(), seen.c_str());
      fflush(stdout);
    }
  }
  return 0;
}
