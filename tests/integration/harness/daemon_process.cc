#include "harness/daemon_process.h"

#include <unistd.h>

#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <stdexcept>

#include "harness/fake_upstream.h"

namespace triaged::test {
namespace {

uint16_t portOf(const std::string& address) {
  auto colon = address.rfind(':');
  if (colon == std::string::npos) throw std::runtime_error("no port in '" + address + "'");
  unsigned long p = std::stoul(address.substr(colon + 1));
  if (p == 0 || p > 65535) throw std::runtime_error("bad port in '" + address + "'");
  return static_cast<uint16_t>(p);
}

size_t skipSpace(const std::string& s, size_t i) {
  while (i < s.size() && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r')) ++i;
  return i;
}

// Parses the JSON string starting at s[i] == '"'. Returns the index after the closing quote,
// or npos when unterminated.
size_t parseString(const std::string& s, size_t i, std::string& out) {
  out.clear();
  for (++i; i < s.size(); ++i) {
    char c = s[i];
    if (c == '"') return i + 1;
    if (c != '\\') {
      out.push_back(c);
      continue;
    }
    if (++i >= s.size()) return std::string::npos;
    switch (s[i]) {
      case 'n':
        out.push_back('\n');
        break;
      case 't':
        out.push_back('\t');
        break;
      case 'r':
        out.push_back('\r');
        break;
      case 'b':
        out.push_back('\b');
        break;
      case 'f':
        out.push_back('\f');
        break;
      case 'u': {
        if (i + 4 >= s.size()) return std::string::npos;
        unsigned long cp = std::strtoul(s.substr(i + 1, 4).c_str(), nullptr, 16);
        if (cp < 0x80) {
          out.push_back(static_cast<char>(cp));
        } else if (cp < 0x800) {
          out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
          out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
        } else {
          out.push_back(static_cast<char>(0xE0 | (cp >> 12)));
          out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
          out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
        }
        i += 4;
        break;
      }
      default:
        out.push_back(s[i]);
        break;  // \" \\ \/
    }
  }
  return std::string::npos;
}

// The raw text of the value at s[i] for objects, arrays and scalars.
std::optional<std::string> rawValue(const std::string& s, size_t i) {
  if (i >= s.size()) return std::nullopt;
  if (s[i] == '{' || s[i] == '[') {
    int depth = 0;
    std::string ignored;
    for (size_t j = i; j < s.size();) {
      if (s[j] == '"') {
        j = parseString(s, j, ignored);
        if (j == std::string::npos) return std::nullopt;
        continue;
      }
      if (s[j] == '{' || s[j] == '[') ++depth;
      if (s[j] == '}' || s[j] == ']') {
        if (--depth == 0) return s.substr(i, j + 1 - i);
      }
      ++j;
    }
    return std::nullopt;
  }
  size_t j = i;
  while (j < s.size() && s[j] != ',' && s[j] != '}' && s[j] != ']' && s[j] != ' ' && s[j] != '\n' &&
         s[j] != '\r' && s[j] != '\t') {
    ++j;
  }
  if (j == i) return std::nullopt;
  return s.substr(i, j - i);
}

}  // namespace

// ---- TempDir ----------------------------------------------------------------------------------

TempDir::TempDir() {
  char tmpl[] = "/tmp/triaged-it-XXXXXX";
  if (mkdtemp(tmpl) == nullptr) throw std::runtime_error("mkdtemp failed");
  path_ = tmpl;
}

TempDir::~TempDir() {
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

std::string TempDir::write(const std::string& name, const std::string& content) const {
  std::string full = path_ + "/" + name;
  std::ofstream out(full, std::ios::binary);
  out << content;
  if (!out) throw std::runtime_error("cannot write " + full);
  return full;
}

// ---- DaemonProcess ----------------------------------------------------------------------------

DaemonProcess::DaemonProcess(const std::string& config_toml, std::vector<std::string> extra_args,
                             std::map<std::string, std::string> extra_env,
                             std::vector<std::string> command_prefix) {
  config_path_ = dir_.write("triaged.toml", config_toml);
  std::vector<std::string> argv = std::move(command_prefix);
  argv.insert(argv.end(), {TRIAGED_BINARY, "--config", config_path_});
  argv.insert(argv.end(), extra_args.begin(), extra_args.end());
  process_ = std::make_unique<Process>("triaged", std::move(argv), std::move(extra_env));

  auto line = process_->waitForLine(
      [](const std::string& l) { return l.find("\"event\":\"listening\"") != std::string::npos; },
      10s);
  if (!line) failStartup("did not log \"event\":\"listening\" within 10 s");
  auto listen = jsonField(*line, "listen");
  if (!listen) failStartup("listening line has no \"listen\" field: " + *line);
  port_ = portOf(*listen);
  if (auto admin_addr = jsonField(*line, "admin"); admin_addr && !admin_addr->empty()) {
    admin_port_ = portOf(*admin_addr);
  }
  if (admin_port_ == 0) return;

  auto deadline = std::chrono::steady_clock::now() + 5s;
  int last_status = 0;
  while (std::chrono::steady_clock::now() < deadline) {
    try {
      Response r = admin("/readyz", 1s);
      last_status = r.status;
      if (r.status == 200) return;
    } catch (const std::exception&) {
      last_status = -1;
    }
    if (!process_->running()) break;
    // Back off until the daemon says something new or 20 ms pass, whichever is first.
    process_->waitForLineCount(process_->lines().size(), 20ms);
  }
  failStartup("/readyz did not answer 200 within 5 s (last status " + std::to_string(last_status) +
              ")");
}

void DaemonProcess::failStartup(const std::string& what) {
  std::string status;
  if (auto code = process_->waitExit(0ms)) status = " (exited with " + std::to_string(*code) + ")";
  throw std::runtime_error("triaged " + what + status + "\nconfig:\n" + dirConfig() +
                           "\noutput:\n" + process_->output());
}

std::string DaemonProcess::dirConfig() const {
  std::ifstream in(config_path_);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

std::optional<std::string> DaemonProcess::waitForLog(std::string_view substring,
                                                     std::chrono::milliseconds timeout) {
  return process_->waitForLine(substring, timeout);
}

std::optional<std::string> DaemonProcess::waitForLog(
    const std::function<bool(const std::string&)>& pred, std::chrono::milliseconds timeout) {
  return process_->waitForLine(pred, timeout);
}

Response DaemonProcess::admin(std::string_view path, std::chrono::milliseconds timeout) const {
  if (admin_port_ == 0) throw std::runtime_error("the admin listener is disabled");
  HttpClient client(admin_port_);
  HttpClient::Options options;
  options.timeout = timeout;
  return client.get(path, {{"Connection", "close"}}, options);
}

int DaemonProcess::stop(std::chrono::milliseconds timeout) {
  process_->signal(SIGTERM);
  if (auto code = process_->waitExit(timeout)) return *code;
  process_->signal(SIGKILL);
  process_->waitExit(5s);
  return -1;
}

// ---- helpers ----------------------------------------------------------------------------------

std::string basicConfig(const std::string& upstream_address, const std::string& extra_upstream_keys,
                        const std::string& extra_server_keys) {
  std::string c;
  c += "[server]\n";
  c += "listen = \"127.0.0.1:0\"\n";
  c += "admin_listen = \"127.0.0.1:0\"\n";
  if (!extra_server_keys.empty()) c += extra_server_keys + "\n";
  c += "\n[[upstream]]\n";
  c += "name = \"app\"\n";
  c += "endpoints = [\"" + upstream_address + "\"]\n";
  if (!extra_upstream_keys.empty()) c += extra_upstream_keys + "\n";
  c += "\n[[route]]\n";
  c += "prefix = \"/\"\n";
  c += "upstream = \"app\"\n";
  return c;
}

std::string configWithRefusedUpstream(const std::string& app_address) {
  std::string c = basicConfig(app_address);
  c += "\n[[upstream]]\n";
  c += "name = \"gone\"\n";
  c += "endpoints = [\"127.0.0.1:" + std::to_string(closedPort()) + "\"]\n";
  c += "retries = 0\n";
  c += "\n[[route]]\n";
  c += "prefix = \"/gone\"\n";
  c += "upstream = \"gone\"\n";
  return c;
}

std::optional<std::string> jsonField(const std::string& json, const std::string& key) {
  std::string token;
  for (size_t i = 0; i < json.size();) {
    if (json[i] != '"') {
      ++i;
      continue;
    }
    size_t end = parseString(json, i, token);
    if (end == std::string::npos) return std::nullopt;
    size_t j = skipSpace(json, end);
    if (j < json.size() && json[j] == ':') {
      j = skipSpace(json, j + 1);
      if (token == key) {
        if (j < json.size() && json[j] == '"') {
          std::string value;
          if (parseString(json, j, value) == std::string::npos) return std::nullopt;
          return value;
        }
        return rawValue(json, j);
      }
      i = j;  // the value is scanned next: nested keys are found too
      continue;
    }
    i = end;
  }
  return std::nullopt;
}

std::vector<std::string> jsonArrayItems(const std::string& array) {
  std::vector<std::string> items;
  size_t i = skipSpace(array, 0);
  if (i >= array.size() || array[i] != '[') return items;
  i = skipSpace(array, i + 1);
  std::string ignored;
  while (i < array.size() && array[i] != ']') {
    std::optional<std::string> item;
    if (array[i] == '"') {
      const size_t end = parseString(array, i, ignored);
      if (end == std::string::npos) break;
      item = array.substr(i, end - i);
    } else {
      item = rawValue(array, i);
    }
    if (!item) break;
    items.push_back(*item);
    i = skipSpace(array, i + item->size());
    if (i < array.size() && array[i] == ',') i = skipSpace(array, i + 1);
  }
  return items;
}

}  // namespace triaged::test
