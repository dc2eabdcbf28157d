#include "connectors/azure/signing.h"

#include <gtest/gtest.h>

namespace sluice::azure {
namespace {

// Azurite's published account key.
constexpr std::string_view kDevelopmentKey =
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";

// Two requests as Microsoft's @azure/storage-queue 12.29.0 sent and signed them (captured from
// the SDK by a listening socket): the signatures must be the SDK's to the byte.
TEST(SharedKeyTest, SignsAPutMessageAsTheAzureSdkDoes) {
  StorageRequest request{
      .verb = "POST",
      .path = "/devstoreaccount1/alerts/messages",
      .query = {{"timeout", "30"}},
      .ms_headers = {{"x-ms-version", "2026-02-06"},
                     {"x-ms-client-request-id", "09f18b14-5d90-418c-acd0-93cdc84db469"},
                     {"x-ms-date", "Mon, 07 Dec 2026 13:04:52 GMT"}},
      .content_length = 128,
      .content_type = "application/xml"};
  EXPECT_EQ(shared_key_authorization("devstoreaccount1", *base64_decode(kDevelopmentKey), request),
            "SharedKey devstoreaccount1:355TxZaEH6tCQd0Lhu9Jnh1kTRoQW9Ih87qyzoILkJk=");
}

TEST(SharedKeyTest, SignsAGetMessagesAsTheAzureSdkDoes) {
  StorageRequest request{
      .verb = "GET",
      .path = "/devstoreaccount1/alerts/messages",
      .query = {{"numofmessages", "32"}, {"visibilitytimeout", "300"}, {"timeout", "30"}},
      .ms_headers = {{"x-ms-version", "2026-02-06"},
                     {"x-ms-client-request-id", "5bee2e27-608e-4386-9b26-b7702f4963fd"},
                     {"x-ms-date", "Mon, 07 Dec 2026 13:04:52 GMT"}}};
  EXPECT_EQ(shared_key_authorization("devstoreaccount1", *base64_decode(kDevelopmentKey), request),
            "SharedKey devstoreaccount1:3UbrHwftRo7qJaQlvPSNkdR/2QACAKHaJsUglt2kJe4=");
}

// The Shared Key documentation's worked string-to-sign (Get Container Metadata with a timeout).
// The Storage documentation publishes no key with its signatures, so the signatures themselves
// are checked against the SDK above.
TEST(SharedKeyTest, StringToSignMatchesThePublishedExample) {
  StorageRequest request{
      .verb = "GET",
      .path = "/mycontainer",
      .query = {{"restype", "container"}, {"comp", "metadata"}, {"timeout", "20"}},
      .ms_headers = {{"x-ms-date", "Fri, 26 Jun 2015 23:39:12 GMT"},
                     {"x-ms-version", "2015-02-21"}}};
  EXPECT_EQ(shared_key_string_to_sign("myaccount", request),
            "GET\n\n\n\n\n\n\n\n\n\n\n\n"
            "x-ms-date:Fri, 26 Jun 2015 23:39:12 GMT\nx-ms-version:2015-02-21\n"
            "/myaccount/mycontainer\ncomp:metadata\nrestype:container\ntimeout:20");
}

// The canonical form as the Shared Key documentation lays it out: empty standard headers, the
// x-ms-* headers lower-cased and sorted, then the resource with its parameters sorted, several
// values of one name joined by commas.
TEST(SharedKeyTest, StringToSignFollowsTheDocumentedLayout) {
  StorageRequest request{
      .verb = "GET",
      .path = "/mycontainer",
      .query = {{"restype", "container"}, {"comp", "metadata"}, {"Comp", "list"}},
      .ms_headers = {{"X-MS-Version", "2015-02-21"},
                     {"x-ms-date", "Fri, 26 Jun 2015 23:39:12 GMT"}}};
  EXPECT_EQ(shared_key_string_to_sign("myaccount", request),
            "GET\n\n\n\n\n\n\n\n\n\n\n\n"
            "x-ms-date:Fri, 26 Jun 2015 23:39:12 GMT\nx-ms-version:2015-02-21\n"
            "/myaccount/mycontainer\ncomp:list,metadata\nrestype:container");
}

// The worked example of the Cosmos DB REST reference ("Access control on Cosmos DB resources"):
// its key, request and date give the published token (which the page writes with lower-case
// percent escapes; the service decodes either case).
TEST(CosmosAuthorizationTest, MatchesThePublishedExample) {
  const auto key = base64_decode(
      "dsZQi3KtZmCv1ljt3VNWNm7sQUF1y5rJfC6kv5JiwvW0EndXdDku/dkKBp8/ufDToSxLzR4y+O/0H/t4bQtVNw==");
  ASSERT_TRUE(key);
  EXPECT_EQ(
      cosmos_authorization("GET", "dbs", "dbs/ToDoList", "Thu, 27 Apr 2017 00:51:12 GMT", *key),
      "type%3Dmaster%26ver%3D1.0%26sig%3Dc09PEVJrgp2uQRkr934kFbTqhByc7TVr3OHyqlu%2Bc%2Bc%3D");
}

// Tokens as Microsoft's @azure/cosmos 4.9.3 makes them (its generateHeaders, given the key and
// time of the REST documentation's example, and a document write of our own).
TEST(CosmosAuthorizationTest, MatchesTheAzureCosmosSdk) {
  const auto key = base64_decode(
      "dsZQi3KtZmCv1ljt3VNWNm7sQUF1y5rJfC6kv5JiwvW0EndXdDku/dkKBp8/ufDToSxLzR4ZRRLSF7Nh7GW5dg==");
  ASSERT_TRUE(key);
  EXPECT_EQ(
      cosmos_authorization("GET", "dbs", "dbs/ToDoList", "Thu, 27 Apr 2017 00:51:12 GMT", *key),
      "type%3Dmaster%26ver%3D1.0%26sig%3D2SWvP9VZD32E44S4f3bQ26WmXd48FI01ibOsxNH0m0I%3D");
  EXPECT_EQ(
      cosmos_authorization("POST", "docs", "dbs/sluice/colls/stats",
                           "Mon, 07 Dec 2026 13:04:52 GMT", *key),
      "type%3Dmaster%26ver%3D1.0%26sig%3DAum%2FSgmhac0gwmpoW06VzElhI0BCOA36Td%2B%2BMg4ZfUI%3D");
}

TEST(Base64Test, RoundTripsAndRefusesWhatIsNotBase64) {
  for (std::string_view bytes : {"", "a", "ab", "abc", "abcd", "\xff\x00\x01"}) {
    EXPECT_EQ(base64_decode(base64_encode(bytes)), std::string(bytes));
  }
  EXPECT_EQ(base64_encode("{\"a\":1}"), "eyJhIjoxfQ==");
  EXPECT_FALSE(base64_decode("eyJhIjoxfQ="));    // length
  EXPECT_FALSE(base64_decode("{\"a\":1}x"));     // alphabet
  EXPECT_FALSE(base64_decode(" eyJhIjoxfQ=="));  // whitespace
  EXPECT_FALSE(base64_decode("ey=hIjoxfQ=="));   // padding inside
}

TEST(HttpDateTest, FormatsRfc1123) {
  EXPECT_EQ(http_date(1'493'254'272'000'000), "Thu, 27 Apr 2017 00:51:12 GMT");
}

TEST(UrlEncodingTest, KeepsUnreservedAndRoundTrips) {
  EXPECT_EQ(url_encode("AgAAAA+/=x y"), "AgAAAA%2B%2F%3Dx%20y");
  EXPECT_EQ(url_decode("AgAAAA%2B%2F%3Dx%20y"), "AgAAAA+/=x y");
  EXPECT_FALSE(url_decode("%4"));
  EXPECT_FALSE(url_decode("%zz"));
}

}  // namespace
}  // namespace sluice::azure
