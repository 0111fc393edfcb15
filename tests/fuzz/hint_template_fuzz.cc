// Hint templates: renderTemplate and templatePlaceholders over any template and any evidence
// (the input is "template \xff name=value \xff name=value ..."). A template without "{" renders
// as itself; every placeholder reported appears in the template; the rendered hint carries each
// field value only where the template asked for it (no value turns into more placeholders).

#include <cstddef>
#include <cstdint>
#include <string>

#include "fuzz_support.h"
#include "triaged/diagnose/failure.h"
#include "triaged/diagnose/triage_hint.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  triaged::fuzz::Input in(data, size);
  const std::string_view templ = in.until('\xff');
  triaged::diagnose::HintFields fields;
  while (!in.rest().empty()) {
    const std::string_view pair = in.until('\xff');
    const size_t eq = pair.find('=');
    // A name that is no placeholder is refused by set(), as a catalog loader would refuse it.
    fields.set(pair.substr(0, eq),
               eq == std::string_view::npos ? "" : std::string(pair.substr(eq + 1)));
  }
  const std::string out = triaged::diagnose::renderTemplate(templ, fields);
  if (templ.find('{') == std::string_view::npos) {
    FUZZ_CHECK(out == templ, "a template without placeholders changed");
  }
  for (const std::string& name : triaged::diagnose::templatePlaceholders(templ)) {
    FUZZ_CHECK(templ.find("{" + name + "}") != std::string_view::npos,
               "a placeholder that is not in the template");
  }
  // Rendering is one pass: a value that looks like a placeholder stays as written.
  const auto braces = triaged::diagnose::HintFields::of({{"upstream", "{upstream}"}});
  FUZZ_CHECK(triaged::diagnose::renderTemplate("{upstream}", braces) == "{upstream}",
             "rendered twice");
  // Through a catalog: the same text in either language, and a runbook appended after it.
  triaged::diagnose::HintCatalog catalog;
  catalog.set("connect_refused", {std::string(templ), std::string(templ), ""});
  const auto cause = triaged::diagnose::FailureCause::ConnectRefused;
  FUZZ_CHECK(catalog.render(cause, "zh", fields) == out, "the catalog rendered another text");
  catalog.overrideCause("connect_refused", {"", "", "https://wiki/{upstream}"});
  const std::string with_runbook = catalog.render(cause, "en", fields);
  FUZZ_CHECK(templ.empty() || with_runbook.rfind(out, 0) == 0, "the runbook moved the hint");
  return 0;
}
