#pragma once

// Owning handles for libevent's C objects: one alias per C type, built on a deleter whose free
// function is a template parameter (the shape of Envoy's CSmartPtr), so ownership is visible in
// the type and nothing inherits from unique_ptr.

#include <event2/buffer.h>
#include <event2/dns.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/listener.h>

#include <memory>

namespace triaged {

template <typename T, void (*FreeFn)(T*)>
struct FreeWith {
  void operator()(T* p) const noexcept {
    if (p != nullptr) FreeFn(p);
  }
};

namespace detail {
// evdns_base_free takes a second argument: 1 fails every request still in flight, so their
// callbacks run (with DNS_ERR_SHUTDOWN) before the owner goes away.
inline void freeEvdnsBase(evdns_base* b) { evdns_base_free(b, 1); }
}  // namespace detail

using EventBasePtr = std::unique_ptr<event_base, FreeWith<event_base, event_base_free>>;
using EventPtr = std::unique_ptr<event, FreeWith<event, event_free>>;
using EvBufferPtr = std::unique_ptr<evbuffer, FreeWith<evbuffer, evbuffer_free>>;
using ListenerPtr = std::unique_ptr<evconnlistener, FreeWith<evconnlistener, evconnlistener_free>>;
using EvdnsBasePtr = std::unique_ptr<evdns_base, FreeWith<evdns_base, detail::freeEvdnsBase>>;
using EvHttpPtr = std::unique_ptr<evhttp, FreeWith<evhttp, evhttp_free>>;

}  // namespace triaged
