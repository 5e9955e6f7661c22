#include "models/docqa/qa.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <set>

namespace jb::docqa {
namespace {

constexpr std::array<std::string_view, 23> kStop = {"what",  "is",   "the",  "a",   "an",  "tell", "me",   "please",
                                                    "read",  "does", "it",   "say", "for", "can",  "you",  "find",
                                                    "which", "on",   "this", "of",  "my",  "show", "there"};

bool IsSpace(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f'; }

std::string_view Trim(std::string_view s) {
  while (!s.empty() && IsSpace(s.front())) s.remove_prefix(1);
  while (!s.empty() && IsSpace(s.back())) s.remove_suffix(1);
  return s;
}

}  // namespace

std::vector<std::string> Words(std::string_view s) {
  std::vector<std::string> out;
  std::string cur;
  for (char c : s) {
    const char l = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if ((l >= 'a' && l <= 'z') || (l >= '0' && l <= '9')) {
      cur.push_back(l);
    } else if (!cur.empty()) {
      out.push_back(std::move(cur));
      cur.clear();
    }
  }
  if (!cur.empty()) out.push_back(std::move(cur));
  return out;
}

std::string Answer(std::string_view question, std::string_view document) {
  std::vector<std::string> q;
  for (auto& w : Words(question))
    if (std::find(kStop.begin(), kStop.end(), w) == kStop.end()) q.push_back(std::move(w));
  std::string best;
  size_t best_score = 0;
  while (!document.empty()) {
    const size_t nl = document.find_first_of("\n\r");
    std::string_view line = Trim(document.substr(0, nl));
    document = nl == std::string_view::npos ? std::string_view() : document.substr(nl + 1);
    const size_t sep = line.find_first_of(":;");
    if (sep == std::string_view::npos) continue;
    const auto key_words = Words(line.substr(0, sep));
    const std::set<std::string> key(key_words.begin(), key_words.end());
    size_t score = 0;
    for (const auto& w : q) score += key.count(w);
    if (score > best_score) {
      best = std::string(Trim(line.substr(sep + 1)));
      best_score = score;
    }
  }
  return best;
}

std::string Normalise(std::string_view s) {
  std::string out;
  for (char c : Trim(s)) {
    if (IsSpace(c)) {
      if (!out.empty() && out.back() != ' ') out.push_back(' ');
    } else {
      out.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
    }
  }
  return out;
}

}  // namespace jb::docqa
