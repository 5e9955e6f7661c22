#include "ingress/accuracy.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "ingress/json_util.h"

namespace jb::ingress {
namespace {

std::string_view Trim(std::string_view s) {
  constexpr std::string_view kSpace = " \t\n\r\f\v";
  const auto b = s.find_first_not_of(kSpace);
  if (b == std::string_view::npos) return {};
  return s.substr(b, s.find_last_not_of(kSpace) - b + 1);
}

std::string Percent(double f) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%.1f%%", 100 * f);
  return buf;
}

}  // namespace

StatusOr<bool> ExactScorer::Score(std::string_view, std::string_view answer, std::string_view label) {
  return Trim(answer) == Trim(label);
}

std::string NormalizedScorer::Normalize(std::string_view s) {
  constexpr std::string_view kSpace = " \t\n\r\f\v";
  std::string out;
  out.reserve(s.size());
  for (char c : Trim(s)) {
    if (kSpace.find(c) != std::string_view::npos) {
      if (out.back() != ' ') out.push_back(' ');  // Trim: the first character is not a space
    } else {
      out.push_back(c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c);
    }
  }
  return out;
}

bool NormalizedScorer::Same(std::string_view answer, std::string_view label) {
  return Normalize(answer) == Normalize(label);
}

StatusOr<bool> NormalizedScorer::Score(std::string_view, std::string_view answer, std::string_view label) {
  return Same(answer, label);
}

std::string ExecScorer::RequestLine(std::string_view key, std::string_view answer, std::string_view label) {
  // Encoded as in the result log, so one reader handles both.
  nlohmann::ordered_json j;
  j["key"] = std::string(key);
  if (oip::ValidUtf8(answer)) {
    j["answer"] = std::string(answer);
  } else {
    j["answer_base64"] = oip::Base64(answer);
  }
  j["label"] = std::string(label);
  return j.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace) + "\n";
}

StatusOr<bool> ExecScorer::ParseVerdict(std::string_view out) {
  const std::string_view v = Trim(out);
  if (v == "1" || v == "true") return true;
  if (v == "0" || v == "false") return false;
  auto doc = oip::ParseJsonBounded(v, 4, 64);
  if (doc.ok()) {
    const nlohmann::json* c = oip::Member(*doc, "correct");
    if (c && c->is_boolean()) return c->get<bool>();
  }
  return Status::InvalidArgument("exec scorer answered '" + Excerpt(std::string(v), 64) +
                                 "', expected 1, 0, true, false or {\"correct\": true|false}");
}

StatusOr<bool> ExecScorer::Score(std::string_view key, std::string_view answer, std::string_view label) {
  auto out = runner_->Run(opt_.argv, RequestLine(key, answer, label), opt_.timeout);
  if (!out.ok()) return Status::Unavailable("exec scorer " + opt_.argv.front() + ": " + out.status().message());
  if (out->size() > opt_.max_output_bytes) {
    return Status::InvalidArgument("exec scorer " + opt_.argv.front() + " wrote " + std::to_string(out->size()) +
                                   " bytes, over the limit of " + std::to_string(opt_.max_output_bytes));
  }
  return ParseVerdict(*out);
}

StatusOr<std::unique_ptr<Scorer>> MakeScorer(const std::string& name, ExecScorerOptions exec, ScorerRunner* runner) {
  if (name.empty() || name == "exact") return std::unique_ptr<Scorer>(std::make_unique<ExactScorer>());
  if (name == "normalized") return std::unique_ptr<Scorer>(std::make_unique<NormalizedScorer>());
  if (name == "exec") {
    if (exec.argv.empty() || exec.argv.front().empty())
      return Status::InvalidArgument("scorer exec: a command is required");
    if (!runner) return Status::InvalidArgument("scorer exec: no process runner");
    return std::unique_ptr<Scorer>(std::make_unique<ExecScorer>(std::move(exec), runner));
  }
  return Status::InvalidArgument("unknown scorer '" + Excerpt(name, 32) + "', expected exact, normalized or exec");
}

Interval WilsonInterval(uint64_t correct, uint64_t n, double z) {
  if (n == 0) return {0, 1};
  const double nn = static_cast<double>(n);
  const double p = static_cast<double>(correct) / nn;
  const double z2 = z * z;
  const double denom = 1 + z2 / nn;
  const double center = (p + z2 / (2 * nn)) / denom;
  const double half = z * std::sqrt(p * (1 - p) / nn + z2 / (4 * nn * nn)) / denom;
  return {std::max(0.0, center - half), std::min(1.0, center + half)};
}

void AccuracyWindow::Add(bool correct) {
  MutexLock l(&mu_);
  if (count_ == ring_.size()) {
    correct_ -= ring_[next_];  // the score leaving the window
  } else {
    ++count_;
  }
  ring_[next_] = correct ? 1 : 0;
  correct_ += ring_[next_];
  next_ = (next_ + 1) % ring_.size();
  ++total_;
}

AccuracySnapshot AccuracyWindow::Snapshot() const {
  MutexLock l(&mu_);
  AccuracySnapshot s;
  s.correct = correct_;
  s.count = count_;
  s.total = total_;
  s.accuracy = count_ ? static_cast<double>(correct_) / static_cast<double>(count_) : 0;
  s.wilson95 = WilsonInterval(correct_, count_);
  return s;
}

AccuracySloVerdict EvaluateAccuracySlo(const AccuracySnapshot& s, double floor_percent) {
  AccuracySloVerdict v;
  if (s.count == 0) return v;
  const double floor = floor_percent / 100;
  v.message = "observed accuracy " + Percent(s.accuracy) + " (95% interval " + Percent(s.wilson95.lo) + "-" +
              Percent(s.wilson95.hi) + ", n=" + std::to_string(s.count) + ")";
  if (s.wilson95.hi < floor) {
    v.met = false;
    v.reason = kAccuracyBelowFloor;
    v.message += " is below the floor of " + Percent(floor);
  } else {
    v.met = true;
    v.message += s.wilson95.lo >= floor ? " meets the floor of " + Percent(floor)
                                        : " is not distinguishable from the floor of " + Percent(floor) + " yet";
  }
  return v;
}

}  // namespace jb::ingress
