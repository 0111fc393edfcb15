#pragma once

// EventLoop owns one event_base (one per worker thread, one for the main thread) and the queue of
// objects waiting to be destroyed. Objects that must not die inside their own callback hand
// themselves to deferredDelete(); the queue is drained on the next loop turn (Envoy's
// DeferredDeletable). Not thread-safe except post(), which any thread may call: it wakes the
// loop through an eventfd, so the base itself runs without libevent's locks.

#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <vector>

#include "triaged/core/buffer_pool.h"
#include "triaged/core/c_handle.h"

namespace triaged {

class DeferredDeletable {
 public:
  virtual ~DeferredDeletable() = default;
};
using DeferredDeletablePtr = std::unique_ptr<DeferredDeletable>;

using MonotonicTime = std::chrono::steady_clock::time_point;

// Work an object wants done once, later in this loop turn: after the events libevent has queued
// already, in one pass for all such objects. net::Connection sends through it what callbacks
// wrote to it, so a write costs a push onto a vector, not an event_active() and a libevent
// dispatch of its own (about 550 instructions per proxied request, callgrind). An object that
// dies with its task queued cancels it first (EventLoop::cancelTurnTask).
class TurnTask {
 public:
  virtual void runTurnTask() = 0;

 protected:
  TurnTask() = default;
  virtual ~TurnTask() = default;
  TurnTask(const TurnTask&) = delete;
  TurnTask& operator=(const TurnTask&) = delete;

 private:
  friend class EventLoop;
  bool queued_ = false;
};

class EventLoop {
 public:
  // Creates the event_base; throws std::runtime_error (startup only) when libevent cannot.
  EventLoop();
  ~EventLoop();
  EventLoop(const EventLoop&) = delete;
  EventLoop& operator=(const EventLoop&) = delete;

  event_base* base() const { return base_.get(); }
  // Socket input blocks for this loop's connections.
  BufferPool& buffers() { return buffers_; }

  // Runs until exit(). (The wake-up event for post() is always pending, so the loop never
  // runs out of events by itself.)
  void run();
  // Makes run() return after the current turn. Loop thread only.
  void exit();

  // Destroys `object` on the next loop turn, outside every callback currently on the stack.
  void deferredDelete(DeferredDeletablePtr object);

  // The same for any owned object, e.g. one whose callback is running now.
  template <typename T>
  void deferredDestroy(std::unique_ptr<T> object) {
    struct Holder final : DeferredDeletable {
      explicit Holder(std::unique_ptr<T> o) : held(std::move(o)) {}
      std::unique_ptr<T> held;
    };
    if (object) deferredDelete(std::make_unique<Holder>(std::move(object)));
  }

  // Destroys everything queued by deferredDelete() now. For owners tearing down, so queued
  // objects die before the things they refer to.
  void clearDeferred() { drainDeferred(); }

  // Runs `fn` on the loop thread on its next turn. Safe from any thread.
  void post(std::function<void()> fn);

  // Runs task.runTurnTask() once, later in this turn; queueing a queued task again does nothing.
  // Tasks queued while the pass runs join it. Loop thread only.
  void queueTurnTask(TurnTask& task) {
    if (task.queued_) return;
    task.queued_ = true;
    turn_tasks_.push_back(&task);
    if (!turn_pending_) activateTurnTasks();
  }
  // Forgets a queued task (its owner is going away).
  void cancelTurnTask(TurnTask& task);

  // Monotonic time as of the start of the callback running now. Every libevent callback that
  // reaches triaged's code refreshes it first (socket events, timers, deferred and posted work,
  // accepts, DNS answers), the way nginx and libevent cache time per loop turn: a request's many
  // timestamps then cost one clock read per event, not one per call.
  MonotonicTime now() const { return now_; }
  MonotonicTime refreshNow() {
    now_ = std::chrono::steady_clock::now();
    return now_;
  }

 private:
  void drainDeferred();
  void runPosted();
  void activateTurnTasks();
  void runTurnTasks();

  EventBasePtr base_;  // first member: destroyed last, after every event that refers to it
  MonotonicTime now_ = std::chrono::steady_clock::now();
  int wake_fd_ = -1;  // eventfd: post() from another thread makes posted_event_ readable
  EventPtr deferred_event_;
  EventPtr posted_event_;
  std::vector<DeferredDeletablePtr> to_delete_;
  std::vector<DeferredDeletablePtr> deleting_;  // the batch being destroyed by drainDeferred()
  BufferPool buffers_;
  std::mutex posted_mutex_;
  std::vector<std::function<void()>> posted_;
  EventPtr turn_event_;
  std::vector<TurnTask*> turn_tasks_;  // nullptr: cancelled
  bool turn_pending_ = false;          // turn_event_ is active, or its pass is running
};

// A one-shot timer owned by the object it serves; disarmed when destroyed. Its libevent event is
// made on the first arm(): most of a request's timers are never armed.
class Timer {
 public:
  Timer(EventLoop& loop, std::function<void()> on_fire);
  Timer(const Timer&) = delete;
  Timer& operator=(const Timer&) = delete;

  void arm(std::chrono::milliseconds after);
  void disarm();
  bool armed() const;

 private:
  static void onFire(evutil_socket_t, short, void* ctx) noexcept;
  EventLoop& loop_;
  std::function<void()> on_fire_;
  EventPtr event_;
};

}  // namespace triaged
