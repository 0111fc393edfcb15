#pragma once

// Triage hints: for each failure cause, a short text that follows the operations note's steps
// for the status the client got (investigate, then handle), filled in with what the proxy saw.
// The texts are data (config/hints.toml, compiled into the binary as the default and
// replaceable by a file), in English and Chinese, and a team can override one cause from the
// main config to add its runbook link. Pure logic: no libevent, no toml11 (the loader lives in
// config/).

#include <functional>
#include <initializer_list>
#include <map>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "triaged/diagnose/failure.h"

namespace triaged::diagnose {

// The evidence a hint may quote, one member per {placeholder}. The list below is the only place
// that names them: the struct, the name lookup used when rendering and the names catalog loaders
// accept are all generated from it, so a session cannot fill a field no template can use, nor a
// template ask for one nobody fills (it would render as "?").
// clang-format off
#define TRIAGED_HINT_FIELDS(X)                                                            \
  X(upstream, "upstream")                                                                 \
  X(endpoint, "endpoint")                                                                 \
  X(status, "status")                                                                     \
  X(cause, "cause")                                                                       \
  X(phase, "phase")                                                                       \
  X(errno_name, "errno")                                                                  \
  X(errno_text, "errno_text")                                                             \
  X(connect_ms, "connect_ms")                                                             \
  X(header_ms, "header_ms")                                                               \
  X(total_ms, "total_ms")                                                                 \
  X(idle_ms, "idle_ms")                                                                   \
  X(requests_on_connection, "requests_on_connection")                                     \
  X(request_bytes_sent, "request_bytes_sent")                                             \
  X(response_bytes_received, "response_bytes_received")                                  \
  X(method, "method")                                                                     \
  X(path, "path")                                                                         \
  X(request_id, "request_id")                                                             \
  X(connect_timeout, "connect_timeout")                                                   \
  X(response_header_timeout, "response_header_timeout")                                   \
  X(body_idle_timeout, "body_idle_timeout")                                               \
  X(request_timeout, "request_timeout")                                                   \
  X(keepalive_idle_timeout, "keepalive_idle_timeout")                                     \
  X(max_connections, "max_connections")                                                   \
  X(max_pending, "max_pending")                                                           \
  X(pending_timeout, "pending_timeout")                                                   \
  X(dns_error, "dns_error")                                                               \
  X(hop, "hop")                                                                           \
  X(retry_after, "retry_after")                                                           \
  X(detail, "detail")                                                                     \
  X(client, "client")                                                                     \
  X(retry, "retry")                         /* what was decided about retrying, and why */ \
  X(upstream_idle_close, "upstream_idle_close") /* when the app closes idle connections */  \
  X(first_failed, "first_failed")           /* endpoint events: when failures began */      \
  X(last_failed, "last_failed")             /* ... and the last one */                      \
  X(failed_connects, "failed_connects")     /* ... how many connects failed */              \
  X(down_ms, "down_ms")                     /* ... how long it was marked down */          \
  X(tls_problem, "tls_problem")             /* TLS: exactly what failed, one line */        \
  X(tls_server_name, "tls_server_name")     /* ... the name sent as SNI and verified */     \
  X(tls_subject, "tls_subject")             /* ... the certificate it is about */           \
  X(tls_issuer, "tls_issuer")                                                               \
  X(tls_not_before, "tls_not_before")                                                       \
  X(tls_not_after, "tls_not_after")                                                         \
  X(tls_names, "tls_names")                 /* ... the names the certificate carries */     \
  X(tls_alert, "tls_alert")                 /* ... the alert the upstream sent */           \
  X(tls_received, "tls_received")           /* ... what a non-TLS peer sent instead */      \
  X(tls_ca, "tls_ca")                       /* ... what triaged trusts for the upstream */
// clang-format on

struct HintFields {
#define TRIAGED_HINT_MEMBER(member, name) std::string member;
  TRIAGED_HINT_FIELDS(TRIAGED_HINT_MEMBER)
#undef TRIAGED_HINT_MEMBER

  // The value of placeholder `name`, or nullptr for a name that is not a placeholder.
  const std::string* find(std::string_view name) const;
  // Sets placeholder `name`; false for a name that is not a placeholder.
  bool set(std::string_view name, std::string value);
  // For tests and tools: fields from (placeholder, value) pairs; unknown names throw
  // std::invalid_argument.
  static HintFields of(std::initializer_list<std::pair<std::string_view, std::string>> values);
};

struct HintText {
  std::string en;
  std::string zh;
  std::string runbook;  // optional URL appended to the rendered hint
};

class HintCatalog {
 public:
  // cause name ("connect_refused") -> texts
  void set(std::string_view cause_name, HintText text);
  // Replaces only the non-empty parts of `override_text` (a per-cause override from the config).
  void overrideCause(std::string_view cause_name, const HintText& override_text);
  const HintText* find(std::string_view cause_name) const;
  size_t size() const { return texts_.size(); }

  // The hint for `cause` in `language` ("en" | "zh"; falls back to en), with {placeholders}
  // replaced from `fields`. A placeholder with no value renders as "?"; "{{" is a literal "{".
  // Empty when the catalog has no text for the cause.
  std::string render(FailureCause cause, std::string_view language, const HintFields& fields) const;
  // The same for an entry that is not a cause (diagnose::eventHintNames(): endpoint_recovered...).
  std::string render(std::string_view entry, std::string_view language,
                     const HintFields& fields) const;

 private:
  std::map<std::string, HintText, std::less<>> texts_;
};

// Substitutes {name} placeholders in `templ` with what `lookup` returns for each name (nullptr or
// empty: "?"). Exposed for tests and tools; the catalog renders with HintFields::find.
using FieldLookup = std::function<const std::string*(std::string_view name)>;
std::string renderTemplate(std::string_view templ, const FieldLookup& lookup);
std::string renderTemplate(std::string_view templ, const HintFields& fields);

// The placeholder names a hint may use (TRIAGED_HINT_FIELDS). Catalog loaders reject any other
// name, so a typo cannot render as "?".
std::span<const std::string_view> hintPlaceholderNames();

// The {name} placeholders `templ` uses, in order of first appearance, each once. "{{" and a "{"
// that does not open a well-formed {name} are literal text and not reported.
std::vector<std::string> templatePlaceholders(std::string_view templ);

// The catalog compiled into the binary from config/hints.toml (parsed on first use).
const std::string_view defaultHintCatalogToml();

}  // namespace triaged::diagnose
