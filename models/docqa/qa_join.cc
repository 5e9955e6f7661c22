// The AnswerQuestion join for the exec runtime (models/docqa/qa.h): no model, two inputs.
//
//   jb-docqa-join [--question NAME] [--document NAME]
// Request (framing v2 only: the join needs its two parts by name): the part named by --question
// (default SpeechRecognition) holds the question's words, the part named by --document (default
// OCR) the document's text. Answer: the value of the best-matching "Key: Value" line, or "".
#include <cstdio>
#include <cstring>
#include <string>

#include "models/common/exec_model.h"
#include "models/docqa/qa.h"

int main(int argc, char** argv) {
  std::string question = "SpeechRecognition", document = "OCR";
  for (int i = 1; i < argc; i += 2) {
    if (i + 1 >= argc) {
      std::fprintf(stderr, "jb-docqa-join: flag %s needs a value\n", argv[i]);
      return 2;
    }
    if (std::strcmp(argv[i], "--question") == 0)
      question = argv[i + 1];
    else if (std::strcmp(argv[i], "--document") == 0)
      document = argv[i + 1];
    else {
      std::fprintf(stderr, "jb-docqa-join: unknown flag %s\n", argv[i]);
      return 2;
    }
  }
  return jb::exec::ServeModel("{\"ready\":true,\"model\":\"qa-join\",\"framing\":2}",
                              [&](const jb::exec::Request& req) -> jb::StatusOr<std::string> {
                                const jb::exec::Part* q = req.Find(question);
                                const jb::exec::Part* d = req.Find(document);
                                if (q == nullptr || d == nullptr)
                                  return jb::Status::InvalidArgument("the join needs the parts " + question + " and " +
                                                                     document + " (exec framing v2)");
                                return jb::docqa::Answer(q->data, d->data);
                              });
}
