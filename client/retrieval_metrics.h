// Retrieval-quality metrics with trec_eval's definitions, for `quarry eval`.
//
//   - A document is relevant when its qrels grade is >= 1.
//   - nDCG@k (trec_eval ndcg_cut_k): gain = grade (linear), discount 1 / log2(rank + 1); the
//     ideal ranking is built from every judged document of the query.
//   - Recall@k: relevant documents in the top k / relevant documents judged.
//   - MRR@k: 1 / rank of the first relevant document within the top k, else 0.
// Rankings are of documents: a search returns chunks, so a ranking keeps each document at the
// rank of its best chunk (DocumentRanking). Averages run over every query in the qrels; a query
// the run has no ranking for scores 0 (trec_eval -c).
#ifndef QUARRY_CLIENT_RETRIEVAL_METRICS_H_
#define QUARRY_CLIENT_RETRIEVAL_METRICS_H_

#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace quarry::client {

// Query id -> document id -> grade. Ordered, so that reports and run files are stable.
using Qrels = std::map<std::string, std::map<std::string, int>>;

// Parses BEIR qrels: "query-id<TAB>corpus-id<TAB>score" lines (whitespace-separated), with an
// optional header line; the 4-column TREC form "qid 0 docid grade" is accepted too.
// INVALID_ARGUMENT naming the line for anything else.
absl::StatusOr<Qrels> ParseQrels(absl::string_view text);

// Chunk hits' document ids, best first, reduced to each document's first (best) occurrence.
std::vector<std::string> DocumentRanking(const std::vector<std::string>& hit_document_ids);

// One query's metrics; `judged` is its qrels entry (document id -> grade).
double NdcgAt(const std::vector<std::string>& ranking, const std::map<std::string, int>& judged,
              size_t k);
double RecallAt(const std::vector<std::string>& ranking, const std::map<std::string, int>& judged,
                size_t k);
double ReciprocalRankAt(const std::vector<std::string>& ranking,
                        const std::map<std::string, int>& judged, size_t k);

struct RetrievalMetrics {
  size_t queries = 0;  // queries in the qrels
  double ndcg_at_10 = 0;
  double recall_at_10 = 0;
  double recall_at_100 = 0;
  double mrr_at_10 = 0;
};

// Averages over every query of `qrels`; `rankings` maps query id -> document ranking.
RetrievalMetrics Evaluate(const Qrels& qrels,
                          const std::map<std::string, std::vector<std::string>>& rankings);

// The p-th percentile (0..100) of `values` by nearest rank; 0 for none.
double Percentile(std::vector<double> values, double p);

}  // namespace quarry::client

#endif  // QUARRY_CLIENT_RETRIEVAL_METRICS_H_
