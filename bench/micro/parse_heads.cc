// Parser microbenchmark: nanoseconds to parse one request head and one response head of the
// shape the end-to-end benchmark sends (wrk's GET, nginx's 64-byte answer). The end-to-end run
// cannot see a 100 ns change under its 10-25% noise; this can, on a quiet core:
//   cmake --build build --target triaged_parse_bench && taskset -c 1 build/triaged_parse_bench
// It prints the best of five rounds. Not a test: it asserts nothing about speed.

#include <chrono>
#include <cstdio>
#include <string>

#include "triaged/http/message_parser.h"

namespace {

using triaged::http::Headers;
using triaged::http::MessageParser;

class CountHeads : public triaged::http::ParserCallbacks {
 public:
  void onHead() override { ++heads; }
  void onBody(const char* /*data*/, size_t len) override { body_bytes += len; }
  void onMessageComplete(const Headers& /*trailers*/) override { ++messages; }
  long heads = 0;
  long messages = 0;
  size_t body_bytes = 0;
};

}  // namespace

int main() {
  const std::string request = "GET /64 HTTP/1.1\r\nHost: 127.0.0.1:18080\r\n\r\n";
  const std::string response =
      "HTTP/1.1 200 OK\r\nServer: nginx/1.22.1\r\nDate: Tue, 01 Dec 2026 21:59:19 GMT\r\n"
      "Content-Type: text/plain\r\nContent-Length: 64\r\n"
      "Last-Modified: Tue, 01 Dec 2026 18:59:20 GMT\r\nConnection: keep-alive\r\n"
      "ETag: \"6b0f1908-40\"\r\nAccept-Ranges: bytes\r\n\r\n" +
      std::string(64, 'a');
  CountHeads counts;
  MessageParser req(MessageParser::Type::Request, counts, 64 * 1024);
  MessageParser resp(MessageParser::Type::Response, counts, 64 * 1024);
  constexpr long kPairs = 1'000'000;
  double best = 1e300;
  for (int round = 0; round < 5; ++round) {
    const auto t0 = std::chrono::steady_clock::now();
    for (long i = 0; i < kPairs; ++i) {
      req.feed(request.data(), request.size());
      req.resume();
      resp.feed(response.data(), response.size());
      resp.resume();
    }
    const auto t1 = std::chrono::steady_clock::now();
    const double ns = std::chrono::duration<double, std::nano>(t1 - t0).count() / kPairs;
    if (ns < best) best = ns;
  }
  if (counts.messages != 2 * 5 * kPairs) {
    std::fprintf(stderr, "parse_heads: %ld messages parsed, expected %ld\n", counts.messages,
                 2 * 5 * kPairs);
    return 1;
  }
  std::printf("request + response head: %.0f ns (best of 5 x %ld)\n", best, kPairs);
  return 0;
}
