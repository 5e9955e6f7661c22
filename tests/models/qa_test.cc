#include "models/docqa/qa.h"

#include <gtest/gtest.h>

namespace jb::docqa {
namespace {

TEST(DocqaQa, MatchesContentWordsAgainstKeys) {
  const std::string doc = "INVOICE\nInvoice number: INV-12345\nInvoice date: 03 May 2024\nDue date: 17 Jun 2024\n";
  EXPECT_EQ(Answer("what is the due date", doc), "17 Jun 2024");
  EXPECT_EQ(Answer("tell me the invoice number", doc), "INV-12345");
  // "date" alone ties between two keys: the first line wins.
  EXPECT_EQ(Answer("please read the date", doc), "03 May 2024");
  // Only stop words, or no shared word: no answer.
  EXPECT_EQ(Answer("what is the", doc), "");
  EXPECT_EQ(Answer("where is the gate", doc), "");
}

TEST(DocqaQa, ReadsOcrMisreadsAndUntidyLines) {
  EXPECT_EQ(Answer("what is the gate", "  Gate ;  B12  \r\nSeat: 9E"), "B12");  // ';' for ':'
  EXPECT_EQ(Answer("what is the seat", "Seat: 9E: window"), "9E: window");      // first separator only
  EXPECT_EQ(Answer("what is the boarding time", "Boarding time: 11:35"), "11:35");
  EXPECT_EQ(Answer("what is the seat", "no separator seat 9E"), "");
}

TEST(DocqaQa, WordsAndNormalise) {
  EXPECT_EQ(Words("Gate-B12, Seat!"), (std::vector<std::string>{"gate", "b12", "seat"}));
  EXPECT_EQ(Normalise("  Lucas   Lindqvist\n"), "lucas lindqvist");
  EXPECT_EQ(Normalise(""), "");
}

}  // namespace
}  // namespace jb::docqa
