#include "client/eval_command.h"

#include <cstdio>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "client/retrieval_metrics.h"
#include "index/document.h"
#include "index/readers/document_reader.h"
#include "index/store/filesystem.h"

ABSL_FLAG(std::string, queries, "", "eval: queries file (JSONL: {\"_id\", \"text\"} per line)");
ABSL_FLAG(std::string, qrels, "", "eval: relevance judgements (BEIR qrels TSV)");
ABSL_FLAG(std::string, run, "", "eval: write the rankings to this TREC run file");
ABSL_FLAG(std::string, fusion, "", "eval: hybrid fusion, rrf or weighted (default: the server's)");
ABSL_FLAG(int32_t, rrf_k, 0, "eval: RRF constant k (0: the server's, 60)");
ABSL_FLAG(double, dense_weight, 0.3, "eval: dense weight in weighted fusion, in [0, 1]");
ABSL_FLAG(int32_t, candidates, 0, "eval: candidates per retriever (0: the server's)");
ABSL_FLAG(double, mmr_lambda, 0, "eval: MMR trade-off in (0, 1] (0: no MMR)");
ABSL_FLAG(int32_t, max_chunks_per_document, 1,
          "eval: at most this many chunks per document (0: no limit)");
ABSL_FLAG(double, bm25_k1, 0.9, "eval: BM25 k1");
ABSL_FLAG(double, bm25_b, 0.4, "eval: BM25 b");
ABSL_FLAG(int32_t, feedback_documents, 0,
          "eval: pseudo-relevance feedback chunks for the lexical leg, 0: none "
          "(unset: the server's, 3 in hybrid mode, 0 in lexical)");
ABSL_FLAG(int32_t, feedback_terms, 20, "eval: expansion words from the feedback chunks");
ABSL_FLAG(double, feedback_original_weight, 0.7,
          "eval: weight of the original query words against the expansion, in [0, 1]");
ABSL_FLAG(int32_t, ef_search, 0, "eval: HNSW beam width of dense search (0: the server's, 128)");
ABSL_FLAG(int32_t, nprobe, 0, "eval: IVF lists probed by dense search (0: the shard's own)");

namespace quarry::cli {
namespace {

namespace v1 = ::quarry::v1;

struct Query {
  std::string id;
  std::string text;
};

// The queries of `path` that the qrels judge, in qrels order. Every judged query must be there.
absl::StatusOr<std::vector<Query>> ReadJudgedQueries(const std::string& path,
                                                     const client::Qrels& qrels) {
  absl::StatusOr<std::unique_ptr<DocumentReader>> reader = DocumentReader::Open(path);
  if (!reader.ok()) return reader.status();
  std::map<std::string, std::string> texts;
  Document document;
  while (true) {
    absl::StatusOr<bool> more = (*reader)->Next(&document);
    if (!more.ok()) return more.status();
    if (!*more) break;
    if (qrels.count(document.id) != 0) texts[document.id] = document.text;
  }
  std::vector<Query> queries;
  for (const auto& [id, judged] : qrels) {
    const auto it = texts.find(id);
    if (it == texts.end()) {
      return absl::InvalidArgumentError(
          absl::StrCat("query \"", id, "\" of the qrels has no text in ", path));
    }
    queries.push_back(Query{id, it->second});
  }
  return queries;
}

// Applies eval's own search options to `options`.
void ApplyEvalOptions(const absl::flat_hash_set<std::string>& given,
                      v1::RetrievalOptions* options) {
  v1::HybridOptions* hybrid = options->mutable_hybrid();
  const std::string fusion = absl::GetFlag(FLAGS_fusion);
  if (fusion == "rrf") hybrid->set_fusion(v1::FUSION_METHOD_RRF);
  if (fusion == "weighted") hybrid->set_fusion(v1::FUSION_METHOD_WEIGHTED);
  hybrid->set_rrf_k(absl::GetFlag(FLAGS_rrf_k));
  if (given.contains("dense_weight")) {
    hybrid->set_dense_weight(static_cast<float>(absl::GetFlag(FLAGS_dense_weight)));
  }
  hybrid->set_candidates(absl::GetFlag(FLAGS_candidates));
  options->mutable_diversity()->set_mmr_lambda(static_cast<float>(absl::GetFlag(FLAGS_mmr_lambda)));
  options->mutable_diversity()->set_max_chunks_per_document(
      absl::GetFlag(FLAGS_max_chunks_per_document));
  if (given.contains("bm25_k1"))
    options->set_bm25_k1(static_cast<float>(absl::GetFlag(FLAGS_bm25_k1)));
  if (given.contains("bm25_b"))
    options->set_bm25_b(static_cast<float>(absl::GetFlag(FLAGS_bm25_b)));
  if (given.contains("feedback_documents"))
    options->set_feedback_documents(absl::GetFlag(FLAGS_feedback_documents));
  if (given.contains("feedback_terms"))
    options->set_feedback_terms(absl::GetFlag(FLAGS_feedback_terms));
  if (given.contains("feedback_original_weight")) {
    options->set_feedback_original_weight(
        static_cast<float>(absl::GetFlag(FLAGS_feedback_original_weight)));
  }
  options->set_ef_search(absl::GetFlag(FLAGS_ef_search));
  options->set_nprobe(absl::GetFlag(FLAGS_nprobe));
}

// "hybrid" for SEARCH_MODE_HYBRID.
std::string ModeName(v1::SearchMode mode) {
  return absl::AsciiStrToLower(absl::StripPrefix(v1::SearchMode_Name(mode), "SEARCH_MODE_"));
}

}  // namespace

const std::vector<std::string>& EvalFlagNames() {
  static const std::vector<std::string>* const names =
      new std::vector<std::string>{"collection",
                                   "k",
                                   "mode",
                                   "filter",
                                   "queries",
                                   "qrels",
                                   "run",
                                   "fusion",
                                   "rrf_k",
                                   "dense_weight",
                                   "candidates",
                                   "mmr_lambda",
                                   "max_chunks_per_document",
                                   "bm25_k1",
                                   "bm25_b",
                                   "feedback_documents",
                                   "feedback_terms",
                                   "feedback_original_weight",
                                   "ef_search",
                                   "nprobe"};
  return *names;
}

absl::Status CheckEvalFlags(const absl::flat_hash_set<std::string>& flags_given) {
  if (absl::GetFlag(FLAGS_queries).empty()) {
    return absl::InvalidArgumentError("eval needs --queries FILE");
  }
  if (absl::GetFlag(FLAGS_qrels).empty())
    return absl::InvalidArgumentError("eval needs --qrels FILE");
  const std::string fusion = absl::GetFlag(FLAGS_fusion);
  if (!fusion.empty() && fusion != "rrf" && fusion != "weighted") {
    return absl::InvalidArgumentError(
        absl::StrCat("--fusion must be rrf or weighted, not \"", fusion, "\""));
  }
  if (flags_given.contains("run") && absl::GetFlag(FLAGS_run).empty()) {
    return absl::InvalidArgumentError("--run needs a file name");
  }
  return absl::OkStatus();
}

absl::Status RunEval(const EvalRequest& request) {
  absl::StatusOr<std::string> qrels_text = ReadFile(absl::GetFlag(FLAGS_qrels));
  if (!qrels_text.ok()) return qrels_text.status();
  absl::StatusOr<client::Qrels> qrels = client::ParseQrels(*qrels_text);
  if (!qrels.ok()) {
    return absl::Status(qrels.status().code(),
                        absl::StrCat(absl::GetFlag(FLAGS_qrels), ": ", qrels.status().message()));
  }
  if (qrels->empty()) {
    return absl::InvalidArgumentError(absl::StrCat(absl::GetFlag(FLAGS_qrels), ": no judgements"));
  }
  absl::StatusOr<std::vector<Query>> queries =
      ReadJudgedQueries(absl::GetFlag(FLAGS_queries), *qrels);
  if (!queries.ok()) return queries.status();

  v1::SearchRequest search;
  search.set_collection(request.collection);
  search.set_omit_text(true);
  *search.mutable_options() = request.options;
  ApplyEvalOptions(request.flags_given, search.mutable_options());

  std::map<std::string, std::vector<std::string>> rankings;
  std::vector<double> latencies_ms;
  std::string run;
  v1::SearchMode mode = v1::SEARCH_MODE_UNSPECIFIED;
  for (const Query& query : *queries) {
    search.set_text(query.text);
    const absl::Time start = absl::Now();
    absl::StatusOr<v1::SearchResponse> response = request.client->Search(search, request.call);
    latencies_ms.push_back(absl::ToDoubleMilliseconds(absl::Now() - start));
    if (!response.ok()) {
      return absl::Status(response.status().code(),
                          absl::StrCat("query \"", query.id, "\": ", response.status().message()));
    }
    mode = response->mode();
    std::vector<std::string> hit_documents;
    std::map<std::string, float> best_score;
    for (const v1::SearchHit& hit : response->hits()) {
      hit_documents.push_back(hit.document_id());
      best_score.emplace(hit.document_id(), hit.score());  // hits are best first
    }
    std::vector<std::string>& ranking = rankings[query.id];
    ranking = client::DocumentRanking(hit_documents);
    for (size_t rank = 0; rank < ranking.size(); ++rank) {
      absl::StrAppendFormat(&run, "%s Q0 %s %d %.6f quarry-%s\n", query.id, ranking[rank], rank + 1,
                            best_score[ranking[rank]], ModeName(mode));
    }
  }
  if (request.flags_given.contains("run")) {
    if (absl::Status status = WriteFileAtomically(absl::GetFlag(FLAGS_run), run); !status.ok()) {
      return status;
    }
  }

  const client::RetrievalMetrics metrics = client::Evaluate(*qrels, rankings);
  const double p50 = client::Percentile(latencies_ms, 50);
  const double p99 = client::Percentile(latencies_ms, 99);
  if (request.json) {
    absl::PrintF(
        "{\"collection\": \"%s\", \"mode\": \"%s\", \"queries\": %d, \"ndcg_at_10\": %.4f, "
        "\"recall_at_10\": %.4f, \"recall_at_100\": %.4f, \"mrr_at_10\": %.4f, "
        "\"latency_p50_ms\": %.3f, \"latency_p99_ms\": %.3f}\n",
        request.collection, ModeName(mode), metrics.queries, metrics.ndcg_at_10,
        metrics.recall_at_10, metrics.recall_at_100, metrics.mrr_at_10, p50, p99);
  } else {
    absl::PrintF("collection %s, mode %s, %d queries\n", request.collection, ModeName(mode),
                 metrics.queries);
    absl::PrintF("nDCG@10     %.4f\n", metrics.ndcg_at_10);
    absl::PrintF("Recall@10   %.4f\n", metrics.recall_at_10);
    absl::PrintF("Recall@100  %.4f\n", metrics.recall_at_100);
    absl::PrintF("MRR@10      %.4f\n", metrics.mrr_at_10);
    absl::PrintF("latency     p50 %.2f ms, p99 %.2f ms\n", p50, p99);
  }
  return absl::OkStatus();
}

}  // namespace quarry::cli
