// jb-example-model: the smallest model for the `exec` runtime. It serves exec framing v2 and v1
// (docs/exec-framing.md) through models/common/exec_model.h. Its "inference" counts the words of
// the request's parts, read as one text in the order they came (a single-input operator has one
// part), and answers "words=N bytes=M". A real model (tesseract, pocketsphinx, an ONNX script)
// loads itself and then runs the same ServeModel loop.
#include <cctype>
#include <string>

#include "models/common/exec_model.h"

int main() {
  return jb::exec::ServeModel("{\"ready\":true,\"model\":\"wordcount\",\"framing\":2}",
                              [](const jb::exec::Request& req) -> jb::StatusOr<std::string> {
                                size_t words = 0, bytes = 0;
                                bool in_word = false;  // a word may go on across parts, as when they were concatenated
                                for (const auto& part : req.parts) {
                                  bytes += part.data.size();
                                  for (char c : part.data) {
                                    bool w = std::isalnum(static_cast<unsigned char>(c)) != 0;
                                    if (w && !in_word) ++words;
                                    in_word = w;
                                  }
                                }
                                return "words=" + std::to_string(words) + " bytes=" + std::to_string(bytes);
                              });
}
