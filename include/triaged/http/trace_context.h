#pragma once

// W3C Trace Context (https://www.w3.org/TR/trace-context/): reading a request's `traceparent`
// so that its trace id can go into failure lines and /debug/triage, and starting one when the
// client sent none and the operator asked for it (server.trace_context = "start"). triaged
// records no spans of its own: a traceparent it received is forwarded unchanged, as the
// specification asks of an intermediary that does not participate. Pure.

#include <optional>
#include <string>
#include <string_view>

#include "triaged/http/message.h"

namespace triaged::http {

struct TraceParent {
  std::string_view trace_id;  // 32 lowercase hex digits, not all zero
  std::string_view parent_id;
  std::string_view flags;
};

// Version 00 as specified; a later version is read by its first four fields, as the
// specification asks. nullopt for anything malformed (which is then ignored, not forwarded
// differently).
std::optional<TraceParent> parseTraceParent(std::string_view value);

// The request's valid traceparent, if it carries exactly one.
std::optional<TraceParent> requestTraceParent(const Headers& headers);

// A new traceparent "00-<trace id>-<parent id>-01" from 24 random bytes.
std::string newTraceParent();

}  // namespace triaged::http
