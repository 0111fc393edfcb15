#pragma once

// The one HTTP client of triaged's own command-line tools (`triaged triage` to the admin port,
// `triaged health` as a container probe, `triaged fleet` to Prometheus's API): a blocking,
// one-shot GET over a fresh connection, with one deadline for the whole exchange. Plain sockets
// and poll() — the tools run in the foreground of a shell or a probe, on the main thread, and
// are gone when the answer is printed — and the response is parsed by the daemon's own strict
// HTTP parser (http::MessageParser, llhttp), so framing and chunked bodies are not parsed twice.

#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace triaged::admin {

// Where to send requests: "HOST:PORT", "[V6]:PORT", or an http:// URL with an optional path
// prefix ("http://prometheus.monitoring:9090/prom", which a reverse proxy in front of
// Prometheus may need). https:// is refused: the tools talk to loopback, in-cluster services or
// a `kubectl port-forward`.
struct HttpEndpoint {
  std::string host;       // without brackets, for getaddrinfo
  std::string port;       // decimal
  std::string authority;  // for the Host header and messages: "127.0.0.1:9901", "[::1]:9090"
  std::string base_path;  // "" or "/prom" (no trailing slash)
};

// nullopt when `text` is neither form (a missing or invalid port, an IPv6 literal without
// brackets, another scheme). A URL without a port gets 80.
std::optional<HttpEndpoint> parseHttpEndpoint(std::string_view text);

using HeaderList = std::vector<std::pair<std::string, std::string>>;

struct HttpReply {
  int status = 0;
  std::string reason;
  HeaderList headers;
  std::string body;
};

struct HttpGetResult {
  // Set when a complete response arrived (whatever its status).
  std::optional<HttpReply> reply;
  // Otherwise: whether the connection could not be made at all (name, refused, unreachable,
  // timed out), and a short reason ("Connection refused", "no complete response within 5 s").
  bool unreachable = false;
  std::string problem;
};

struct HttpGetOptions {
  std::chrono::milliseconds timeout{5000};  // connect, send and read, all together
  HeaderList headers;                       // beyond Host, User-Agent and Connection: close
  std::string user_agent = "triaged";
  size_t max_body_bytes = 64 * 1024 * 1024;
};

// GET base_path + `path_and_query` (which starts with '/').
HttpGetResult httpGet(const HttpEndpoint& where, std::string_view path_and_query,
                      const HttpGetOptions& options = {});

// Percent-encodes `text` for a query parameter value (RFC 3986 unreserved characters kept).
std::string urlEncode(std::string_view text);

}  // namespace triaged::admin
