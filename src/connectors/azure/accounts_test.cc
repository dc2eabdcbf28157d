#include "connectors/azure/accounts.h"

#include <gtest/gtest.h>

#include "connectors/azure/signing.h"

namespace sluice::azure {
namespace {

TEST(StorageConnectionStringTest, ReadsTheAzureWebJobsStorageForm) {
  auto account = parse_storage_connection_string(
      "DefaultEndpointsProtocol=https;AccountName=streams;AccountKey=a2V5LWJ5dGVz;"
      "EndpointSuffix=core.windows.net");
  ASSERT_TRUE(account.ok()) << account.status().to_string();
  EXPECT_EQ(account->name, "streams");
  EXPECT_EQ(account->key, "key-bytes");
  EXPECT_EQ(account->queue_endpoint, "https://streams.queue.core.windows.net");
  EXPECT_TRUE(account->sas.empty());
}

TEST(StorageConnectionStringTest, TakesAnExplicitQueueEndpointAndIgnoresCaseOfNames) {
  auto account = parse_storage_connection_string(
      "accountname=devstoreaccount1;ACCOUNTKEY=a2V5LWJ5dGVz;"
      "QueueEndpoint=http://127.0.0.1:41234/devstoreaccount1/;");
  ASSERT_TRUE(account.ok()) << account.status().to_string();
  EXPECT_EQ(account->queue_endpoint, "http://127.0.0.1:41234/devstoreaccount1");
}

TEST(StorageConnectionStringTest, TakesASharedAccessSignature) {
  auto account = parse_storage_connection_string(
      "QueueEndpoint=https://streams.queue.core.windows.net;"
      "SharedAccessSignature=sv=2022-11-02&ss=q&srt=sco&sp=rwdlacup&se=2030-01-01T00:00:00Z&sig="
      "abc%3D");
  ASSERT_TRUE(account.ok()) << account.status().to_string();
  EXPECT_EQ(account->sas,
            "sv=2022-11-02&ss=q&srt=sco&sp=rwdlacup&se=2030-01-01T00:00:00Z&sig=abc%3D");
  EXPECT_TRUE(account->key.empty());
}

TEST(StorageConnectionStringTest, DevelopmentStorageIsAzuriteOnItsDefaultPort) {
  auto account = parse_storage_connection_string("UseDevelopmentStorage=true");
  ASSERT_TRUE(account.ok());
  EXPECT_EQ(account->name, "devstoreaccount1");
  EXPECT_EQ(account->queue_endpoint, "http://127.0.0.1:10001/devstoreaccount1");
  EXPECT_EQ(
      base64_encode(account->key),
      "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==");
}

TEST(StorageConnectionStringTest, RefusalsSayWhatIsWrongWithoutTheKey) {
  const std::string secret = "c2VjcmV0LWtleQ==";
  for (const std::string& text :
       {std::string("AccountName=a;AccountKey=not base64!"),
        "AccountName=a;AccountKey=" + secret + ";DefaultEndpointsProtocol=ftp",
        "AccountKey=" + secret, std::string("AccountName=a"),
        "AccountName=a;AccountKey=" + secret + ";QueueEndpoint=not a url",
        "AccountName=a;AccountKey=" + secret + ";AccountName=b", "just text " + secret,
        std::string("UseDevelopmentStorage=yes"),
        "QueueEndpoint=https://a.queue.core.windows.net;SharedAccessSignature=sv=1&se=" + secret,
        std::string("")}) {
    auto account = parse_storage_connection_string(text);
    ASSERT_FALSE(account.ok()) << text;
    EXPECT_EQ(account.status().code(), StatusCode::kInvalidArgument);
    EXPECT_EQ(account.status().message().find(secret), std::string::npos)
        << account.status().message();
    EXPECT_EQ(account.status().message().find("not base64!"), std::string::npos);
  }
}

TEST(CosmosConnectionStringTest, ReadsTheEmulatorForm) {
  auto account = parse_cosmos_connection_string(
      "AccountEndpoint=https://localhost:8081/;AccountKey=a2V5LWJ5dGVz;");
  ASSERT_TRUE(account.ok()) << account.status().to_string();
  EXPECT_EQ(account->endpoint, "https://localhost:8081");
  EXPECT_EQ(account->key, "key-bytes");
  EXPECT_FALSE(parse_cosmos_connection_string("AccountKey=a2V5LWJ5dGVz").ok());
  EXPECT_FALSE(parse_cosmos_connection_string("AccountEndpoint=https://x/").ok());
}

}  // namespace
}  // namespace sluice::azure
