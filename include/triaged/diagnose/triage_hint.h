#pragma once

// Triage hints: for each failure cause, a short text that follows the operations note's steps
// for the status the client got (investigate, then handle), filled in with what the proxy saw.
// The texts are data (config/hints.toml, compiled into the binary as the default and
// replaceable by a file), in English and Chinese, and a team can override one cause from the
// main config to add its runbook link. Pure logic: no libevent, no toml11 (the loader lives in
// config/).

#include <map>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "triaged/diagnose/failure.h"

namespace triaged::diagnose {

// Evidence as text, by placeholder name: "endpoint" -> "10.0.3.7:8080", "errno" ->
// "ECONNREFUSED", "connect_ms" -> "0.2", "idle_ms", "keepalive_idle_timeout", "hop", ...
using HintFields = std::map<std::string, std::string, std::less<>>;

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

 private:
  std::map<std::string, HintText, std::less<>> texts_;
};

// Substitutes {name} placeholders in `templ` from `fields` (exposed for tests).
std::string renderTemplate(std::string_view templ, const HintFields& fields);

// The placeholder names a hint may use: the evidence a failure can carry (the keys the session
// fills in HintFields). Catalog loaders reject any other name, so a typo cannot render as "?".
std::span<const std::string_view> hintPlaceholderNames();

// The {name} placeholders `templ` uses, in order of first appearance, each once. "{{" and a "{"
// that does not open a well-formed {name} are literal text and not reported.
std::vector<std::string> templatePlaceholders(std::string_view templ);

// The catalog compiled into the binary from config/hints.toml (parsed on first use).
const std::string_view defaultHintCatalogToml();

}  // namespace triaged::diagnose
