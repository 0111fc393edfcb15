#pragma once

// Recent failures for the triage report. Each worker appends to its own recorder (a bounded
// ring, 15 minutes at most); its mutex is only ever contended by the admin thread reading a
// snapshot, never by another worker, and only failed requests take it.

#include <cstddef>
#include <deque>
#include <memory>
#include <mutex>
#include <vector>

#include "triaged/diagnose/triage_report.h"

namespace triaged::observe {

class TriageRecorder {
 public:
  explicit TriageRecorder(size_t capacity = 4096) : capacity_(capacity) {}
  void record(diagnose::FailureEvent event);
  void appendTo(std::vector<diagnose::FailureEvent>& out) const;
  // What this worker knows of an endpoint's idle close (replaces its previous note).
  void noteIdleClose(diagnose::IdleCloseNote note);
  void appendIdleCloses(std::vector<diagnose::IdleCloseNote>& out) const;

 private:
  size_t capacity_;
  mutable std::mutex mutex_;
  std::deque<diagnose::FailureEvent> events_;
  std::vector<diagnose::IdleCloseNote> idle_closes_;
};

class TriageStore {
 public:
  explicit TriageStore(uint32_t workers);
  TriageRecorder& worker(uint32_t index) { return *recorders_[index]; }
  diagnose::TriageReport report(diagnose::WallTime now) const;

 private:
  std::vector<std::unique_ptr<TriageRecorder>> recorders_;
};

}  // namespace triaged::observe
