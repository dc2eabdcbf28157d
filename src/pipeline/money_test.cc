#include "pipeline/money.h"

#include <gtest/gtest.h>

namespace sluice::pipeline {
namespace {

TEST(MoneyTest, KnowsCurrencyExponents) {
  EXPECT_EQ(currency_exponent("USD"), 2);
  EXPECT_EQ(currency_exponent("JPY"), 0);
  EXPECT_EQ(currency_exponent("KWD"), 3);
  EXPECT_EQ(currency_exponent("CLF"), 4);
  EXPECT_FALSE(currency_exponent("usd"));
  EXPECT_FALSE(currency_exponent("XXX"));
  EXPECT_FALSE(currency_exponent("US"));
}

TEST(MoneyTest, ParsesDecimalsIntoMinorUnits) {
  EXPECT_EQ(*parse_amount("12.5", 2), 1250);
  EXPECT_EQ(*parse_amount("12.50", 2), 1250);
  EXPECT_EQ(*parse_amount("5.000", 2), 500);  // zeros past the precision change nothing
  EXPECT_EQ(*parse_amount("0.01", 2), 1);
  EXPECT_EQ(*parse_amount("500", 0), 500);
  EXPECT_EQ(*parse_amount("1.234", 3), 1234);
  EXPECT_EQ(*parse_amount("007", 2), 700);
}

TEST(MoneyTest, RefusesWhatIsNotAnAmount) {
  for (const auto& [text, exponent] :
       std::vector<std::pair<std::string, int>>{{"1.001", 2},
                                                {"1.5", 0},
                                                {"0", 2},
                                                {"0.00", 2},
                                                {"-5", 2},
                                                {"", 2},
                                                {"1.", 2},
                                                {".5", 2},
                                                {"1e3", 2},
                                                {"1,5", 2},
                                                {" 1", 2},
                                                {"NaN", 2},
                                                {"1000000000000", 2},
                                                {"99999999999999999999999", 2}}) {
    EXPECT_FALSE(parse_amount(text, exponent).ok()) << text;
  }
  EXPECT_EQ(parse_amount("-5", 2).status().message(), "must be positive");
}

TEST(MoneyTest, FormatsMinorUnitsAsDecimals) {
  EXPECT_EQ(format_amount(1250, 2), "12.50");
  EXPECT_EQ(format_amount(5, 2), "0.05");
  EXPECT_EQ(format_amount(500, 0), "500");
  EXPECT_EQ(format_amount(1234, 3), "1.234");
  EXPECT_EQ(format_amount(-1250, 2), "-12.50");
}

}  // namespace
}  // namespace sluice::pipeline
