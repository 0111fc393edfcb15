#include "triaged/diagnose/triage_hint.h"

#include <algorithm>
#include <array>
#include <optional>
#include <stdexcept>
#include <utility>

#include "triaged/diagnose/failure_table.h"

namespace triaged::diagnose {
namespace {

constexpr auto kPlaceholderNames = std::to_array<std::string_view>({
#define TRIAGED_HINT_NAME(member, name) name,
    TRIAGED_HINT_FIELDS(TRIAGED_HINT_NAME)
#undef TRIAGED_HINT_NAME
});

using FieldMember = std::string HintFields::*;
constexpr auto kFieldMembers = std::to_array<FieldMember>({
#define TRIAGED_HINT_POINTER(member, name) &HintFields::member,
    TRIAGED_HINT_FIELDS(TRIAGED_HINT_POINTER)
#undef TRIAGED_HINT_POINTER
});

std::optional<FieldMember> memberFor(std::string_view name) {
  for (size_t i = 0; i < kPlaceholderNames.size(); ++i) {
    if (kPlaceholderNames[i] == name) return kFieldMembers[i];
  }
  return std::nullopt;
}

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

const std::string* HintFields::find(std::string_view name) const {
  const auto member = memberFor(name);
  return member ? &(this->**member) : nullptr;
}

bool HintFields::set(std::string_view name, std::string value) {
  const auto member = memberFor(name);
  if (!member) return false;
  this->** member = std::move(value);
  return true;
}

HintFields HintFields::of(std::initializer_list<std::pair<std::string_view, std::string>> values) {
  HintFields fields;
  for (const auto& [name, value] : values) {
    if (!fields.set(name, value)) {
      throw std::invalid_argument("not a hint placeholder: " + std::string(name));
    }
  }
  return fields;
}

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
  if (cause == FailureCause::None) return {};
  return render(causeName(cause), language, fields);
}

std::string HintCatalog::render(std::string_view entry, std::string_view language,
                                const HintFields& fields) const {
  const HintText* text = find(entry);
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
  return renderTemplate(templ, [&fields](std::string_view name) { return fields.find(name); });
}

std::string renderTemplate(std::string_view templ, const FieldLookup& lookup) {
  std::string out;
  out.reserve(templ.size() + 64);
  scanTemplate(
      templ, [&out](std::string_view text) { out += text; },
      [&out, &lookup](std::string_view name) {
        const std::string* value = lookup(name);
        // An empty value would leave a hole in the sentence; "?" says "not observed".
        out += (value == nullptr || value->empty()) ? kMissingValue : std::string_view(*value);
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
