#include "triaged/observe/triage_store.h"

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

TriageStore::TriageStore(uint32_t workers) {
  for (uint32_t i = 0; i < workers; ++i) recorders_.push_back(std::make_unique<TriageRecorder>());
}

diagnose::TriageReport TriageStore::report(diagnose::WallTime now) const {
  std::vector<diagnose::FailureEvent> events;
  for (const auto& r : recorders_) r->appendTo(events);
  return diagnose::buildTriageReport(std::move(events), now);
}

}  // namespace triaged::observe
