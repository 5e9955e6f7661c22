// Prometheus text exposition (format 0.0.4), hand-written: one family at a time, HELP and TYPE once,
// its samples together (the format requires it), label values escaped (\\, \", \n), numbers in the
// shortest form that reads back exactly (NaN, +Inf, -Inf spelled as Prometheus spells them), and
// histograms as cumulative _bucket{le=...} samples ending in le="+Inf", then _sum and _count.
//
//   Exposition x;
//   x.Family("jellybean_items_total", "counter", "Items ...")
//       .Sample({{"workflow", "w"}}, 12);
//   x.Family("jellybean_latency_seconds", "histogram", "...")
//       .Histogram({{"workflow", "w"}}, bounds, counts, sum);
//   out << x.Text();
//
// Why not prometheus-cpp (Debian prometheus-cpp-dev): its registry owns long-lived metric objects,
// while almost every figure here is read at scrape time from the store and the drivers (a workflow
// or worker that goes away must simply vanish from the next scrape); the format is small and stable,
// and this module keeps the daemon free of a new run-time dependency.
// Thread-safety: none (a value built and rendered by one thread).
#pragma once

#include <cstdint>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

namespace jb {

using MetricLabels = std::vector<std::pair<std::string, std::string>>;

// A histogram's figures: `counts[i]` observations fell in (bounds[i-1], bounds[i]]; counts has one
// more entry than bounds (the last is above every bound). Not cumulative.
struct HistogramData {
  std::vector<double> bounds;
  std::vector<int64_t> counts;
  double sum = 0;
  // Adds `other` bucket by bucket; false (and nothing added) when the bounds differ.
  bool Merge(const HistogramData& other);
  // Counts one observation.
  void Observe(double v);
  int64_t Count() const;
};

// `s` escaped for a label value (backslash, double quote, newline).
std::string EscapeLabelValue(const std::string& s);
// `s` escaped for HELP text (backslash, newline).
std::string EscapeHelp(const std::string& s);
// A sample value as the text format spells it.
std::string FormatMetricValue(double v);

class Exposition {
 public:
  class FamilyWriter {
   public:
    FamilyWriter& Sample(const MetricLabels& labels, double value);
    // A sample of the family's name plus `suffix` (a summary's _sum and _count).
    FamilyWriter& Suffixed(const std::string& suffix, const MetricLabels& labels, double value);
    // Cumulative buckets (le="+Inf" last), _sum and _count. Invalid data (counts not one longer
    // than bounds) writes nothing.
    FamilyWriter& Histogram(const MetricLabels& labels, const HistogramData& h);

   private:
    friend class Exposition;
    FamilyWriter(std::ostringstream* out, std::string name) : out_(out), name_(std::move(name)) {}
    void Line(const std::string& suffix, const MetricLabels& labels, const std::string& value);
    std::ostringstream* out_;
    std::string name_;
  };

  // Starts a family; `type` is counter, gauge, histogram, summary or untyped. A family name may be
  // started once (a second start with the same name is a programming error, reported by Ok()).
  FamilyWriter Family(const std::string& name, const std::string& type, const std::string& help);
  std::string Text() const { return out_.str(); }
  // False when a family name was started twice.
  bool Ok() const { return ok_; }

 private:
  std::ostringstream out_;
  std::vector<std::string> names_;
  bool ok_ = true;
};

}  // namespace jb
