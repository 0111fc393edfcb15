#include "triaged/core/request_id.h"

#include <algorithm>
#include <catch2/catch.hpp>
#include <set>
#include <string>
#include <thread>
#include <vector>

namespace triaged {
namespace {

bool isLowerHex(const std::string& id) {
  return std::all_of(id.begin(), id.end(),
                     [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
}

TEST_CASE("request ids are 32 lowercase hex characters", "[unit][request_id]") {
  for (int i = 0; i < 1000; ++i) {
    const std::string id = generateRequestId();
    REQUIRE(id.size() == 32);
    REQUIRE(isLowerHex(id));
  }
}

TEST_CASE("request ids do not repeat, within or across threads", "[unit][request_id]") {
  constexpr int kPerThread = 10'000;
  constexpr int kThreads = 4;
  std::vector<std::vector<std::string>> ids(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&ids, t] {
      auto& mine = ids[static_cast<size_t>(t)];
      mine.reserve(kPerThread);
      for (int i = 0; i < kPerThread; ++i) mine.push_back(generateRequestId());
    });
  }
  for (auto& thread : threads) thread.join();
  std::set<std::string> unique;
  for (const auto& list : ids) unique.insert(list.begin(), list.end());
  CHECK(unique.size() == static_cast<size_t>(kPerThread * kThreads));
}

TEST_CASE("request ids use every hex digit in every position", "[unit][request_id]") {
  // A cheap check that no nibble is stuck (e.g. a shift bug leaving zeros).
  std::vector<std::set<char>> seen(32);
  for (int i = 0; i < 2000; ++i) {
    const std::string id = generateRequestId();
    for (size_t p = 0; p < id.size(); ++p) seen[p].insert(id[p]);
  }
  for (size_t p = 0; p < seen.size(); ++p) {
    INFO("position " << p);
    CHECK(seen[p].size() == 16);
  }
}

TEST_CASE("a client's X-Request-Id is kept when it is 1..200 bytes of visible ASCII, else replaced",
          "[unit][request_id]") {
  CHECK(RequestId::fromClient("abc-123").view() == "abc-123");
  CHECK(RequestId::fromClient("!~{trace:7/a}").view() == "!~{trace:7/a}");
  const std::string longest(RequestId::kMaxLength, 'x');
  CHECK(RequestId::fromClient(longest).view() == longest);
  for (const std::string& unusable :
       {std::string(), std::string(RequestId::kMaxLength + 1, 'x'), std::string("caf\xe9"),
        std::string("caf\xc3\xa9"), std::string("two words"), std::string("tab\there"),
        std::string("del\x7f")}) {
    INFO("id " << unusable);
    const RequestId id = RequestId::fromClient(unusable);
    CHECK(id.view().size() == 32);
    CHECK(isLowerHex(std::string(id.view())));
  }
}

}  // namespace
}  // namespace triaged
