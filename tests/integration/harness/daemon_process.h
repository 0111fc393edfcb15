#pragma once

// Runs the real triaged binary against a TOML config written to a fresh temporary directory.
// Startup contract: the daemon prints a JSON log line containing "event":"listening" with
// "listen":"127.0.0.1:PORT" (and "admin":"127.0.0.1:PORT" unless the admin listener is off);
// the harness then waits for GET /readyz to answer 200. The destructor kills the daemon if it
// still runs (RAII guard) and removes the temporary directory.

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "harness/http_client.h"
#include "harness/process.h"

namespace triaged::test {

// A directory made by mkdtemp under /tmp, removed recursively on destruction.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }
  // Writes `content` to path()/name and returns the full path.
  std::string write(const std::string& name, const std::string& content) const;

 private:
  std::string path_;
};

class DaemonProcess {
 public:
  // Throws std::runtime_error, carrying the daemon's output, when it does not become ready.
  // `command_prefix` runs the daemon under another program, e.g. {"/usr/bin/prlimit",
  // "--nofile=128:128", "--"} for a descriptor limit of its own.
  explicit DaemonProcess(const std::string& config_toml, std::vector<std::string> extra_args = {},
                         std::map<std::string, std::string> extra_env = {},
                         std::vector<std::string> command_prefix = {});

  uint16_t port() const { return port_; }
  uint16_t adminPort() const { return admin_port_; }  // 0 when the admin listener is off
  const std::string& configPath() const { return config_path_; }

  std::vector<std::string> logLines() const { return process_->lines(); }
  std::vector<std::string> logLinesContaining(std::string_view s) const {
    return process_->linesContaining(s);
  }
  std::optional<std::string> waitForLog(std::string_view substring,
                                        std::chrono::milliseconds timeout = 5s);
  std::optional<std::string> waitForLog(const std::function<bool(const std::string&)>& pred,
                                        std::chrono::milliseconds timeout = 5s);

  // GET `path` on the admin listener over a fresh connection.
  Response admin(std::string_view path, std::chrono::milliseconds timeout = 5s) const;

  // SIGTERM, then wait: the exit code, or -1 after a SIGKILL when the timeout passed.
  int stop(std::chrono::milliseconds timeout = 10s);
  uint64_t rssKb() const { return process_->rssKb(); }
  uint64_t peakRssKb() const { return process_->peakRssKb(); }
  bool resetPeakRss() const { return process_->resetPeakRss(); }
  Process& process() { return *process_; }

 private:
  std::string dirConfig() const;
  [[noreturn]] void failStartup(const std::string& what);

  TempDir dir_;
  std::string config_path_;
  std::unique_ptr<Process> process_;
  uint16_t port_ = 0;
  uint16_t admin_port_ = 0;
};

// A config with [server] listen and admin_listen on 127.0.0.1:0, one [[upstream]] "app" with
// the single endpoint `upstream_address`, and one [[route]] "/" -> "app". The extra keys are
// TOML lines appended inside [server] and [[upstream]] respectively.
std::string basicConfig(const std::string& upstream_address,
                        const std::string& extra_upstream_keys = "",
                        const std::string& extra_server_keys = "");

// basicConfig() plus a second [[upstream]] "gone" on a closed port with no retry (so one
// request is one connect_refused failure), routed from "/gone".
std::string configWithRefusedUpstream(const std::string& app_address);

// The value of the first `"key":` in a JSON text, as text: strings unescaped, numbers, bools and
// null as written, objects and arrays as their raw JSON. nullopt when absent.
std::optional<std::string> jsonField(const std::string& json, const std::string& key);

// The items of a JSON array text ("[{...}, {...}]"), each as its raw JSON; empty when `array` is
// not an array.
std::vector<std::string> jsonArrayItems(const std::string& array);

}  // namespace triaged::test
