#include "triaged/core/event_loop.h"

#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <stdexcept>
#include <utility>

namespace triaged {
namespace {

using EventConfigPtr = std::unique_ptr<event_config, FreeWith<event_config, event_config_free>>;

EventBasePtr makeEventBase() {
  EventConfigPtr cfg(event_config_new());
  if (!cfg) throw std::runtime_error("event_config_new failed");
  // net::Connection registers each socket once, edge-triggered, and learns of a peer's FIN
  // together with its last bytes (EPOLLRDHUP): epoll on Linux, nothing else.
  event_config_require_features(cfg.get(), EV_FEATURE_ET | EV_FEATURE_O1 | EV_FEATURE_EARLY_CLOSE);
  // One thread per base (the worker's or the main thread); other threads only post(), which
  // goes through the eventfd below. So the base needs no lock around every event operation.
  event_config_set_flag(cfg.get(), EVENT_BASE_FLAG_NOLOCK);
  EventBasePtr base(event_base_new_with_config(cfg.get()));
  if (!base) {
    throw std::runtime_error(
        "cannot create an event loop with edge-triggered epoll (EV_FEATURE_ET | "
        "EV_FEATURE_EARLY_CLOSE); triaged needs Linux epoll");
  }
  return base;
}

}  // namespace

EventLoop::EventLoop() : base_(makeEventBase()) {
  wake_fd_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (wake_fd_ < 0) throw std::runtime_error("eventfd failed");
  deferred_event_.reset(event_new(
      base_.get(), -1, 0,
      [](evutil_socket_t, short, void* ctx) noexcept {
        static_cast<EventLoop*>(ctx)->drainDeferred();
      },
      this));
  posted_event_.reset(event_new(
      base_.get(), wake_fd_, EV_READ | EV_PERSIST,
      [](evutil_socket_t, short, void* ctx) noexcept { static_cast<EventLoop*>(ctx)->runPosted(); },
      this));
  turn_event_.reset(event_new(
      base_.get(), -1, 0,
      [](evutil_socket_t, short, void* ctx) noexcept {
        static_cast<EventLoop*>(ctx)->runTurnTasks();
      },
      this));
  if (!deferred_event_ || !posted_event_ || !turn_event_ ||
      event_add(posted_event_.get(), nullptr) != 0) {
    throw std::runtime_error("event_new failed");
  }
}

EventLoop::~EventLoop() {
  // Destroy what is still queued while the base is alive: their destructors free events.
  drainDeferred();
  deferred_event_.reset();
  // Every owner of a queued task has cancelled it by now (they died above or before).
  turn_event_.reset();
  turn_tasks_.clear();
  // Work posted for an owner that is gone must not run.
  posted_event_.reset();
  posted_.clear();
  ::close(wake_fd_);
  // A bufferevent (evhttp's, on the admin loop) freed while one of its deferred callbacks was
  // pending keeps a reference until that callback runs; event_base_free only cancels it, and the
  // bufferevent would leak. One non-blocking turn lets libevent finish them.
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
  refreshNow();
  // A destructor may queue more objects; keep going until the queue stays empty. The two
  // vectors trade places and keep their capacity, so queueing allocates nothing.
  while (!to_delete_.empty()) {
    deleting_.swap(to_delete_);
    deleting_.clear();
  }
}

void EventLoop::activateTurnTasks() {
  turn_pending_ = true;
  event_active(turn_event_.get(), EV_TIMEOUT, 0);
}

void EventLoop::cancelTurnTask(TurnTask& task) {
  if (!task.queued_) return;
  task.queued_ = false;
  const auto it = std::find(turn_tasks_.begin(), turn_tasks_.end(), &task);
  if (it != turn_tasks_.end()) *it = nullptr;
}

void EventLoop::runTurnTasks() {
  refreshNow();
  // By index: a task may queue others (a flush whose callback writes to another connection),
  // which this pass runs too.
  for (size_t i = 0; i < turn_tasks_.size(); ++i) {
    TurnTask* task = turn_tasks_[i];
    if (task == nullptr) continue;
    turn_tasks_[i] = nullptr;
    task->queued_ = false;
    task->runTurnTask();
  }
  turn_tasks_.clear();
  turn_pending_ = false;
}

void EventLoop::post(std::function<void()> fn) {
  bool first = false;
  {
    std::lock_guard lock(posted_mutex_);
    first = posted_.empty();
    posted_.push_back(std::move(fn));
  }
  if (!first) return;  // the loop has a wake-up pending already
  const uint64_t one = 1;
  // Cannot fail short of a bug: the counter would have to reach 2^64 - 1.
  while (::write(wake_fd_, &one, sizeof(one)) < 0 && errno == EINTR) {
  }
}

void EventLoop::runPosted() {
  refreshNow();
  uint64_t count = 0;
  while (::read(wake_fd_, &count, sizeof(count)) < 0 && errno == EINTR) {
  }
  std::vector<std::function<void()>> work;
  {
    std::lock_guard lock(posted_mutex_);
    work.swap(posted_);
  }
  for (auto& fn : work) fn();
}

Timer::Timer(EventLoop& loop, std::function<void()> on_fire)
    : loop_(loop), on_fire_(std::move(on_fire)) {}

void Timer::onFire(evutil_socket_t, short, void* ctx) noexcept {
  auto* self = static_cast<Timer*>(ctx);
  self->loop_.refreshNow();
  self->on_fire_();
}

void Timer::arm(std::chrono::milliseconds after) {
  if (!event_) {
    event_.reset(evtimer_new(loop_.base(), &Timer::onFire, this));
    if (!event_) abort();
  }
  timeval tv{};
  tv.tv_sec = static_cast<time_t>(after.count() / 1000);
  tv.tv_usec = static_cast<suseconds_t>((after.count() % 1000) * 1000);
  evtimer_add(event_.get(), &tv);
}

void Timer::disarm() {
  if (event_) evtimer_del(event_.get());
}

bool Timer::armed() const { return event_ && evtimer_pending(event_.get(), nullptr) != 0; }

}  // namespace triaged
