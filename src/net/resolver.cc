#include "triaged/net/resolver.h"

#include <event2/util.h>

#include <stdexcept>
#include <string>

namespace triaged::net {

bool Resolution::nameNotFound() const {
  return error == EVUTIL_EAI_NONAME || error == EVUTIL_EAI_NODATA;
}

// Shared between a Query and evdns: evdns may call back after the Query is gone (cancel), so
// the callback's argument must stay valid until then.
struct Resolver::Query::Shared {
  Query* owner = nullptr;
  evdns_getaddrinfo_request* request = nullptr;
  bool done = false;
};

Resolver::Resolver(EventLoop& loop, const std::vector<config::HostPort>& servers,
                   const std::string& resolv_conf)
    : loop_(loop) {
  dns_.reset(evdns_base_new(loop.base(), 0));
  if (!dns_) throw std::runtime_error("evdns_base_new failed");
  if (servers.empty()) {
    // Not EVDNS_BASE_INITIALIZE_NAMESERVERS: with it evdns_base_new fails when resolv.conf is
    // missing (1) or names no server (6), as in a container run with no network or from an
    // empty base image. libevent has then fallen back to 127.0.0.1:53, as glibc does, and a
    // configuration of address literals needs no DNS at all.
    const int rc = evdns_base_resolv_conf_parse(dns_.get(), DNS_OPTIONS_ALL, resolv_conf.c_str());
    if (rc != 0 && rc != 1 && rc != 6) {
      throw std::runtime_error("cannot read " + resolv_conf + " (evdns error " +
                               std::to_string(rc) + ")");
    }
  }
  for (const auto& s : servers) {
    const std::string text = s.toString();
    if (evdns_base_nameserver_ip_add(dns_.get(), text.c_str()) != 0) {
      throw std::runtime_error("cannot use DNS server " + text);
    }
  }
  // /etc/hosts is read when resolv.conf is; with explicit servers read it ourselves so
  // "localhost" still resolves.
  if (!servers.empty()) evdns_base_load_hosts(dns_.get(), nullptr);
  // Short timeouts: an upstream name that does not answer should fail the request quickly.
  evdns_base_set_option(dns_.get(), "timeout:", "2");
  evdns_base_set_option(dns_.get(), "attempts:", "2");
}

Resolver::~Resolver() = default;

Resolver::Query::Query(EventLoop& loop, Callback callback)
    : callback_(std::move(callback)), deliver_timer_(loop, [this] { deliver(); }) {}

Resolver::Query::~Query() {
  if (shared_ != nullptr) {
    shared_->owner = nullptr;
    if (!shared_->done && shared_->request != nullptr) {
      // Cancelling runs onResolved (with EVUTIL_EAI_CANCEL), which frees `shared_`.
      evdns_getaddrinfo_cancel(shared_->request);
    }
  }
}

void Resolver::Query::onResolved(int result, evutil_addrinfo* res, void* arg) noexcept {
  auto* shared = static_cast<Shared*>(arg);
  shared->done = true;
  Query* q = shared->owner;
  if (q != nullptr) {
    q->result_.error = result;
    if (result != 0) q->result_.error_text = evutil_gai_strerror(result);
    for (auto* ai = res; ai != nullptr; ai = ai->ai_next) {
      if (ai->ai_family == AF_INET || ai->ai_family == AF_INET6) {
        q->result_.addresses.push_back(
            socketAddressFrom(ai->ai_addr, static_cast<socklen_t>(ai->ai_addrlen)));
      }
    }
    if (result == 0 && q->result_.addresses.empty()) {
      q->result_.error = EVUTIL_EAI_NODATA;
      q->result_.error_text = "no IPv4/IPv6 address";
    }
    q->shared_ = nullptr;
    // Deliver from a timer so a synchronous answer never re-enters resolve()'s caller.
    q->deliver_timer_.arm(std::chrono::milliseconds(0));
  }
  if (res != nullptr) evutil_freeaddrinfo(res);
  delete shared;  // NOLINT(cppcoreguidelines-owning-memory): handed to evdns as a C pointer
}

void Resolver::Query::deliver() { callback_(result_); }

Resolver::QueryPtr Resolver::resolve(const std::string& host, uint16_t port, Callback callback) {
  auto query = std::make_unique<Query>(loop_, std::move(callback));
  auto* shared = new Query::Shared{};  // NOLINT(cppcoreguidelines-owning-memory): see onResolved
  shared->owner = query.get();
  query->shared_ = shared;
  evutil_addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_protocol = IPPROTO_TCP;
  const std::string port_text = std::to_string(port);
  evdns_getaddrinfo_request* req = evdns_getaddrinfo(dns_.get(), host.c_str(), port_text.c_str(),
                                                     &hints, &Query::onResolved, shared);
  // A null request means the answer came at once and onResolved already ran (and freed shared).
  if (req != nullptr) shared->request = req;
  return query;
}

}  // namespace triaged::net
