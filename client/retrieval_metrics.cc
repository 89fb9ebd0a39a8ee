#include "client/retrieval_metrics.h"

#include <algorithm>
#include <cmath>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"

namespace quarry::client {
namespace {

int Grade(const std::map<std::string, int>& judged, const std::string& document) {
  const auto it = judged.find(document);
  return it == judged.end() ? 0 : it->second;
}

size_t RelevantCount(const std::map<std::string, int>& judged) {
  size_t relevant = 0;
  for (const auto& [document, grade] : judged) relevant += grade >= 1;
  return relevant;
}

}  // namespace

absl::StatusOr<Qrels> ParseQrels(absl::string_view text) {
  Qrels qrels;
  int line_number = 0;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    ++line_number;
    const std::vector<absl::string_view> fields =
        absl::StrSplit(line, absl::ByAnyChar(" \t\r"), absl::SkipEmpty());
    if (fields.empty()) continue;
    int grade = 0;
    const bool numeric_grade = absl::SimpleAtoi(fields.back(), &grade);
    if (line_number == 1 && !numeric_grade) continue;  // the header
    if ((fields.size() != 3 && fields.size() != 4) || !numeric_grade) {
      return absl::InvalidArgumentError(
          absl::StrCat("qrels line ", line_number,
                       ": expected \"query-id<TAB>corpus-id<TAB>grade\" (or \"qid 0 docid "
                       "grade\"), got \"",
                       absl::StripAsciiWhitespace(line), "\""));
    }
    qrels[std::string(fields[0])][std::string(fields[fields.size() - 2])] = grade;
  }
  return qrels;
}

std::vector<std::string> DocumentRanking(const std::vector<std::string>& hit_document_ids) {
  std::vector<std::string> ranking;
  absl::flat_hash_set<std::string> seen;
  for (const std::string& id : hit_document_ids) {
    if (seen.insert(id).second) ranking.push_back(id);
  }
  return ranking;
}

double NdcgAt(const std::vector<std::string>& ranking, const std::map<std::string, int>& judged,
              size_t k) {
  double dcg = 0;
  for (size_t i = 0; i < std::min(k, ranking.size()); ++i) {
    const int grade = Grade(judged, ranking[i]);
    if (grade > 0) dcg += grade / std::log2(static_cast<double>(i) + 2);
  }
  std::vector<int> ideal;
  for (const auto& [document, grade] : judged) {
    if (grade > 0) ideal.push_back(grade);
  }
  std::sort(ideal.begin(), ideal.end(), std::greater<int>());
  double ideal_dcg = 0;
  for (size_t i = 0; i < std::min(k, ideal.size()); ++i) {
    ideal_dcg += ideal[i] / std::log2(static_cast<double>(i) + 2);
  }
  return ideal_dcg > 0 ? dcg / ideal_dcg : 0;
}

double RecallAt(const std::vector<std::string>& ranking, const std::map<std::string, int>& judged,
                size_t k) {
  const size_t relevant = RelevantCount(judged);
  if (relevant == 0) return 0;
  size_t found = 0;
  for (size_t i = 0; i < std::min(k, ranking.size()); ++i) {
    found += Grade(judged, ranking[i]) >= 1;
  }
  return static_cast<double>(found) / static_cast<double>(relevant);
}

double ReciprocalRankAt(const std::vector<std::string>& ranking,
                        const std::map<std::string, int>& judged, size_t k) {
  for (size_t i = 0; i < std::min(k, ranking.size()); ++i) {
    if (Grade(judged, ranking[i]) >= 1) return 1.0 / static_cast<double>(i + 1);
  }
  return 0;
}

RetrievalMetrics Evaluate(const Qrels& qrels,
                          const std::map<std::string, std::vector<std::string>>& rankings) {
  RetrievalMetrics metrics;
  const std::vector<std::string> none;
  for (const auto& [query, judged] : qrels) {
    const auto it = rankings.find(query);
    const std::vector<std::string>& ranking = it == rankings.end() ? none : it->second;
    metrics.ndcg_at_10 += NdcgAt(ranking, judged, 10);
    metrics.recall_at_10 += RecallAt(ranking, judged, 10);
    metrics.recall_at_100 += RecallAt(ranking, judged, 100);
    metrics.mrr_at_10 += ReciprocalRankAt(ranking, judged, 10);
  }
  metrics.queries = qrels.size();
  if (metrics.queries > 0) {
    const double n = static_cast<double>(metrics.queries);
    metrics.ndcg_at_10 /= n;
    metrics.recall_at_10 /= n;
    metrics.recall_at_100 /= n;
    metrics.mrr_at_10 /= n;
  }
  return metrics;
}

double Percentile(std::vector<double> values, double p) {
  if (values.empty()) return 0;
  std::sort(values.begin(), values.end());
  // Nearest rank: the smallest value with at least p% of the values at or below it.
  const double rank = std::ceil(p / 100.0 * static_cast<double>(values.size()));
  const size_t index = rank < 1 ? 0 : static_cast<size_t>(rank) - 1;
  return values[std::min(index, values.size() - 1)];
}

}  // namespace quarry::client
