#include "triaged/observe/triage_store.h"

#include <algorithm>

namespace triaged::observe {

void TriageRecorder::record(diagnose::FailureEvent event) {
  std::lock_guard lock(mutex_);
  const auto horizon = event.at - std::chrono::minutes(15);
  while (!events_.empty() && (events_.size() >= capacity_ || events_.front().at < horizon)) {
    events_.pop_front();
  }
  events_.push_back(std::move(event));
}

void TriageRecorder::appendTo(std::vector<diagnose::FailureEvent>& out) const {
  std::lock_guard lock(mutex_);
  out.insert(out.end(), events_.begin(), events_.end());
}

void TriageRecorder::noteIdleClose(diagnose::IdleCloseNote note) {
  std::lock_guard lock(mutex_);
  for (auto& n : idle_closes_) {
    if (n.upstream == note.upstream && n.endpoint == note.endpoint) {
      n = std::move(note);
      return;
    }
  }
  idle_closes_.push_back(std::move(note));
}

void TriageRecorder::appendIdleCloses(std::vector<diagnose::IdleCloseNote>& out) const {
  std::lock_guard lock(mutex_);
  out.insert(out.end(), idle_closes_.begin(), idle_closes_.end());
}

TriageStore::TriageStore(uint32_t workers) {
  for (uint32_t i = 0; i < workers; ++i) recorders_.push_back(std::make_unique<TriageRecorder>());
}

diagnose::TriageReport TriageStore::report(diagnose::WallTime now) const {
  std::vector<diagnose::FailureEvent> events;
  std::vector<diagnose::IdleCloseNote> idle_closes;
  for (const auto& r : recorders_) {
    r->appendTo(events);
    r->appendIdleCloses(idle_closes);
  }
  diagnose::TriageReport report = diagnose::buildTriageReport(std::move(events), now);
  // Workers learn on their own: the shortest each endpoint was seen with is what it is.
  for (auto& note : idle_closes) {
    auto it = std::find_if(
        report.idle_closes.begin(), report.idle_closes.end(),
        [&](const auto& n) { return n.upstream == note.upstream && n.endpoint == note.endpoint; });
    if (it == report.idle_closes.end()) {
      report.idle_closes.push_back(std::move(note));
    } else if (note.idle_close < it->idle_close) {
      *it = std::move(note);
    }
  }
  return report;
}

}  // namespace triaged::observe
