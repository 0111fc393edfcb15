#include "triaged/core/event_loop.h"

#include <event2/thread.h>

#include <stdexcept>
#include <utility>

namespace triaged {
namespace {

// evthread_use_pthreads must run once before the first event_base so post() can wake a loop
// from another thread.
void enableLibeventThreads() {
  static const int once = [] { return evthread_use_pthreads(); }();
  (void)once;
}

}  // namespace

EventLoop::EventLoop() {
  enableLibeventThreads();
  base_.reset(event_base_new());
  if (!base_) throw std::runtime_error("event_base_new failed");
  deferred_event_.reset(event_new(
      base_.get(), -1, 0,
      [](evutil_socket_t, short, void* ctx) noexcept {
        static_cast<EventLoop*>(ctx)->drainDeferred();
      },
      this));
  posted_event_.reset(event_new(
      base_.get(), -1, 0,
      [](evutil_socket_t, short, void* ctx) noexcept { static_cast<EventLoop*>(ctx)->runPosted(); },
      this));
  if (!deferred_event_ || !posted_event_) throw std::runtime_error("event_new failed");
}

EventLoop::~EventLoop() {
  // Destroy what is still queued while the base is alive: their destructors free events.
  drainDeferred();
  deferred_event_.reset();
  // Work posted for an owner that is gone must not run.
  posted_event_.reset();
  posted_.clear();
  // A bufferevent freed while one of its deferred callbacks was pending keeps a reference until
  // that callback runs; event_base_free only cancels it, and the bufferevent would leak. One
  // non-blocking turn lets libevent finish them (user callbacks were detached by the free).
  event_base_loop(base_.get(), EVLOOP_NONBLOCK);
}

void EventLoop::run() { event_base_dispatch(base_.get()); }

void EventLoop::exit() { event_base_loopbreak(base_.get()); }

void EventLoop::deferredDelete(DeferredDeletablePtr object) {
  if (!object) return;
  to_delete_.push_back(std::move(object));
  if (to_delete_.size() == 1) event_active(deferred_event_.get(), EV_TIMEOUT, 0);
}

void EventLoop::drainDeferred() {
  // A destructor may queue more objects; keep going until the queue stays empty.
  while (!to_delete_.empty()) {
    std::vector<DeferredDeletablePtr> batch;
    batch.swap(to_delete_);
    batch.clear();
  }
}

void EventLoop::post(std::function<void()> fn) {
  bool first = false;
  {
    std::lock_guard lock(posted_mutex_);
    first = posted_.empty();
    posted_.push_back(std::move(fn));
  }
  if (first) event_active(posted_event_.get(), EV_TIMEOUT, 0);
}

void EventLoop::runPosted() {
  std::vector<std::function<void()>> work;
  {
    std::lock_guard lock(posted_mutex_);
    work.swap(posted_);
  }
  for (auto& fn : work) fn();
}

Timer::Timer(EventLoop& loop, std::function<void()> on_fire) : on_fire_(std::move(on_fire)) {
  event_.reset(evtimer_new(loop.base(), &Timer::onFire, this));
  if (!event_) abort();
}

void Timer::onFire(evutil_socket_t, short, void* ctx) noexcept {
  static_cast<Timer*>(ctx)->on_fire_();
}

void Timer::arm(std::chrono::milliseconds after) {
  timeval tv{};
  tv.tv_sec = static_cast<time_t>(after.count() / 1000);
  tv.tv_usec = static_cast<suseconds_t>((after.count() % 1000) * 1000);
  evtimer_add(event_.get(), &tv);
}

void Timer::disarm() { evtimer_del(event_.get()); }

bool Timer::armed() const { return evtimer_pending(event_.get(), nullptr) != 0; }

}  // namespace triaged
