// Observed accuracy: scoring an answer against its label, a sliding window of scores with the 95%
// Wilson score interval, and the SLO rule on it.
//
// Scorers (`accuracy.scorer` in a Workflow):
//  - "exact" (the default): correct when the answer equals the label after trimming ASCII
//    whitespace (space, \t, \n, \r, \f, \v) at both ends. Case and inner whitespace count:
//    labels can be case-significant ("US" vs "us", codes, hashes), and a model whose answers differ
//    in case from its labels should say so with an exec scorer rather than be silently forgiven.
//    Trimming is there because exec models usually end their answer with a newline.
//  - "normalized": correct when the answer equals the label after both are normalized: ASCII
//    whitespace (as above) trimmed at both ends, every inner run of it collapsed to one space, ASCII
//    letters folded to lower case (bytes >= 0x80 untouched). The rule the docqa data set's
//    accuracies were measured with (models/docqa/qa.h Normalise) and the one `jbctl profile` scores by.
//  - exec: a user command judges. The command is started once per answer through an injected
//    ScorerRunner (the worker provides one on top of its process runner); it reads on stdin one
//    JSON line {"key":..., "answer":..., "label":...} (answer as "answer_base64" when it is not
//    UTF-8) and writes on stdout `1`/`0`, `true`/`false` or {"correct": bool}; anything else, a
//    non-zero exit or a timeout is an error (the item is then not scored, never counted wrong).
//
// Thread-safety: scorers are stateless apart from the runner (ScorerRunner::Run must be thread-safe);
// AccuracyWindow is safe to use from any thread.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/mutex.h"
#include "base/status.h"
#include "base/thread_annotations.h"

namespace jb::ingress {

class Scorer {
 public:
  virtual ~Scorer() = default;
  // Whether `answer` is correct for `label`; an error when it cannot be judged.
  virtual StatusOr<bool> Score(std::string_view key, std::string_view answer, std::string_view label) = 0;
};

// The "exact" scorer (see the top of the file).
class ExactScorer final : public Scorer {
 public:
  StatusOr<bool> Score(std::string_view key, std::string_view answer, std::string_view label) override;
};

// The "normalized" scorer (see the top of the file).
class NormalizedScorer final : public Scorer {
 public:
  StatusOr<bool> Score(std::string_view key, std::string_view answer, std::string_view label) override;
  // `s` normalized: trimmed, whitespace runs collapsed to one space, ASCII lower case.
  static std::string Normalize(std::string_view s);
  // Normalize(answer) == Normalize(label).
  static bool Same(std::string_view answer, std::string_view label);
};

// Runs a command with `input` on stdin and returns its stdout; an error on a non-zero exit, a
// timeout or a failure to start (naming the command).
class ScorerRunner {
 public:
  virtual ~ScorerRunner() = default;
  virtual StatusOr<std::string> Run(const std::vector<std::string>& argv, const std::string& input,
                                    std::chrono::milliseconds timeout) = 0;
};

struct ExecScorerOptions {
  std::vector<std::string> argv;            // required
  std::chrono::milliseconds timeout{5000};  // per answer. Default 5 s.
  size_t max_output_bytes = 4096;           // stdout over this is an error. Default 4 KiB.
};

class ExecScorer final : public Scorer {
 public:
  // `runner` is not owned and must outlive the scorer.
  ExecScorer(ExecScorerOptions options, ScorerRunner* runner) : opt_(std::move(options)), runner_(runner) {}
  StatusOr<bool> Score(std::string_view key, std::string_view answer, std::string_view label) override;

  // The stdin line for one answer, and the verdict read from the command's stdout.
  static std::string RequestLine(std::string_view key, std::string_view answer, std::string_view label);
  static StatusOr<bool> ParseVerdict(std::string_view out);

 private:
  ExecScorerOptions opt_;
  ScorerRunner* runner_;
};

// "exact" (or "") -> ExactScorer; "normalized" -> NormalizedScorer; "exec" -> ExecScorer (argv required, runner
// required). kInvalidArgument naming the scorer otherwise.
StatusOr<std::unique_ptr<Scorer>> MakeScorer(const std::string& name, ExecScorerOptions exec, ScorerRunner* runner);

struct Interval {
  double lo = 0;
  double hi = 1;
};

// The Wilson score interval of `correct` successes in `n` trials at normal quantile `z`
// (1.959964 for 95%). n == 0 gives [0, 1].
Interval WilsonInterval(uint64_t correct, uint64_t n, double z = 1.959963984540054);

struct AccuracySnapshot {
  uint64_t correct = 0;
  uint64_t count = 0;   // scored answers in the window (the count the figure rests on)
  uint64_t total = 0;   // scored answers ever
  double accuracy = 0;  // correct / count (0 when count == 0)
  Interval wilson95;
};

// The last `window` scores.
class AccuracyWindow {
 public:
  explicit AccuracyWindow(size_t window = 1000) : ring_(window == 0 ? 1 : window, 0) {}
  void Add(bool correct) EXCLUDES(mu_);
  AccuracySnapshot Snapshot() const EXCLUDES(mu_);

 private:
  mutable Mutex mu_;
  std::vector<uint8_t> ring_ GUARDED_BY(mu_);
  size_t next_ GUARDED_BY(mu_) = 0;
  uint64_t count_ GUARDED_BY(mu_) = 0;
  uint64_t correct_ GUARDED_BY(mu_) = 0;
  uint64_t total_ GUARDED_BY(mu_) = 0;
};

struct AccuracySloVerdict {
  // nullopt: no scored answers, accuracy takes no part in SLOMet. true: met. false: the whole
  // interval lies below the floor (reason AccuracyBelowFloor).
  std::optional<bool> met;
  std::string reason;   // "AccuracyBelowFloor" when met == false, else ""
  std::string message;  // for the condition, e.g. "observed accuracy 62.0% (95% interval 55.1-68.4%, n=200) ..."
};

inline constexpr char kAccuracyBelowFloor[] = "AccuracyBelowFloor";

// The SLO rule: the floor (Slo.minAccuracy, in percent) is missed only when the 95% interval lies
// wholly below it, so a few unlucky answers in a small window do not flip the condition.
AccuracySloVerdict EvaluateAccuracySlo(const AccuracySnapshot& s, double floor_percent);

}  // namespace jb::ingress
