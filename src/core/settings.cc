#include "core/settings.h"

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <toml++/toml.h>

#include <algorithm>
#include <charconv>
#include <cstdlib>

namespace sluice::settings {

struct Schema::Entry {
  std::string key;                    // a scalar's key, or a table's family
  Parser parse;                       // a scalar's
  FieldParser field_parser;           // a table's
  std::vector<std::string> fields{};  // a table's declared fields
};

namespace {

// Flattens a TOML table into (dotted key, value as text) pairs; other shapes are refused so that a
// typo cannot silently drop a setting.
Status flatten(const toml::table& table, const std::string& prefix,
               std::vector<std::pair<std::string, std::string>>& out) {
  for (const auto& [name, node] : table) {
    const std::string key =
        prefix.empty() ? std::string(name.str()) : prefix + "." + std::string(name.str());
    if (const auto* sub = node.as_table()) {
      SLUICE_RETURN_IF_ERROR(flatten(*sub, key, out));
    } else if (const auto* text = node.as_string()) {
      out.emplace_back(key, text->get());
    } else if (const auto* integer = node.as_integer()) {
      out.emplace_back(key, std::to_string(integer->get()));
    } else if (const auto* floating = node.as_floating_point()) {
      // Shown as a fraction even when whole, so that `threads = 4.0` is refused as no integer.
      std::string shown = fmt::format("{}", floating->get());
      if (shown.find_first_not_of("-0123456789") == std::string::npos) shown += ".0";
      out.emplace_back(key, shown);
    } else if (const auto* boolean = node.as_boolean()) {
      out.emplace_back(key, boolean->get() ? "true" : "false");
    } else if (const auto* array = node.as_array();
               array != nullptr && array->is_homogeneous(toml::node_type::string)) {
      // A list of strings, as in events = ["donation", "cheer"], becomes "donation,cheer".
      std::string joined;
      for (const auto& element : *array) {
        if (!joined.empty()) joined += ',';
        joined += element.as_string()->get();
      }
      out.emplace_back(key, joined);
    } else {
      return error(key, "must be a string, a number, a boolean or a list of strings");
    }
  }
  return {};
}

// Splits "FAMILY.NAME.FIELD" when FAMILY is `family`.
bool split_table_key(std::string_view key, std::string_view family, std::string_view& name,
                     std::string_view& field) {
  if (!key.starts_with(family) || key.substr(family.size(), 1) != ".") return false;
  const std::string_view rest = key.substr(family.size() + 1);
  const size_t dot = rest.rfind('.');
  name = rest.substr(0, dot == std::string_view::npos ? rest.size() : dot);
  field = dot == std::string_view::npos ? std::string_view() : rest.substr(dot + 1);
  return true;
}

bool valid_table_name(std::string_view name) {
  return !name.empty() && name.size() <= 63 &&
         name.find_first_not_of("abcdefghijklmnopqrstuvwxyz0123456789_") == std::string_view::npos;
}

std::string table_key(std::string_view family, std::string_view name, std::string_view field) {
  return fmt::format("{}.{}.{}", family, name, field);
}

}  // namespace

Status error(std::string_view key, std::string_view problem) {
  return invalid_argument(fmt::format("{}: {}", key, problem));
}

Result<std::int64_t> whole_number(std::string_view value, std::int64_t low, std::int64_t high) {
  std::int64_t parsed = 0;
  const auto [end, failure] = std::from_chars(value.data(), value.data() + value.size(), parsed);
  if (failure != std::errc() || end != value.data() + value.size() || parsed < low ||
      parsed > high) {
    return invalid_argument(
        fmt::format("must be a whole number from {} to {}, got \"{}\"", low, high, value));
  }
  return parsed;
}

bool split_list(std::string_view text, std::vector<std::string>& items) {
  items.clear();
  size_t start = 0;
  while (start <= text.size()) {
    size_t comma = text.find(',', start);
    if (comma == std::string_view::npos) comma = text.size();
    std::string_view item = text.substr(start, comma - start);
    while (!item.empty() && item.front() == ' ') item.remove_prefix(1);
    while (!item.empty() && item.back() == ' ') item.remove_suffix(1);
    if (item.empty()) return false;
    items.emplace_back(item);
    start = comma + 1;
  }
  return true;
}

std::string environment_name(std::string_view key) {
  std::string name = "SLUICE_";
  for (char c : key)
    name += c == '.' ? '_' : static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return name;
}

Schema::Declared& Schema::Declared::shown_default(std::string_view text) {
  descriptions_[index_].default_value = text;
  return *this;
}

Schema::Declared& Schema::Declared::secret() {
  descriptions_[index_].secret = true;
  descriptions_[index_].default_value.clear();
  return *this;
}

Schema::Schema() = default;
Schema::~Schema() = default;

Schema::Declared Schema::scalar(std::string_view key, std::string shown_default,
                                std::string_view help, Parser parse) {
  descriptions_.push_back({std::string(key), std::move(shown_default), std::string(help)});
  entries_.push_back(std::make_unique<Entry>(Entry{std::string(key), std::move(parse), {}}));
  return Declared(descriptions_, descriptions_.size() - 1);
}

Schema::Declared Schema::number(std::string_view key, double& field, double low, double high,
                                std::string_view help) {
  return scalar(
      key, fmt::format("{}", field), help, [&field, low, high](std::string_view value) -> Status {
        double parsed = 0;
        const auto [end, failure] =
            std::from_chars(value.data(), value.data() + value.size(), parsed);
        if (failure != std::errc() || end != value.data() + value.size() ||
            !(parsed >= low && parsed <= high)) {
          return invalid_argument(
              fmt::format("must be a number from {} to {}, got \"{}\"", low, high, value));
        }
        field = parsed;
        return {};
      });
}

Schema::Declared Schema::boolean(std::string_view key, bool& field, std::string_view help) {
  return scalar(key, field ? "true" : "false", help, [&field](std::string_view value) -> Status {
    if (value != "true" && value != "false") {
      return invalid_argument(fmt::format("must be true or false, got \"{}\"", value));
    }
    field = value == "true";
    return {};
  });
}

Schema::Declared Schema::choice(std::string_view key, std::string& field,
                                std::vector<std::string> choices, std::string_view help) {
  return scalar(key, fmt::format("`{}`", field), help,
                [&field, choices = std::move(choices)](std::string_view value) -> Status {
                  if (std::find(choices.begin(), choices.end(), value) == choices.end()) {
                    return invalid_argument(
                        fmt::format("\"{}\" is not one of {}", value, fmt::join(choices, ", ")));
                  }
                  field = value;
                  return {};
                });
}

Schema::Declared Schema::custom(std::string_view key, std::string_view shown_default,
                                std::string_view help, Parser parse) {
  return scalar(key, std::string(shown_default), help, std::move(parse));
}

Schema::Table Schema::table(std::string_view family, FieldParser parser) {
  entries_.push_back(std::make_unique<Entry>(Entry{std::string(family), {}, std::move(parser)}));
  return Table(*this, std::string(family));
}

Schema::Declared Schema::Table::field(std::string_view name, std::string_view shown_default,
                                      std::string_view help) {
  auto& descriptions = schema_.descriptions_;
  descriptions.push_back(
      {table_key(family_, "NAME", name), std::string(shown_default), std::string(help)});
  for (auto& entry : schema_.entries_) {
    if (!entry->parse && entry->key == family_) entry->fields.emplace_back(name);
  }
  return Declared(descriptions, descriptions.size() - 1);
}

void Schema::check(std::function<Status()> rule) { checks_.push_back(std::move(rule)); }

Status Schema::apply(std::string_view key, std::string_view value, std::string_view source) {
  // A secret's parser describes what it expects and never repeats the value; the rest may.
  auto run = [&](const Parser& parse) -> Status {
    Status status = parse(value);
    if (status.ok()) return status;
    return error(key, status.message());
  };
  for (const auto& entry : entries_) {
    if (entry->parse) {
      if (entry->key == key) return run(entry->parse);
      continue;
    }
    std::string_view name, field;
    if (!split_table_key(key, entry->key, name, field)) continue;
    if (!valid_table_name(name)) {
      return error(
          key, fmt::format("expected {}.NAME.FIELD, NAME 1 to 63 of a-z, 0-9, '_'", entry->key));
    }
    Parser parse;
    if (std::find(entry->fields.begin(), entry->fields.end(), field) != entry->fields.end()) {
      parse = entry->field_parser(name, field);
    }
    if (!parse) {
      return error(key, fmt::format("unknown setting; {}.NAME takes {}", entry->key,
                                    fmt::join(entry->fields, ", ")));
    }
    return run(parse);
  }
  return error(key, fmt::format("unknown setting (from {})", source));
}

Status Schema::load(const Sources& sources) {
  // Names of tables declared by the file or the command line, whose fields the environment may
  // then set: (family, name).
  std::vector<std::pair<std::string, std::string>> named;
  auto note_name = [&](std::string_view key) {
    for (const auto& entry : entries_) {
      std::string_view name, field;
      if (entry->parse || !split_table_key(key, entry->key, name, field)) continue;
      std::pair<std::string, std::string> declared(entry->key, name);
      if (std::find(named.begin(), named.end(), declared) == named.end()) {
        named.push_back(std::move(declared));
      }
    }
  };

  if (sources.file) {
    toml::table parsed;
    try {
      parsed = sources.file_contents ? toml::parse(*sources.file_contents, *sources.file)
                                     : toml::parse_file(*sources.file);
    } catch (const toml::parse_error& failure) {
      return invalid_argument(fmt::format("config: {}:{}:{}: {}", *sources.file,
                                          failure.source().begin.line,
                                          failure.source().begin.column, failure.description()));
    }
    std::vector<std::pair<std::string, std::string>> values;
    SLUICE_RETURN_IF_ERROR(flatten(parsed, "", values));
    for (const auto& [key, value] : values) {
      SLUICE_RETURN_IF_ERROR(apply(key, value, *sources.file));
      note_name(key);
    }
  }
  for (const auto& [key, value] : sources.overrides) note_name(key);

  auto environment = sources.environment;
  if (!environment) {
    environment = [](const std::string& variable) -> std::optional<std::string> {
      const char* value = std::getenv(variable.c_str());
      if (value == nullptr) return std::nullopt;
      return std::string(value);
    };
  }
  for (const auto& entry : entries_) {
    if (!entry->parse) continue;
    const std::string variable = environment_name(entry->key);
    if (auto value = environment(variable)) {
      SLUICE_RETURN_IF_ERROR(apply(entry->key, *value, variable));
    }
  }
  for (const auto& [family, name] : named) {
    for (const auto& entry : entries_) {
      if (entry->parse || entry->key != family) continue;
      for (const auto& field : entry->fields) {
        const std::string key = table_key(family, name, field);
        const std::string variable = environment_name(key);
        if (auto value = environment(variable)) {
          SLUICE_RETURN_IF_ERROR(apply(key, *value, variable));
        }
      }
    }
  }

  for (const auto& [key, value] : sources.overrides) {
    SLUICE_RETURN_IF_ERROR(apply(key, value, "the command line"));
  }
  for (const auto& rule : checks_) SLUICE_RETURN_IF_ERROR(rule());
  return {};
}

std::string help_text(const std::vector<Description>& descriptions) {
  std::string text;
  for (const auto& description : descriptions) {
    std::string help = description.help;
    std::erase(help, '`');
    std::string default_value = description.default_value;
    std::erase(default_value, '`');
    text += fmt::format("{}{}{}\n    {}\n    environment: {}{}\n", description.key,
                        default_value.empty() ? "" : " = ", default_value, help,
                        environment_name(description.key), description.secret ? " (secret)" : "");
  }
  return text;
}

}  // namespace sluice::settings
