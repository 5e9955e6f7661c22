// The AnswerQuestion join's logic, no model: answers a (transcribed) question from a document's
// (recognised) text. The question's content words are matched against the key part of every
// "Key: Value" line of the document (':' or ';', a common OCR misread); the value of the line
// whose key shares the most words with the question is the answer (ties: the first such line;
// no shared word: ""). A C++ port of the measured qa_join.py (docs/real-models.md): same words,
// same stop list, same tie rule, so the notes' accuracies hold.
// Thread-safety: pure functions.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace jb::docqa {

// Lower-case ASCII words [a-z0-9]+ of `s`.
std::vector<std::string> Words(std::string_view s);

// The answer to `question` from `document` (see above).
std::string Answer(std::string_view question, std::string_view document);

// Whitespace runs collapsed to one space, ends trimmed, ASCII lower case: how answers are
// compared with labels.
std::string Normalise(std::string_view s);

}  // namespace jb::docqa
