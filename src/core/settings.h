#pragma once

// The settings mechanism. Each module declares its own settings — key, type, bounds, default,
// help, secret or not — bound to the fields of its own settings struct; this file only layers
// the sources over them (defaults, then a TOML file, then SLUICE_* environment variables, then
// command-line settings, later winning) and names the key in every error.
//
//   HttpSettings http;                      // the defaults are the struct's initial values
//   settings::Schema schema;
//   schema.integer("http.max_body_bytes", http.max_body_bytes, 1024, 1 << 30, "larger get 413");
//   SLUICE_RETURN_IF_ERROR(schema.load(sources));
//
// Keys are dotted ("queue.name"); in TOML they are tables ([queue] name = "alerts"), in the
// environment upper-case with underscores (SLUICE_QUEUE_NAME), on the command line `--set
// queue.name=alerts`. A family of named tables (`webhooks.NAME.url`) is declared once; a NAME
// declared in the file or on the command line may take its fields from the environment too
// (SLUICE_WEBHOOKS_OVERLAY_SECRET), which keeps secrets out of files.
//
// Guaranteed: an error's message starts with the key ("http.max_body_bytes: …") and never holds
// the value of a setting declared secret.

#include <algorithm>
#include <concepts>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "sluice/status.h"

namespace sluice::settings {

struct Sources {
  std::optional<std::string> file;           // a TOML file; it must exist when named
  std::optional<std::string> file_contents;  // when set, read instead of `file`, named as it
  // Reads an environment variable; defaults to the process environment.
  std::function<std::optional<std::string>(const std::string&)> environment;
  std::vector<std::pair<std::string, std::string>> overrides;  // key, value; applied in order
};

// An invalid-argument status "KEY: PROBLEM".
Status error(std::string_view key, std::string_view problem);

// The environment variable that sets `key`: "queue.name" → "SLUICE_QUEUE_NAME".
std::string environment_name(std::string_view key);

// `value` as a whole number from `low` to `high`, or the problem.
Result<std::int64_t> whole_number(std::string_view value, std::int64_t low, std::int64_t high);

// Splits a list given as "A, B ,C" (a TOML list of strings arrives so) into its trimmed items;
// false if one is empty.
bool split_list(std::string_view text, std::vector<std::string>& items);

// The entry called `name` of a named table's entries (each with a `name` member), added on first
// use.
template <typename Entry>
Entry& entry_named(std::vector<Entry>& entries, std::string_view name) {
  auto found = std::find_if(entries.begin(), entries.end(),
                            [&](const Entry& entry) { return entry.name == name; });
  if (found != entries.end()) return *found;
  entries.push_back(Entry{.name = std::string(name)});
  return entries.back();
}

// What `sluice serve --help-settings` and the README's settings table show for one key.
struct Description {
  std::string key;            // "webhooks.NAME.url" for a field of a named table
  std::string default_value;  // as shown: "`alerts`", "30", "cores", or empty
  std::string help;           // one line, Markdown
  bool secret = false;
};

// Turns one value, given as text, into the bound field; on failure says what is wrong without
// the key (the schema adds it).
using Parser = std::function<Status(std::string_view value)>;

class Schema {
 public:
  // Refines the declaration just made.
  class Declared {
   public:
    Declared(std::vector<Description>& descriptions, size_t index)
        : descriptions_(descriptions), index_(index) {}
    // Shown instead of the field's initial value ("cores" for a 0 resolved at load).
    Declared& shown_default(std::string_view text);
    // Never printed: not as a default, and its parser's errors never repeat the value.
    Declared& secret();

   private:
    std::vector<Description>& descriptions_;
    size_t index_;
  };

  Schema();
  ~Schema();
  Schema(const Schema&) = delete;
  Schema& operator=(const Schema&) = delete;

  // Every bound declared fits in 64 signed bits.
  template <std::integral Integer>
  Declared integer(std::string_view key, Integer& field, Integer low, Integer high,
                   std::string_view help) {
    return scalar(key, std::to_string(field), help, [&field, low, high](std::string_view value) {
      return store(
          whole_number(value, static_cast<std::int64_t>(low), static_cast<std::int64_t>(high)),
          field);
    });
  }
  Declared number(std::string_view key, double& field, double low, double high,
                  std::string_view help);
  Declared boolean(std::string_view key, bool& field, std::string_view help);
  // One of `choices`, exactly.
  Declared choice(std::string_view key, std::string& field, std::vector<std::string> choices,
                  std::string_view help);
  // Any other type: `parse` checks and stores the value; `shown_default` is the default as shown.
  Declared custom(std::string_view key, std::string_view shown_default, std::string_view help,
                  Parser parse);

  // A family of named tables, FAMILY.NAME.FIELD, NAME 1 to 63 of a-z, 0-9, '_'. `make` returns
  // the parser of one field of NAME (creating NAME on first use), or nullptr if there is no such
  // field; `field` declares each field for help and for the environment.
  class Table {
   public:
    Declared field(std::string_view name, std::string_view shown_default, std::string_view help);

   private:
    friend class Schema;
    Table(Schema& schema, std::string family) : schema_(schema), family_(std::move(family)) {}
    Schema& schema_;
    std::string family_;
  };
  using FieldParser = std::function<Parser(std::string_view name, std::string_view field)>;
  Table table(std::string_view family, FieldParser parser);

  // Runs once every source is applied, in declaration order: rules that span keys, required
  // fields, and defaults that depend on the machine. The status must name its key (error()).
  void check(std::function<Status()> rule);

  // Applies `sources` in order, then the checks. Stops at the first error.
  Status load(const Sources& sources);

  // Every declaration, in declaration order.
  const std::vector<Description>& describe() const { return descriptions_; }

 private:
  struct Entry;

  template <typename Integer>
  static Status store(Result<std::int64_t> parsed, Integer& field) {
    if (!parsed.ok()) return parsed.status();
    field = static_cast<Integer>(*parsed);
    return {};
  }

  Declared scalar(std::string_view key, std::string shown_default, std::string_view help,
                  Parser parse);
  Status apply(std::string_view key, std::string_view value, std::string_view source);

  std::vector<Description> descriptions_;
  std::vector<std::unique_ptr<Entry>> entries_;
  std::vector<std::function<Status()>> checks_;
};

// The settings as `sluice serve --help-settings` prints them.
std::string help_text(const std::vector<Description>& descriptions);

}  // namespace sluice::settings
