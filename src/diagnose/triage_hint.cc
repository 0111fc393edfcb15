#include "triaged/diagnose/triage_hint.h"

#include <algorithm>
#include <array>
#include <utility>

#include "triaged/diagnose/failure_table.h"

namespace triaged::diagnose {
namespace {

// Kept in step with the evidence the session puts into HintFields and with the list at the top
// of config/hints.toml.
constexpr auto kPlaceholderNames = std::to_array<std::string_view>({
    "upstream",
    "endpoint",
    "status",
    "cause",
    "phase",
    "errno",
    "errno_text",
    "connect_ms",
    "header_ms",
    "total_ms",
    "idle_ms",
    "requests_on_connection",
    "request_bytes_sent",
    "response_bytes_received",
    "method",
    "path",
    "request_id",
    "connect_timeout",
    "response_header_timeout",
    "body_idle_timeout",
    "request_timeout",
    "keepalive_idle_timeout",
    "max_connections",
    "max_pending",
    "pending_timeout",
    "dns_error",
    "hop",
    "retry_after",
    "detail",
    "client",
});

constexpr std::string_view kMissingValue = "?";
constexpr std::string_view kRunbookPrefix = " Runbook: ";

bool isNameChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
}

// At `pos` (a '{' that is not "{{"), the name of a well-formed {name}; empty when the brace is
// literal text. `end` is set past the closing '}'.
std::string_view placeholderAt(std::string_view templ, size_t pos, size_t& end) {
  size_t i = pos + 1;
  while (i < templ.size() && isNameChar(templ[i])) ++i;
  if (i == pos + 1 || i >= templ.size() || templ[i] != '}') return {};
  end = i + 1;
  return templ.substr(pos + 1, i - pos - 1);
}

// Walks `templ`, handing literal runs and placeholder names to the two callbacks.
template <typename OnText, typename OnPlaceholder>
void scanTemplate(std::string_view templ, OnText on_text, OnPlaceholder on_placeholder) {
  size_t literal_start = 0;
  size_t i = 0;
  while (i < templ.size()) {
    if (templ[i] != '{') {
      ++i;
      continue;
    }
    if (i + 1 < templ.size() && templ[i + 1] == '{') {
      on_text(templ.substr(literal_start, i + 1 - literal_start));  // keeps one '{'
      i += 2;
      literal_start = i;
      continue;
    }
    size_t end = 0;
    const std::string_view name = placeholderAt(templ, i, end);
    if (name.empty()) {
      ++i;  // a lone '{' stays in the literal run
      continue;
    }
    on_text(templ.substr(literal_start, i - literal_start));
    on_placeholder(name);
    i = end;
    literal_start = i;
  }
  on_text(templ.substr(literal_start));
}

}  // namespace

void HintCatalog::set(std::string_view cause_name, HintText text) {
  const auto it = texts_.find(cause_name);
  if (it != texts_.end()) {
    it->second = std::move(text);
  } else {
    texts_.emplace(std::string(cause_name), std::move(text));
  }
}

void HintCatalog::overrideCause(std::string_view cause_name, const HintText& override_text) {
  auto it = texts_.find(cause_name);
  if (it == texts_.end()) it = texts_.emplace(std::string(cause_name), HintText{}).first;
  HintText& text = it->second;
  if (!override_text.en.empty()) text.en = override_text.en;
  if (!override_text.zh.empty()) text.zh = override_text.zh;
  if (!override_text.runbook.empty()) text.runbook = override_text.runbook;
}

const HintText* HintCatalog::find(std::string_view cause_name) const {
  const auto it = texts_.find(cause_name);
  return it == texts_.end() ? nullptr : &it->second;
}

std::string HintCatalog::render(FailureCause cause, std::string_view language,
                                const HintFields& fields) const {
  const HintText* text = find(causeName(cause));
  if (text == nullptr) return {};
  // A language without a text for this cause falls back to English, and a catalog that only
  // has the other language still says something rather than nothing.
  const std::string* templ = &text->en;
  if ((language == "zh" && !text->zh.empty()) || text->en.empty()) templ = &text->zh;
  if (templ->empty()) return {};
  std::string out = renderTemplate(*templ, fields);
  if (!text->runbook.empty()) {
    out += kRunbookPrefix;
    // A runbook URL may carry placeholders too ("https://wiki/runbooks/{upstream}/{cause}").
    out += renderTemplate(text->runbook, fields);
  }
  return out;
}

std::string renderTemplate(std::string_view templ, const HintFields& fields) {
  std::string out;
  out.reserve(templ.size() + 64);
  scanTemplate(
      templ, [&out](std::string_view text) { out += text; },
      [&out, &fields](std::string_view name) {
        const auto it = fields.find(name);
        // An empty value would leave a hole in the sentence; "?" says "not observed".
        out += (it == fields.end() || it->second.empty()) ? kMissingValue
                                                          : std::string_view(it->second);
      });
  return out;
}

std::span<const std::string_view> hintPlaceholderNames() { return kPlaceholderNames; }

std::vector<std::string> templatePlaceholders(std::string_view templ) {
  std::vector<std::string> names;
  scanTemplate(
      templ, [](std::string_view) {},
      [&names](std::string_view name) {
        if (std::find(names.begin(), names.end(), name) == names.end()) names.emplace_back(name);
      });
  return names;
}

}  // namespace triaged::diagnose
