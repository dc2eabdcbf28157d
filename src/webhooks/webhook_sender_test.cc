#include "webhooks/webhook_sender.h"

#include <gtest/gtest.h>

namespace sluice::webhooks {
namespace {

// RFC 4231, test cases 1 and 2.
TEST(SignTest, MatchesTheHmacSha256TestVectors) {
  EXPECT_EQ(sign(std::string(20, '\x0b'), "Hi There"),
            "sha256=b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7");
  EXPECT_EQ(sign("Jefe", "what do ya want for nothing?"),
            "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
}

TEST(WebhookSenderTest, UnreachableEndpointIsAFailureNamingTheWebhook) {
  WebhookSender sender;
  // Port 1 on loopback: nothing listens there, the connection is refused at once.
  Status status =
      sender.post_all({{.webhook = "nobody", .url = "http://127.0.0.1:1/", .body = "{}"}});
  EXPECT_EQ(status.code(), StatusCode::kUnavailable);
  EXPECT_NE(status.message().find("webhook nobody"), std::string::npos) << status.message();
  EXPECT_TRUE(sender.post_all({}).ok());
}

}  // namespace
}  // namespace sluice::webhooks
