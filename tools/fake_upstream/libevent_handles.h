#pragma once

// unique_ptr aliases for the libevent handles the fake upstream owns. Local to the tool on
// purpose: the fake shares no code with triaged.

#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>

#include <memory>

namespace fake_upstream {

template <auto Fn>
struct FreeWith {
  template <class T>
  void operator()(T* p) const {
    if (p != nullptr) Fn(p);
  }
};

using EventBasePtr = std::unique_ptr<event_base, FreeWith<event_base_free>>;
using EventPtr = std::unique_ptr<event, FreeWith<event_free>>;
using BufferEventPtr = std::unique_ptr<bufferevent, FreeWith<bufferevent_free>>;
using ListenerPtr = std::unique_ptr<evconnlistener, FreeWith<evconnlistener_free>>;

}  // namespace fake_upstream
