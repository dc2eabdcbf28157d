#include "pipeline/event.h"

#include <fmt/format.h>
#include <simdjson.h>

#include <charconv>

#include "core/clock.h"
#include "pipeline/money.h"

namespace sluice::pipeline {
namespace {

namespace dom = simdjson::dom;

// Nesting deeper than this in an event is refused; real events are two or three levels deep.
constexpr size_t kMaxDepth = 32;
constexpr size_t kMaxNameLength = 256;
constexpr size_t kMaxMessageLength = 500;
constexpr std::int64_t kMaxBits = 1'000'000'000;
constexpr std::int64_t kMaxMonths = 1200;
constexpr std::int64_t kMaxSubscriptionCount = 1000;  // subscriptions one gift gives at once

std::optional<EventError> field_error(std::string_view code, std::string_view field,
                                      std::string message) {
  return EventError{std::string(code), std::move(message), std::string(field), std::nullopt};
}

size_t count_code_points(std::string_view text) {
  // simdjson has validated the UTF-8; count the bytes that start a character.
  return static_cast<size_t>(
      std::count_if(text.begin(), text.end(), [](char c) { return (c & 0xC0) != 0x80; }));
}

bool has_control_characters(std::string_view text, bool allow_line_breaks) {
  for (unsigned char c : text) {
    if (c == 0x7f || (c < 0x20 && !(allow_line_breaks && (c == '\n' || c == '\r' || c == '\t')))) {
      return true;
    }
  }
  return false;
}

// The fields the schema knows, gathered in one pass over the object.
struct KnownFields {
  std::optional<dom::element> event_id, stream_id, type, user_id, user_name, amount, currency, tier,
      gifted, count, months, bits, message, occurred_at;

  std::optional<dom::element>* slot(std::string_view key) {
    static constexpr std::pair<std::string_view, std::optional<dom::element> KnownFields::*>
        kSlots[] = {
            {"event_id", &KnownFields::event_id},   {"stream_id", &KnownFields::stream_id},
            {"type", &KnownFields::type},           {"user_id", &KnownFields::user_id},
            {"user_name", &KnownFields::user_name}, {"amount", &KnownFields::amount},
            {"currency", &KnownFields::currency},   {"tier", &KnownFields::tier},
            {"gifted", &KnownFields::gifted},       {"count", &KnownFields::count},
            {"months", &KnownFields::months},       {"bits", &KnownFields::bits},
            {"message", &KnownFields::message},     {"occurred_at", &KnownFields::occurred_at},
        };
    for (const auto& [name, member] : kSlots) {
      if (name == key) return &(this->*member);
    }
    return nullptr;
  }
};

// An optional field given as null counts as absent.
bool present(const std::optional<dom::element>& field) {
  return field.has_value() && !field->is_null();
}

std::optional<EventError> check_id(const std::optional<dom::element>& field,
                                   std::string_view name) {
  std::string_view id;
  if (field->get_string().get(id) != simdjson::SUCCESS) {
    return field_error("invalid_field", name, "must be a string");
  }
  if (!is_valid_id(id)) {
    return field_error("invalid_field", name,
                       "must be 1 to 128 characters of A-Z, a-z, 0-9, '.', '_', ':' or '-'");
  }
  return std::nullopt;
}

std::optional<EventError> check_text(const std::optional<dom::element>& field,
                                     std::string_view name, size_t max_length,
                                     bool allow_line_breaks) {
  if (!present(field)) return std::nullopt;
  std::string_view text;
  if (field->get_string().get(text) != simdjson::SUCCESS) {
    return field_error("invalid_field", name, "must be a string");
  }
  if (count_code_points(text) > max_length) {
    return field_error("invalid_field", name,
                       fmt::format("must be at most {} characters", max_length));
  }
  if (has_control_characters(text, allow_line_breaks)) {
    return field_error("invalid_field", name, "must not contain control characters");
  }
  return std::nullopt;
}

// A positive whole number no larger than `max`.
std::optional<EventError> check_count(const std::optional<dom::element>& field,
                                      std::string_view name, std::int64_t max) {
  std::int64_t value;
  if (field->get_int64().get(value) != simdjson::SUCCESS) {
    std::uint64_t unsigned_value;
    if (field->get_uint64().get(unsigned_value) == simdjson::SUCCESS) {
      return field_error("invalid_field", name, fmt::format("must be at most {}", max));
    }
    return field_error("invalid_field", name, "must be a whole number");
  }
  if (value <= 0) return field_error("invalid_field", name, "must be positive");
  if (value > max)
    return field_error("invalid_field", name, fmt::format("must be at most {}", max));
  return std::nullopt;
}

// An amount as a string ("12.50") or a JSON number (its shortest exact decimal form, so 5.1
// stays 5.1), in the currency's minor units.
Result<std::int64_t> amount_in_minor_units(dom::element amount, int exponent) {
  std::string decimal;
  std::string_view text;
  std::int64_t integer;
  double real;
  if (amount.get_string().get(text) == simdjson::SUCCESS) {
    decimal = text;
  } else if (amount.get_int64().get(integer) == simdjson::SUCCESS) {
    decimal = std::to_string(integer);
  } else if (amount.get_double().get(real) == simdjson::SUCCESS) {
    char buffer[64];
    auto [end, error] =
        std::to_chars(buffer, buffer + sizeof buffer, real, std::chars_format::fixed);
    if (error != std::errc()) return invalid_argument("is too large");
    decimal.assign(buffer, end);
  } else {
    return invalid_argument("must be a decimal number or a string");
  }
  return parse_amount(decimal, exponent);
}

std::optional<EventError> check_donation(const KnownFields& fields) {
  if (!present(fields.currency)) {
    return field_error("missing_field", "currency", "is required for a donation");
  }
  std::string_view currency;
  if (fields.currency->get_string().get(currency) != simdjson::SUCCESS) {
    return field_error("invalid_field", "currency", "must be a string");
  }
  const std::optional<int> exponent = currency_exponent(currency);
  if (!exponent) {
    return field_error("invalid_field", "currency",
                       "must be an upper-case ISO 4217 currency code such as USD");
  }
  if (!present(fields.amount)) {
    return field_error("missing_field", "amount", "is required for a donation");
  }
  // Decimal text: a string as given, or a number in its shortest exact form (so 5.1 stays 5.1).
  std::string decimal;
  std::string_view text;
  std::int64_t integer;
  double real;
  if (fields.amount->get_string().get(text) == simdjson::SUCCESS) {
    decimal = text;
  } else if (fields.amount->get_int64().get(integer) == simdjson::SUCCESS) {
    decimal = std::to_string(integer);
  } else if (fields.amount->get_double().get(real) == simdjson::SUCCESS) {
    char buffer[64];
    auto [end, error] =
        std::to_chars(buffer, buffer + sizeof buffer, real, std::chars_format::fixed);
    if (error != std::errc()) return field_error("invalid_field", "amount", "is too large");
    decimal.assign(buffer, end);
  } else {
    return field_error("invalid_field", "amount", "must be a decimal number or a string");
  }
  auto minor = parse_amount(decimal, *exponent);
  if (!minor.ok()) return field_error("invalid_field", "amount", minor.status().message());
  return std::nullopt;
}

std::optional<EventError> check_subscription(const KnownFields& fields) {
  if (present(fields.tier)) {
    std::string_view text;
    std::int64_t number;
    bool valid = false;
    if (fields.tier->get_string().get(text) == simdjson::SUCCESS) {
      valid = text == "1000" || text == "2000" || text == "3000";
    } else if (fields.tier->get_int64().get(number) == simdjson::SUCCESS) {
      valid = number == 1000 || number == 2000 || number == 3000;
    }
    if (!valid)
      return field_error("invalid_field", "tier", "must be \"1000\", \"2000\" or \"3000\"");
  }
  if (present(fields.gifted) && !fields.gifted->is_bool()) {
    return field_error("invalid_field", "gifted", "must be true or false");
  }
  if (present(fields.count)) {
    if (auto error = check_count(fields.count, "count", kMaxSubscriptionCount)) return error;
    bool gifted = false;
    if (!present(fields.gifted) || fields.gifted->get_bool().get(gifted) != simdjson::SUCCESS ||
        !gifted) {
      return field_error("invalid_field", "count", "is only for a gift (\"gifted\": true)");
    }
  }
  if (present(fields.months)) return check_count(fields.months, "months", kMaxMonths);
  return std::nullopt;
}

// Checks one event. On success fills `event` with its id and stored text.
std::optional<EventError> check_event(dom::element element, const std::string& derived_id,
                                      IdGenerator& ids, ParsedEvent& event) {
  dom::object object;
  if (element.get_object().get(object) != simdjson::SUCCESS) {
    return field_error("invalid_event", "", "an event must be a JSON object");
  }
  KnownFields fields;
  for (auto [key, value] : object) {
    if (auto* slot = fields.slot(key)) {
      if (slot->has_value()) {
        return field_error("invalid_field", key, "appears more than once");
      }
      *slot = value;
    }
  }

  if (present(fields.event_id)) {
    if (auto error = check_id(fields.event_id, "event_id")) return error;
  }
  if (!present(fields.stream_id)) return field_error("missing_field", "stream_id", "is required");
  if (auto error = check_id(fields.stream_id, "stream_id")) return error;
  if (!present(fields.type)) return field_error("missing_field", "type", "is required");
  std::string_view type;
  if (fields.type->get_string().get(type) != simdjson::SUCCESS || !is_event_type(type)) {
    return field_error("invalid_field", "type",
                       "must be one of follower, subscription, donation, cheer");
  }
  if (auto error = check_text(fields.user_id, "user_id", kMaxNameLength, false)) return error;
  if (auto error = check_text(fields.user_name, "user_name", kMaxNameLength, false)) return error;
  if (auto error = check_text(fields.message, "message", kMaxMessageLength, true)) return error;
  if (present(fields.occurred_at)) {
    std::string_view text;
    Micros ignored;
    if (fields.occurred_at->get_string().get(text) != simdjson::SUCCESS ||
        !parse_rfc3339(text, ignored)) {
      return field_error("invalid_field", "occurred_at",
                         "must be an RFC 3339 time such as 2026-11-24T18:30:00Z");
    }
  }
  if (type == "donation") {
    if (auto error = check_donation(fields)) return error;
  } else if (type == "subscription") {
    if (auto error = check_subscription(fields)) return error;
  } else if (type == "cheer") {
    if (!present(fields.bits))
      return field_error("missing_field", "bits", "is required for a cheer");
    if (auto error = check_count(fields.bits, "bits", kMaxBits)) return error;
  }

  std::string compact = simdjson::minify(element);
  if (present(fields.event_id)) {
    event.event_id = std::string(fields.event_id->get_string().value_unsafe());
    event.json = std::move(compact);
  } else {
    // Generated and derived ids are valid ids, which need no JSON escaping.
    event.event_id = derived_id.empty() ? ids.next() : derived_id;
    event.json = fmt::format("{{\"event_id\":\"{}\"{}{}", event.event_id,
                             compact.size() > 2 ? "," : "", std::string_view(compact).substr(1));
  }
  return std::nullopt;
}

std::optional<EventError> with_index(std::optional<EventError> error, size_t index) {
  if (error) error->index = index;
  return error;
}

EventError malformed(simdjson::error_code code, std::optional<size_t> index,
                     std::string_view where) {
  return {"malformed_json",
          fmt::format("{}is not valid JSON: {}", where, simdjson::error_message(code)), "", index};
}

dom::parser& thread_parser() {
  thread_local dom::parser parser(simdjson::SIMDJSON_MAXSIZE_BYTES);
  return parser;
}

}  // namespace

Result<EventFacts> read_event_facts(std::string_view json) {
  simdjson::padded_string padded(json);
  dom::element root;
  dom::object object;
  if (thread_parser().parse(padded).get(root) != simdjson::SUCCESS ||
      root.get_object().get(object) != simdjson::SUCCESS) {
    return corruption("a stored event is not a JSON object");
  }
  KnownFields fields;
  for (auto [key, value] : object) {
    if (auto* slot = fields.slot(key)) *slot = value;
  }
  EventFacts facts;
  std::string_view text;
  auto string_of = [&text](const std::optional<dom::element>& field) -> std::string {
    if (field && field->get_string().get(text) == simdjson::SUCCESS) return std::string(text);
    return {};
  };
  facts.event_id = string_of(fields.event_id);
  facts.stream_id = string_of(fields.stream_id);
  facts.type = string_of(fields.type);
  if (facts.event_id.empty() || facts.stream_id.empty() || facts.type.empty()) {
    return corruption("a stored event lacks event_id, stream_id or type");
  }
  if (present(fields.occurred_at)) facts.occurred_at = string_of(fields.occurred_at);
  if (facts.type == "donation") {
    facts.currency = string_of(fields.currency);
    const std::optional<int> exponent = currency_exponent(facts.currency);
    if (!exponent || !present(fields.amount)) return corruption("a stored donation is incomplete");
    SLUICE_ASSIGN_OR_RETURN(facts.amount_minor, amount_in_minor_units(*fields.amount, *exponent));
  } else if (facts.type == "cheer" && present(fields.bits)) {
    if (fields.bits->get_int64().get(facts.bits) != simdjson::SUCCESS) {
      return corruption("a stored cheer has no bits");
    }
  } else if (facts.type == "subscription") {
    bool gifted = false;
    if (present(fields.gifted) && fields.gifted->get_bool().get(gifted) == simdjson::SUCCESS) {
      facts.gifted = gifted;
    }
    // Events stored before `count` was checked may carry anything there: they count once,
    // unless it reads as a gift's count would.
    std::int64_t count = 0;
    if (facts.gifted && present(fields.count) &&
        fields.count->get_int64().get(count) == simdjson::SUCCESS && count > 0 &&
        count <= kMaxSubscriptionCount) {
      facts.count = count;
    }
  }
  return facts;
}

bool is_event_type(std::string_view type) {
  return type == "follower" || type == "subscription" || type == "donation" || type == "cheer";
}

bool is_valid_id(std::string_view id) {
  if (id.empty() || id.size() > 128) return false;
  return std::all_of(id.begin(), id.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
           c == '_' || c == ':' || c == '-';
  });
}

std::variant<ParsedBody, EventError> parse_events(std::string& body, BodyFormat format,
                                                  const ParseOptions& options, IdGenerator& ids) {
  body.reserve(body.size() + simdjson::SIMDJSON_PADDING);
  dom::parser& parser = thread_parser();
  if (parser.max_depth() != kMaxDepth) {
    if (parser.allocate(0, kMaxDepth) != simdjson::SUCCESS) {
      return EventError{"internal", "parser allocation failed", "", std::nullopt};
    }
  }
  ParsedBody parsed;
  auto derived_id = [&options](std::size_t index) {
    return options.derived_id_base.empty() ? std::string()
                                           : fmt::format("{}-{}", options.derived_id_base, index);
  };

  if (format == BodyFormat::kJson) {
    dom::element root;
    if (auto code = parser.parse(body.data(), body.size(), false).get(root)) {
      return malformed(code, std::nullopt, "the body ");
    }
    dom::array array;
    if (root.get_array().get(array) != simdjson::SUCCESS) {
      parsed.single = true;
      ParsedEvent event;
      if (auto error = check_event(root, derived_id(0), ids, event)) return *error;
      parsed.events.push_back(std::move(event));
      return parsed;
    }
    const size_t count = array.size();
    if (count == 0) return EventError{"empty_batch", "the batch holds no events", "", std::nullopt};
    if (count > options.max_events) {
      return EventError{"batch_too_large",
                        fmt::format("a batch may hold at most {} events", options.max_events), "",
                        std::nullopt};
    }
    parsed.events.reserve(count);
    size_t index = 0;
    for (dom::element element : array) {
      ParsedEvent event;
      if (auto error = with_index(check_event(element, derived_id(index), ids, event), index))
        return *error;
      parsed.events.push_back(std::move(event));
      ++index;
    }
    return parsed;
  }

  // NDJSON: one event per line; blank lines are skipped. Each line is parsed in place: the
  // padding simdjson reads past a line's end lies inside the body or its reserved capacity.
  std::string_view rest(body);
  size_t line_number = 0;
  while (!rest.empty()) {
    const size_t newline = rest.find('\n');
    std::string_view line = rest.substr(0, newline);
    rest = newline == std::string_view::npos ? std::string_view() : rest.substr(newline + 1);
    ++line_number;
    if (std::all_of(line.begin(), line.end(),
                    [](char c) { return c == ' ' || c == '\t' || c == '\r'; })) {
      continue;
    }
    const size_t index = parsed.events.size();
    if (index == options.max_events) {
      return EventError{"batch_too_large",
                        fmt::format("a batch may hold at most {} events", options.max_events), "",
                        std::nullopt};
    }
    dom::element element;
    if (auto code = parser.parse(line.data(), line.size(), false).get(element)) {
      return malformed(code, index, fmt::format("line {} ", line_number));
    }
    ParsedEvent event;
    if (auto error = with_index(check_event(element, derived_id(index), ids, event), index))
      return *error;
    parsed.events.push_back(std::move(event));
  }
  if (parsed.events.empty()) {
    return EventError{"empty_batch", "the batch holds no events", "", std::nullopt};
  }
  return parsed;
}

}  // namespace sluice::pipeline
