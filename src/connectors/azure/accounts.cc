#include "connectors/azure/accounts.h"

#include <fmt/format.h>

#include <algorithm>
#include <boost/url/parse.hpp>
#include <map>

#include "connectors/azure/signing.h"

namespace sluice::azure {
namespace {

// Azurite's well-known account (published in its README and Microsoft's emulator docs).
constexpr std::string_view kDevelopmentAccount = "devstoreaccount1";
constexpr std::string_view kDevelopmentKey =
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";

// NAME=VALUE pairs split on ';' (the value may hold '='); names compared without case, as the
// SDKs do. Empty parts are allowed (a trailing ';').
Result<std::map<std::string, std::string>> split_pairs(std::string_view text) {
  std::map<std::string, std::string> pairs;
  while (!text.empty()) {
    const std::size_t end = text.find(';');
    std::string_view part = text.substr(0, end);
    text = end == std::string_view::npos ? std::string_view() : text.substr(end + 1);
    while (!part.empty() && part.front() == ' ') part.remove_prefix(1);
    while (!part.empty() && part.back() == ' ') part.remove_suffix(1);
    if (part.empty()) continue;
    const std::size_t equals = part.find('=');
    if (equals == std::string_view::npos || equals == 0) {
      return invalid_argument("is not a connection string of NAME=VALUE pairs separated by ';'");
    }
    std::string name(part.substr(0, equals));
    for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (pairs.contains(name)) {
      return invalid_argument(fmt::format("names {} twice", part.substr(0, equals)));
    }
    pairs.emplace(std::move(name), std::string(part.substr(equals + 1)));
  }
  return pairs;
}

// An http(s) URL with a host and nothing after the path; returned without a trailing '/'.
Result<std::string> endpoint_url(std::string_view name, std::string_view text) {
  auto url = boost::urls::parse_absolute_uri(text);
  if (!url || (url->scheme() != "http" && url->scheme() != "https") || url->host().empty() ||
      url->has_query() || url->has_fragment() || url->has_userinfo()) {
    return invalid_argument(
        fmt::format("{} must be an http or https URL such as "
                    "https://account.queue.core.windows.net",
                    name));
  }
  std::string endpoint(text);
  while (endpoint.ends_with('/')) endpoint.pop_back();
  return endpoint;
}

Result<std::string> account_key(const std::map<std::string, std::string>& pairs) {
  auto found = pairs.find("accountkey");
  if (found == pairs.end() || found->second.empty()) {
    return invalid_argument("needs AccountKey");
  }
  auto key = base64_decode(found->second);
  if (!key || key->empty()) return invalid_argument("AccountKey is not base64");
  return *key;
}

}  // namespace

Result<StorageAccount> parse_storage_connection_string(std::string_view text) {
  SLUICE_ASSIGN_OR_RETURN(auto pairs, split_pairs(text));
  if (pairs.empty()) return invalid_argument("is empty");
  auto value = [&pairs](std::string_view name) -> std::string {
    auto found = pairs.find(std::string(name));
    return found == pairs.end() ? std::string() : found->second;
  };
  StorageAccount account;
  if (pairs.contains("usedevelopmentstorage")) {
    if (value("usedevelopmentstorage") != "true") {
      return invalid_argument("UseDevelopmentStorage may only be true");
    }
    std::string proxy = value("developmentstorageproxyuri");
    std::string base = "http://127.0.0.1";
    if (!proxy.empty()) {
      SLUICE_ASSIGN_OR_RETURN(base, endpoint_url("DevelopmentStorageProxyUri", proxy));
    }
    account.name = kDevelopmentAccount;
    account.key = *base64_decode(kDevelopmentKey);
    account.queue_endpoint = fmt::format("{}:10001/{}", base, kDevelopmentAccount);
    return account;
  }

  account.name = value("accountname");
  if (pairs.contains("sharedaccesssignature")) {
    account.sas = value("sharedaccesssignature");
    while (account.sas.starts_with('?')) account.sas.erase(0, 1);
    if (account.sas.find("sig=") == std::string::npos) {
      return invalid_argument("SharedAccessSignature has no sig= parameter");
    }
    if (pairs.contains("accountkey")) {
      return invalid_argument("holds both AccountKey and SharedAccessSignature; keep one");
    }
  } else {
    if (account.name.empty())
      return invalid_argument("needs AccountName (or a SharedAccessSignature)");
    SLUICE_ASSIGN_OR_RETURN(account.key, account_key(pairs));
  }

  if (pairs.contains("queueendpoint")) {
    SLUICE_ASSIGN_OR_RETURN(account.queue_endpoint,
                            endpoint_url("QueueEndpoint", value("queueendpoint")));
  } else {
    if (account.name.empty()) return invalid_argument("needs QueueEndpoint or AccountName");
    std::string protocol = value("defaultendpointsprotocol");
    if (protocol.empty()) protocol = "https";
    if (protocol != "https" && protocol != "http") {
      return invalid_argument("DefaultEndpointsProtocol must be https or http");
    }
    std::string suffix = value("endpointsuffix");
    if (suffix.empty()) suffix = "core.windows.net";
    SLUICE_ASSIGN_OR_RETURN(account.queue_endpoint,
                            endpoint_url("EndpointSuffix", fmt::format("{}://{}.queue.{}", protocol,
                                                                       account.name, suffix)));
  }
  return account;
}

bool is_valid_queue_name(std::string_view name) {
  if (name.size() < 3 || name.size() > 63) return false;
  if (name.front() == '-' || name.back() == '-' || name.find("--") != std::string_view::npos) {
    return false;
  }
  return std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-';
  });
}

Result<CosmosAccount> parse_cosmos_connection_string(std::string_view text) {
  SLUICE_ASSIGN_OR_RETURN(auto pairs, split_pairs(text));
  auto endpoint = pairs.find("accountendpoint");
  if (endpoint == pairs.end() || endpoint->second.empty()) {
    return invalid_argument("needs AccountEndpoint");
  }
  CosmosAccount account;
  SLUICE_ASSIGN_OR_RETURN(account.endpoint, endpoint_url("AccountEndpoint", endpoint->second));
  SLUICE_ASSIGN_OR_RETURN(account.key, account_key(pairs));
  return account;
}

}  // namespace sluice::azure
