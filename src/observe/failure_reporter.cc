#include "triaged/observe/failure_reporter.h"

#include <cstring>

#include "triaged/diagnose/failure_table.h"
#include "triaged/net/socket_address.h"
#include "triaged/observe/loggers.h"

namespace triaged::observe {
namespace {

using diagnose::FailureCause;
using Kind = FailureRecord::Kind;

std::string_view eventName(Kind kind) {
  switch (kind) {
    case Kind::Upstream:
      return "upstream_failure";
    case Kind::Request:
      return "request_failure";
    case Kind::Retry:
      return "upstream_retry";
  }
  return "upstream_failure";
}

// "connect_refused@127.0.0.1:1 ECONNREFUSED -> stale_keepalive@... -> <final>".
std::string attemptChain(const FailureRecord& r) {
  std::string chain;
  for (const auto& a : r.attempts) {
    chain += fmt::format("{}@{}{}{} -> ", diagnose::causeName(a.cause), a.endpoint,
                         a.err != 0 ? " " : "", net::errnoName(a.err));
  }
  chain += fmt::format("{}{}{}{}{}", diagnose::causeName(r.cause), r.endpoint.empty() ? "" : "@",
                       r.endpoint, r.err != 0 ? " " : "", net::errnoName(r.err));
  return chain;
}

void addOptionalMs(LogEvent& line, std::string_view key, const std::optional<double>& ms) {
  if (ms) {
    line.add(key, *ms);
  } else {
    line.addNull(key);
  }
}

// The line: PRODUCT.md's keys in its order, always present (null where the proxy saw nothing),
// then the extensions that only some failures have.
LogEvent failureLine(const FailureRecord& r, const std::string& hint) {
  const auto& info = diagnose::causeInfo(r.cause);
  const diagnose::Evidence* ev = r.evidence;
  LogEvent line(eventName(r.kind));
  line.add("cause", info.name)
      .add("class", info.cause_class)
      .add("status", r.status)
      .add("origin", diagnose::originName(r.origin))
      .add("upstream", r.upstream != nullptr ? std::string_view(r.upstream->name) : "")
      .addNameOrNull("endpoint", r.endpoint)
      .add("phase", diagnose::phaseName(r.phase))
      .add("request_id", r.request_id)
      .add("method", r.method)
      .add("path", r.path)
      .addNameOrNull("errno", net::errnoName(r.err));
  if (ev != nullptr) {
    line.add("reused_connection", ev->reused);
    if (ev->idle_ms >= 0) {
      line.add("connection_idle_ms", ev->idle_ms);
    } else {
      line.addNull("connection_idle_ms");
    }
    line.add("requests_on_connection", static_cast<uint64_t>(ev->requests_on_connection));
    addOptionalMs(line, "connect_ms", ev->connect_ms);
    addOptionalMs(line, "header_ms", ev->header_ms);
  } else {
    line.add("reused_connection", false)
        .addNull("connection_idle_ms")
        .addNull("connect_ms")
        .addNull("header_ms");
  }
  line.add("total_ms", r.total_ms)
      .add("request_bytes_sent", ev != nullptr ? ev->request_bytes_sent : uint64_t{0})
      .add("response_bytes_received", ev != nullptr ? ev->response_bytes_received : uint64_t{0})
      .add("retried", !r.attempts.empty());
  if (!r.client.empty()) line.add("client", r.client);
  if (!r.attempts.empty()) {
    line.add("absorbed_cause", diagnose::causeName(r.absorbed))
        .add("attempt_chain", attemptChain(r));
  }
  if (!r.retry.empty()) line.add("retry_decision", r.retry);
  if (ev != nullptr && ev->tls) {
    const diagnose::TlsFailure& tls = *ev->tls;
    line.add("tls_problem", tls.problem);
    if (!tls.server_name.empty()) line.add("tls_server_name", tls.server_name);
    const diagnose::CertificateFacts& cert = tls.certificate;
    if (!cert.subject.empty()) {
      line.add("tls_subject", cert.subject)
          .add("tls_issuer", cert.issuer)
          .add("tls_not_before", cert.not_before)
          .add("tls_not_after", cert.not_after)
          .add("tls_names", cert.names);
    }
    if (!tls.alert.empty()) line.add("tls_alert", tls.alert);
    if (!tls.received.empty()) line.add("tls_received", tls.received);
  }
  if (ev != nullptr) {
    if (ev->partial_head) line.add("partial_head", true);
    if (!ev->hop.empty()) line.add("gateway_hop", ev->hop);
    if (!ev->retry_after.empty()) line.add("retry_after", ev->retry_after);
  }
  if (!r.detail.empty()) line.add("detail", r.detail);
  if (!r.trace_id.empty()) line.add("trace_id", r.trace_id);
  line.add("hint", hint);
  return line;
}

}  // namespace

std::string formatMs(double ms) { return fmt::format("{:.1f}", ms); }
std::string formatDuration(std::chrono::milliseconds d) {
  // As the configuration writes it: "30s", "250ms".
  if (d.count() != 0 && d.count() % 1000 == 0) return fmt::format("{}s", d.count() / 1000);
  return fmt::format("{}ms", d.count());
}

diagnose::HintFields hintFieldsFor(const FailureRecord& r) {
  const auto& info = diagnose::causeInfo(r.cause);
  const diagnose::Evidence* ev = r.evidence;
  diagnose::HintFields f;
  f.upstream = r.upstream != nullptr ? r.upstream->name : "-";
  f.endpoint = r.endpoint.empty() ? "-" : std::string(r.endpoint);
  f.status = std::to_string(r.status);
  f.cause = info.name;
  f.phase = diagnose::phaseName(r.phase);
  f.errno_name = r.err != 0 ? std::string(net::errnoName(r.err)) : "no errno";
  f.errno_text = r.err != 0 ? std::strerror(r.err) : "";
  f.total_ms = formatMs(r.total_ms);
  f.method = r.method.empty() ? "-" : std::string(r.method);
  f.path = r.path.empty() ? "-" : std::string(r.path);
  f.request_id = r.request_id;
  f.client = r.client.empty() ? "-" : std::string(r.client);
  f.detail = r.detail.empty() ? "-" : std::string(r.detail);
  f.dns_error = r.dns_error.empty() ? "-" : std::string(r.dns_error);
  f.retry = r.retry.empty() ? "-" : std::string(r.retry);
  f.upstream_idle_close =
      r.upstream_idle_close.empty() ? "an unknown time" : std::string(r.upstream_idle_close);
  f.connect_ms = "-";
  f.header_ms = "-";
  f.idle_ms = "-";
  f.requests_on_connection = "0";
  f.request_bytes_sent = "0";
  f.response_bytes_received = "0";
  f.hop = "an unidentified gateway (no Server, Via or Proxy-Status)";
  f.retry_after = "none";
  if (ev != nullptr) {
    if (ev->connect_ms) f.connect_ms = formatMs(*ev->connect_ms);
    if (ev->header_ms) f.header_ms = formatMs(*ev->header_ms);
    if (ev->idle_ms >= 0) f.idle_ms = std::to_string(ev->idle_ms);
    f.requests_on_connection = std::to_string(ev->requests_on_connection);
    f.request_bytes_sent = std::to_string(ev->request_bytes_sent);
    f.response_bytes_received = std::to_string(ev->response_bytes_received);
    if (!ev->hop.empty()) f.hop = ev->hop;
    if (!ev->retry_after.empty()) f.retry_after = ev->retry_after;
    if (ev->tls) {
      const diagnose::TlsFailure& tls = *ev->tls;
      const auto or_dash = [](const std::string& v) { return v.empty() ? std::string("-") : v; };
      f.tls_problem = tls.problem;
      f.tls_server_name = tls.server_name.empty() ? "(none: an IP address)" : tls.server_name;
      f.tls_subject = or_dash(tls.certificate.subject);
      f.tls_issuer = or_dash(tls.certificate.issuer);
      f.tls_not_before = or_dash(tls.certificate.not_before);
      f.tls_not_after = or_dash(tls.certificate.not_after);
      f.tls_names = or_dash(tls.certificate.names);
      f.tls_alert = tls.alert.empty() ? "none" : tls.alert;
      f.tls_received = or_dash(tls.received);
    }
  }
  if (const config::UpstreamConfig* u = r.upstream) {
    f.connect_timeout = formatDuration(u->connect_timeout);
    f.response_header_timeout = formatDuration(u->response_header_timeout);
    f.body_idle_timeout = formatDuration(u->body_idle_timeout);
    f.request_timeout = formatDuration(u->request_timeout);
    f.keepalive_idle_timeout = formatDuration(u->keepalive_idle_timeout);
    f.max_connections = std::to_string(u->max_connections);
    f.max_pending = std::to_string(u->max_pending);
    f.pending_timeout = formatDuration(u->pending_timeout);
    f.tls_ca = u->tls_ca.empty() ? "the system's CAs" : u->tls_ca;
  }
  return f;
}

FailureReporter::FailureReporter(EventLoop& loop, const config::LogConfig& log,
                                 const diagnose::HintCatalog& hints, TriageRecorder& triage)
    : log_(&log),
      hints_(&hints),
      triage_(triage),
      log_lines_(loop, log.failure_log_burst, log.failure_log_interval) {}

void FailureReporter::reconfigure(const config::LogConfig& log,
                                  const diagnose::HintCatalog& hints) {
  log_ = &log;
  hints_ = &hints;
  log_lines_.setLimits(log.failure_log_burst, log.failure_log_interval);
}

std::string FailureReporter::hintFor(const FailureRecord& record,
                                     const diagnose::HintFields& fields) const {
  std::string hint = hints_->render(record.cause, log_->hint_language, fields);
  if (record.kind != Kind::Retry) return hint;
  // An absorbed failure: say so first, then what the attempt met and what to change, so that an
  // operator who sees thousands of these knows they cost a round trip each.
  std::string lead = hints_->render("upstream_retry", log_->hint_language, fields);
  if (lead.empty()) return hint;
  return hint.empty() ? lead : lead + " " + hint;
}

void FailureReporter::noteIdleClose(std::string_view upstream, std::string_view endpoint,
                                    std::chrono::milliseconds idle_close, std::string_view source,
                                    std::chrono::milliseconds keepalive_idle_timeout) const {
  triage_.noteIdleClose(diagnose::IdleCloseNote{std::string(upstream), std::string(endpoint),
                                                idle_close, std::string(source),
                                                keepalive_idle_timeout});
}

std::string FailureReporter::eventHint(std::string_view event,
                                       const diagnose::HintFields& fields) const {
  return hints_->render(event, log_->hint_language, fields);
}

void FailureReporter::reportTlsClientFailure(diagnose::TlsClientFailure reason,
                                             std::string_view client, std::string_view server_name,
                                             std::string_view detail, WorkerMetrics& metrics) {
  metrics.tls_client_failures[static_cast<size_t>(reason)].add();
  const std::string_view name = diagnose::tlsClientFailureName(reason);
  diagnose::HintFields f;
  f.client = client;
  f.cause = name;
  f.detail = detail.empty() ? "-" : std::string(detail);
  LogEvent line("tls_client_failure");
  line.add("reason", name).add("client", client);
  if (!server_name.empty()) line.add("sni", server_name);
  line.add("detail", detail).add("hint", eventHint("tls_client_failure", f));
  log_lines_.write("tls_client_failure", "", name, line.str());
}

void FailureReporter::report(const FailureRecord& record, UpstreamMetrics& metrics) {
  const diagnose::HintFields fields = hintFieldsFor(record);
  const std::string hint = hintFor(record, fields);
  const std::string_view upstream =
      record.upstream != nullptr ? std::string_view(record.upstream->name) : "";
  const auto& info = diagnose::causeInfo(record.cause);
  log_lines_.write(eventName(record.kind), upstream, info.name, failureLine(record, hint).str());
  const auto index = static_cast<size_t>(record.cause);
  if (record.kind == Kind::Retry) {
    metrics.retries[index].add();
    return;
  }
  metrics.failures[index].add();
  metrics.setExemplar(record.cause, record.request_id, record.trace_id);
  triage_.record(diagnose::FailureEvent{std::chrono::system_clock::now(), std::string(upstream),
                                        record.cause, record.status, std::string(record.endpoint),
                                        std::string(record.request_id), hint,
                                        std::string(record.trace_id)});
}

}  // namespace triaged::observe
