#include "daemon/metrics_exposition.h"

#include <algorithm>
#include <charconv>
#include <cmath>

namespace jb {

bool HistogramData::Merge(const HistogramData& other) {
  if (other.counts.empty()) return true;
  if (counts.empty()) {
    *this = other;
    return true;
  }
  if (bounds != other.bounds || counts.size() != other.counts.size()) return false;
  for (size_t i = 0; i < counts.size(); ++i) counts[i] += other.counts[i];
  sum += other.sum;
  return true;
}

void HistogramData::Observe(double v) {
  if (counts.size() != bounds.size() + 1) counts.assign(bounds.size() + 1, 0);
  auto i = static_cast<size_t>(std::lower_bound(bounds.begin(), bounds.end(), v) - bounds.begin());
  ++counts[i];
  sum += v;
}

int64_t HistogramData::Count() const {
  int64_t n = 0;
  for (auto c : counts) n += c;
  return n;
}

std::string EscapeLabelValue(const std::string& s) {
  std::string out;
  out.reserve(s.size());
  for (char c : s) {
    if (c == '\\')
      out += "\\\\";
    else if (c == '"')
      out += "\\\"";
    else if (c == '\n')
      out += "\\n";
    else
      out += c;
  }
  return out;
}

std::string EscapeHelp(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c == '\\')
      out += "\\\\";
    else if (c == '\n')
      out += "\\n";
    else
      out += c;
  }
  return out;
}

std::string FormatMetricValue(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  char buf[400];
  // Plain decimals where they stay short (le="0.0005", not "5e-04"); the shortest exact form else.
  double a = std::fabs(v);
  auto r = (a == 0 || (a >= 1e-6 && a < 1e15)) ? std::to_chars(buf, buf + sizeof(buf), v, std::chars_format::fixed)
                                               : std::to_chars(buf, buf + sizeof(buf), v);
  return std::string(buf, r.ptr);
}

void Exposition::FamilyWriter::Line(const std::string& suffix, const MetricLabels& labels, const std::string& value) {
  *out_ << name_ << suffix;
  if (!labels.empty()) {
    *out_ << '{';
    for (size_t i = 0; i < labels.size(); ++i)
      *out_ << (i ? "," : "") << labels[i].first << "=\"" << EscapeLabelValue(labels[i].second) << '"';
    *out_ << '}';
  }
  *out_ << ' ' << value << '\n';
}

Exposition::FamilyWriter& Exposition::FamilyWriter::Sample(const MetricLabels& labels, double value) {
  Line("", labels, FormatMetricValue(value));
  return *this;
}

Exposition::FamilyWriter& Exposition::FamilyWriter::Suffixed(const std::string& suffix, const MetricLabels& labels,
                                                             double value) {
  Line(suffix, labels, FormatMetricValue(value));
  return *this;
}

Exposition::FamilyWriter& Exposition::FamilyWriter::Histogram(const MetricLabels& labels, const HistogramData& h) {
  if (h.counts.size() != h.bounds.size() + 1) return *this;
  MetricLabels l = labels;
  l.emplace_back("le", "");
  int64_t cumulative = 0;
  for (size_t i = 0; i < h.counts.size(); ++i) {
    cumulative += h.counts[i];
    l.back().second = i < h.bounds.size() ? FormatMetricValue(h.bounds[i]) : "+Inf";
    Line("_bucket", l, std::to_string(cumulative));
  }
  Line("_sum", labels, FormatMetricValue(h.sum));
  Line("_count", labels, std::to_string(cumulative));
  return *this;
}

Exposition::FamilyWriter Exposition::Family(const std::string& name, const std::string& type, const std::string& help) {
  if (std::find(names_.begin(), names_.end(), name) != names_.end()) ok_ = false;
  names_.push_back(name);
  out_ << "# HELP " << name << ' ' << EscapeHelp(help) << "\n# TYPE " << name << ' ' << type << '\n';
  return FamilyWriter(&out_, name);
}

}  // namespace jb
