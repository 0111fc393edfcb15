#include "triaged/http/message.h"

#include <catch2/catch.hpp>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace triaged::http {

TEST_CASE("knownHeader names every header triaged acts on, in any case", "[unit][http]") {
  const std::vector<std::pair<std::string_view, KnownHeader>> names = {
      {"Host", KnownHeader::Host},
      {"Content-Length", KnownHeader::ContentLength},
      {"Transfer-Encoding", KnownHeader::TransferEncoding},
      {"Connection", KnownHeader::Connection},
      {"Keep-Alive", KnownHeader::KeepAlive},
      {"Proxy-Connection", KnownHeader::ProxyConnection},
      {"TE", KnownHeader::Te},
      {"Upgrade", KnownHeader::Upgrade},
      {"Expect", KnownHeader::Expect},
      {"Trailer", KnownHeader::Trailer},
      {"Content-Encoding", KnownHeader::ContentEncoding},
      {"X-Forwarded-For", KnownHeader::XForwardedFor},
      {"X-Forwarded-Proto", KnownHeader::XForwardedProto},
      {"X-Forwarded-Host", KnownHeader::XForwardedHost},
      {"X-Request-Id", KnownHeader::XRequestId},
  };
  for (const auto& [name, kind] : names) {
    INFO(name);
    CHECK(knownHeader(name) == kind);
    std::string lower(name);
    std::string upper(name);
    for (char& c : lower) c = static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
    for (char& c : upper) c = static_cast<char>(c >= 'a' && c <= 'z' ? c - 'a' + 'A' : c);
    CHECK(knownHeader(lower) == kind);
    CHECK(knownHeader(upper) == kind);
  }
}

TEST_CASE("knownHeader: names of the same length that differ are Other", "[unit][http]") {
  for (std::string_view other :
       {"", "T", "TF", "Hist", "Accept", "Upgradf", "Connectiom", "X-Request-Ix", "Content-Lengtx",
        "X-Forwarded-Fox", "Proxy-Connectioo", "Transfer-Encodinh", "Host ", "Content-Type",
        "X-Forwarded-Port"}) {
    INFO(other);
    CHECK(knownHeader(other) == KnownHeader::Other);
  }
}

TEST_CASE("isHopByHopName is exactly RFC 9110's list", "[unit][http]") {
  for (KnownHeader k :
       {KnownHeader::Connection, KnownHeader::KeepAlive, KnownHeader::ProxyConnection,
        KnownHeader::Te, KnownHeader::TransferEncoding, KnownHeader::Upgrade}) {
    CHECK(isHopByHopName(k));
  }
  for (KnownHeader k : {KnownHeader::Other, KnownHeader::Host, KnownHeader::ContentLength,
                        KnownHeader::Trailer, KnownHeader::XRequestId}) {
    CHECK_FALSE(isHopByHopName(k));
  }
}

TEST_CASE("ConnectionTokens: every listed name, over several lines, case-insensitive",
          "[unit][http]") {
  const Headers headers = {
      {"Connection", "keep-alive, X-Secret"},
      {"Host", "a"},
      {"connection", " x-other ,, close "},
  };
  const ConnectionTokens listed(headers);
  // "keep-alive" names a field that is hop-by-hop by itself: not kept, and not needed (callers
  // ask contains() only about names isHopByHopName() does not cover).
  CHECK_FALSE(listed.contains("Keep-Alive"));
  CHECK(isHopByHopName(knownHeader("Keep-Alive")));
  CHECK(listed.contains("x-secret"));
  CHECK(listed.contains("X-OTHER"));
  CHECK(listed.contains("close"));
  CHECK_FALSE(listed.contains("Host"));
  CHECK_FALSE(listed.contains(""));
}

TEST_CASE("ConnectionTokens beyond its capacity are still honoured", "[unit][http]") {
  std::string many;
  for (size_t i = 0; i < ConnectionTokens::kMax + 4; ++i) {
    many += (i ? ", x-h" : "x-h") + std::to_string(i);
  }
  const Headers headers = {{"Connection", many}};
  const ConnectionTokens listed(headers);
  for (size_t i = 0; i < ConnectionTokens::kMax + 4; ++i) {
    const std::string name = "X-H" + std::to_string(i);
    INFO(name);
    CHECK(listed.contains(name));
  }
  CHECK_FALSE(listed.contains("x-h99"));
}

}  // namespace triaged::http

namespace triaged::http {

TEST_CASE("Keep-Alive: timeout and max are read, anything else ignored", "[unit][message]") {
  const auto params = [](std::initializer_list<Header> headers) {
    return parseKeepAlive(Headers(headers));
  };
  const auto apache = params({{"Keep-Alive", "timeout=5, max=100"}});
  CHECK(apache.timeout_seconds == 5U);
  CHECK(apache.max_requests == 100U);
  const auto spaced = params({{"keep-alive", " max = 0 ,TIMEOUT=1"}});
  CHECK(spaced.timeout_seconds == 1U);
  CHECK(spaced.max_requests == 0U);
  CHECK_FALSE(params({{"Keep-Alive", "timeout=abc, max=-1"}}).timeout_seconds);
  CHECK_FALSE(params({{"Keep-Alive", "timeout=99999999999"}}).timeout_seconds);  // not 32-bit
  CHECK_FALSE(params({{"Keep-Alive", "timeout"}}).timeout_seconds);
  CHECK_FALSE(params({{"X-Keep-Alive", "timeout=5"}}).timeout_seconds);
  CHECK_FALSE(params({}).max_requests);
  // Split over two fields, as RFC 9110 5.3 allows for a list.
  const auto split = params({{"Keep-Alive", "timeout=3"}, {"Keep-Alive", "max=7"}});
  CHECK(split.timeout_seconds == 3U);
  CHECK(split.max_requests == 7U);
}

}  // namespace triaged::http
