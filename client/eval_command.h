// `quarry eval`: runs every query of a qrels file through the server's Search and prints
// nDCG@10, Recall@10, Recall@100 and MRR@10 (client/retrieval_metrics.h) and the latency of the
// Search calls (p50/p99, measured at the client), optionally writing a TREC run file.
//
// The search options shared with `quarry search` (--collection, --k, --mode, --filter) arrive
// already translated; the flags only eval takes (EvalFlagNames) are defined and read here.
#ifndef QUARRY_CLIENT_EVAL_COMMAND_H_
#define QUARRY_CLIENT_EVAL_COMMAND_H_

#include <string>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "client/quarry_client.h"
#include "quarry/v1/quarry.pb.h"

namespace quarry::cli {

// Every flag eval takes besides the global ones.
const std::vector<std::string>& EvalFlagNames();

// The hits asked of each Search when --k is not given: enough for Recall@100.
inline constexpr int kEvalDefaultDepth = 100;

struct EvalRequest {
  client::QuarryClient* client = nullptr;
  client::CallOptions call;
  std::string collection;
  quarry::v1::RetrievalOptions options;          // top_k, mode and filter from the shared flags
  absl::flat_hash_set<std::string> flags_given;  // to tell a given flag from its default
  bool json = false;
};

// INVALID_ARGUMENT for a usage problem in eval's own flags (missing --queries, bad --fusion).
absl::Status CheckEvalFlags(const absl::flat_hash_set<std::string>& flags_given);

// Runs the evaluation and prints the report; errors from files or the server.
absl::Status RunEval(const EvalRequest& request);

}  // namespace quarry::cli

#endif  // QUARRY_CLIENT_EVAL_COMMAND_H_
