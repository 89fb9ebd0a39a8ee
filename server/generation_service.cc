#include "server/generation_service.h"

#include <algorithm>
#include <chrono>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/string_view.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "index/text/utf8.h"
#include "server/call_control.h"
#include "server/generation/chat.h"
#include "server/generation/citations.h"
#include "server/generation/prompt_builder.h"
#include "server/generation/source.h"
#include "server/search_service.h"
#include "server/status_convert.h"

namespace quarry::server {
namespace {

using generation::ChatMessage;
using generation::Citation;
using generation::Source;

// OpenAI accepts at most four stop sequences; other servers follow.
constexpr int kMaxStopSequences = 4;
constexpr size_t kMaxStopBytes = 256;
constexpr size_t kMaxTemplateBytes = 64 << 10;
constexpr float kMaxTemperature = 2.0f;
constexpr char kExtractiveFinishReason[] = "extractive";

double Milliseconds(absl::Duration duration) { return absl::ToDoubleMilliseconds(duration); }

void SourceToProto(const Source& source, v1::Source& out) {
  out.set_number(source.number);
  out.set_chunk_id(source.chunk_id);
  out.set_document_id(source.document_id);
  out.set_title(source.title);
  out.set_score(source.score);
  out.set_text(source.text);
}

void CitationToProto(const Citation& citation, v1::Citation& out) {
  out.set_source_number(citation.source_number);
  out.set_chunk_id(citation.chunk_id);
  out.set_start_offset(static_cast<int32_t>(citation.start));
  out.set_end_offset(static_cast<int32_t>(citation.end));
}

generation::PromptTemplates TemplatesFromProto(const v1::PromptTemplates& templates) {
  return {.system = templates.system(), .user = templates.user()};
}

absl::Status ValidateTemplate(const std::string& text, absl::string_view field) {
  if (text.size() > kMaxTemplateBytes) {
    return absl::InvalidArgumentError(
        absl::StrCat(field, " is ", text.size(), " bytes; the limit is ", kMaxTemplateBytes));
  }
  if (!text::IsValidUtf8(text)) {
    return absl::InvalidArgumentError(absl::StrCat(field, " is not valid UTF-8"));
  }
  return absl::OkStatus();
}

// One Generate call: its timings, and the stream it writes.
class GenerateCall {
 public:
  GenerateCall(grpc::ServerContext* context, grpc::ServerWriter<v1::GenerateResponse>* writer)
      : context_(context), writer_(writer), start_(absl::Now()) {}

  bool IsCancelled() const { return context_->IsCancelled(); }

  absl::Time Deadline() const { return DeadlineOf(*context_); }

  bool WriteSources(const std::vector<Source>& sources) {
    v1::GenerateResponse response;
    for (const Source& source : sources) {
      SourceToProto(source, *response.mutable_sources()->add_sources());
    }
    return Write(response);
  }

  bool WriteDelta(std::string_view text) {
    if (!first_token_.has_value()) first_token_ = absl::Now();
    v1::GenerateResponse response;
    response.mutable_delta()->set_text(std::string(text));
    return Write(response);
  }

  void MarkRetrieved() { retrieved_ = absl::Now(); }

  bool WriteResult(v1::GenerateResult result) {
    v1::GenerateTimings& timings = *result.mutable_timings();
    timings.set_retrieval_ms(Milliseconds(retrieved_ - start_));
    if (first_token_.has_value()) timings.set_first_token_ms(Milliseconds(*first_token_ - start_));
    timings.set_total_ms(Milliseconds(absl::Now() - start_));
    v1::GenerateResponse response;
    *response.mutable_result() = std::move(result);
    return Write(response);
  }

 private:
  bool Write(const v1::GenerateResponse& response) {
    if (IsCancelled()) return false;
    return writer_->Write(response);
  }

  grpc::ServerContext* const context_;
  grpc::ServerWriter<v1::GenerateResponse>* const writer_;
  const absl::Time start_;
  absl::Time retrieved_ = start_;
  std::optional<absl::Time> first_token_;
};

grpc::Status Cancelled() {
  return grpc::Status(grpc::StatusCode::CANCELLED, "the call was cancelled");
}

}  // namespace

GenerationServiceImpl::GenerationServiceImpl(Catalog* catalog, SearchReranking* reranking,
                                             GenerationServiceOptions options,
                                             metrics::ServerMetrics* metrics)
    : catalog_(catalog),
      reranking_(reranking),
      options_(std::move(options)),
      extractive_(options_.extractive),
      metrics_(metrics) {
  if (!options_.llm.base_url.empty()) {
    llm_ = std::make_unique<generation::LlmClient>(options_.llm);
  }
}

GenerationServiceImpl::~GenerationServiceImpl() = default;

bool GenerationServiceImpl::ModelAllowed(const std::string& model) const {
  if (model == options_.llm.model) return true;
  return std::any_of(
      options_.allowed_models.begin(), options_.allowed_models.end(),
      [&](const std::string& allowed) { return allowed == "*" || allowed == model; });
}

absl::Status GenerationServiceImpl::Validate(const v1::GenerateRequest& request) const {
  const std::string& question = request.question();
  if (question.empty()) return absl::InvalidArgumentError("question is empty");
  if (static_cast<int64_t>(question.size()) > options_.max_question_bytes) {
    return absl::InvalidArgumentError(absl::StrCat(
        "question is ", question.size(), " bytes; the limit is ", options_.max_question_bytes));
  }
  if (!text::IsValidUtf8(question)) {
    return absl::InvalidArgumentError("question is not valid UTF-8");
  }

  if (request.history_size() > options_.max_history_turns) {
    return absl::InvalidArgumentError(absl::StrCat("history has ", request.history_size(),
                                                   " turns; the limit is ",
                                                   options_.max_history_turns));
  }
  int64_t history_bytes = 0;
  for (int i = 0; i < request.history_size(); ++i) {
    const v1::ConversationTurn& turn = request.history(i);
    if (turn.role() != v1::ROLE_USER && turn.role() != v1::ROLE_ASSISTANT) {
      return absl::InvalidArgumentError(
          absl::StrCat("history[", i, "].role must be ROLE_USER or ROLE_ASSISTANT"));
    }
    if (!text::IsValidUtf8(turn.content())) {
      return absl::InvalidArgumentError(
          absl::StrCat("history[", i, "].content is not valid UTF-8"));
    }
    history_bytes += static_cast<int64_t>(turn.content().size());
  }
  if (history_bytes > options_.max_history_bytes) {
    return absl::InvalidArgumentError(absl::StrCat(
        "history holds ", history_bytes, " bytes; the limit is ", options_.max_history_bytes));
  }

  const v1::GenerationOptions& generation = request.generation();
  if (generation.max_tokens() < 0 || generation.max_tokens() > options_.max_answer_tokens) {
    return absl::InvalidArgumentError(absl::StrCat("generation.max_tokens must be in 0..",
                                                   options_.max_answer_tokens, ", got ",
                                                   generation.max_tokens()));
  }
  if (generation.context_tokens() < 0 ||
      generation.context_tokens() > options_.max_context_tokens) {
    return absl::InvalidArgumentError(absl::StrCat("generation.context_tokens must be in 0..",
                                                   options_.max_context_tokens, ", got ",
                                                   generation.context_tokens()));
  }
  if (generation.has_temperature() &&
      !(generation.temperature() >= 0 && generation.temperature() <= kMaxTemperature)) {
    return absl::InvalidArgumentError(absl::StrCat("generation.temperature must be in [0, ",
                                                   kMaxTemperature, "], got ",
                                                   generation.temperature()));
  }
  if (generation.stop_size() > kMaxStopSequences) {
    return absl::InvalidArgumentError(absl::StrCat("generation.stop holds ", generation.stop_size(),
                                                   " sequences; the limit is ", kMaxStopSequences));
  }
  for (int i = 0; i < generation.stop_size(); ++i) {
    const std::string& stop = generation.stop(i);
    if (stop.empty() || stop.size() > kMaxStopBytes || !text::IsValidUtf8(stop)) {
      return absl::InvalidArgumentError(absl::StrCat("generation.stop[", i, "] must be 1..",
                                                     kMaxStopBytes, " bytes of valid UTF-8"));
    }
  }
  for (const auto& [text, field] :
       {std::pair{&generation.prompt_templates().system(), "generation.prompt_templates.system"},
        std::pair{&generation.prompt_templates().user(), "generation.prompt_templates.user"}}) {
    if (absl::Status status = ValidateTemplate(*text, field); !status.ok()) return status;
  }

  const bool extractive = llm_ == nullptr || generation.extractive();
  if (!generation.model().empty() && !extractive) {
    if (!text::IsValidUtf8(generation.model()) || !ModelAllowed(generation.model())) {
      std::vector<std::string> allowed = {options_.llm.model};
      allowed.insert(allowed.end(), options_.allowed_models.begin(), options_.allowed_models.end());
      return absl::FailedPreconditionError(
          absl::StrCat("generation.model '", generation.model(),
                       "' is not allowed on this server; allowed: ", absl::StrJoin(allowed, ", ")));
    }
  }
  if (!generation.model().empty() && llm_ == nullptr && !generation.extractive()) {
    return absl::FailedPreconditionError(
        "generation.model is set but no LLM is configured on this server; leave it empty (or "
        "set generation.extractive) for an extractive answer");
  }
  return absl::OkStatus();
}

grpc::Status GenerationServiceImpl::Generate(grpc::ServerContext* context,
                                             const v1::GenerateRequest* request,
                                             grpc::ServerWriter<v1::GenerateResponse>* writer) {
  GenerateCall call(context, writer);
  if (absl::Status status = Validate(*request); !status.ok()) return ToGrpcStatus(status);
  absl::StatusOr<std::shared_ptr<Collection>> collection = catalog_->Get(request->collection());
  if (!collection.ok()) return ToGrpcStatus(collection.status());

  const CollectionConfig& config = (*collection)->config();
  const generation::PromptTemplates templates = generation::ResolveTemplates(
      TemplatesFromProto(request->generation().prompt_templates()),
      {.system = config.system_template, .user = config.user_template});
  if (absl::Status status = generation::ValidateTemplates(templates, "generation.prompt_templates");
      !status.ok()) {
    return ToGrpcStatus(status);
  }

  // Retrieval reuses Search's translation of the options; only the default depth differs.
  v1::SearchRequest search;
  search.set_text(request->question());
  *search.mutable_options() = request->retrieval();
  absl::StatusOr<SearchQuery> query = SearchQueryFromProto(search);
  if (!query.ok()) return ToGrpcStatus(query.status());
  query->caller = CallControlFor(context);
  if (request->retrieval().top_k() == 0) query->top_k = options_.default_top_k;
  RerankOutcome reranked;
  absl::StatusOr<SearchResult> retrieved = reranking_->Search(
      **collection, *std::move(query), request->retrieval().rerank(),
      request->retrieval().rerank_candidates(), CallControlFor(context), reranked);
  if (!retrieved.ok()) return ToGrpcStatus(retrieved.status());
  if (metrics_ != nullptr) metrics_->RecordSearch(*retrieved);
  call.MarkRetrieved();
  if (call.IsCancelled()) return Cancelled();

  std::vector<ChatMessage> history;
  for (const v1::ConversationTurn& turn : request->history()) {
    history.push_back(ChatMessage{
        turn.role() == v1::ROLE_USER ? generation::kUserRole : generation::kAssistantRole,
        turn.content()});
  }
  const int context_tokens = request->generation().context_tokens() > 0
                                 ? request->generation().context_tokens()
                                 : options_.default_context_tokens;
  const generation::Prompt prompt = generation::BuildPrompt(
      request->question(), retrieved->hits, history, templates,
      {.budget_tokens = context_tokens, .max_overlap = options_.max_source_overlap});
  if (!call.WriteSources(prompt.sources)) return Cancelled();

  v1::GenerateResult result;
  for (const Source& source : prompt.sources) SourceToProto(source, *result.add_sources());
  if (!reranked.notice.empty()) result.add_notices(reranked.notice);

  // With nothing retrieved there is nothing to ground an answer in: no LLM call.
  const bool extractive =
      llm_ == nullptr || request->generation().extractive() || prompt.sources.empty();
  if (extractive) {
    generation::ExtractiveAnswer answer = extractive_.Answer(request->question(), prompt.sources);
    for (const std::string& piece : answer.pieces) {
      if (!call.WriteDelta(piece)) return Cancelled();
    }
    result.set_answer(std::move(answer.text));
    for (const Citation& citation : answer.citations) {
      CitationToProto(citation, *result.add_citations());
    }
    result.set_finish_reason(kExtractiveFinishReason);
  } else {
    generation::ChatRequest chat;
    chat.model = request->generation().model();
    chat.messages = prompt.messages;
    if (request->generation().has_temperature()) {
      chat.temperature = request->generation().temperature();
    }
    chat.max_tokens = request->generation().max_tokens() > 0 ? request->generation().max_tokens()
                                                             : options_.default_max_tokens;
    chat.stop.assign(request->generation().stop().begin(), request->generation().stop().end());
    generation::CallControl control;
    control.deadline = call.Deadline();
    control.cancelled = [&call] { return call.IsCancelled(); };
    const absl::Time llm_start = absl::Now();
    bool first_token = true;
    absl::StatusOr<generation::ChatCompletion> completion =
        llm_->Complete(chat, control, [&](std::string_view text) {
          if (first_token && metrics_ != nullptr) metrics_->llm().RecordFirstToken(absl::Now() - llm_start);
          first_token = false;
          return call.WriteDelta(text);
        });
    if (metrics_ != nullptr) {
      metrics_->llm().RecordCall(completion.status(), absl::Now() - llm_start);
      if (completion.ok() && completion->usage.has_value()) {
        metrics_->llm().RecordTokens(completion->usage->prompt_tokens,
                                     completion->usage->completion_tokens);
      }
    }
    if (call.IsCancelled()) return Cancelled();
    if (!completion.ok()) return ToGrpcStatus(completion.status());
    for (const Citation& citation :
         generation::ExtractCitations(completion->text, prompt.sources)) {
      CitationToProto(citation, *result.add_citations());
    }
    result.set_answer(std::move(completion->text));
    result.set_finish_reason(completion->finish_reason.empty() ? "stop"
                                                               : completion->finish_reason);
    result.set_model(completion->model);
    if (completion->usage.has_value()) {
      result.mutable_usage()->set_prompt_tokens(completion->usage->prompt_tokens);
      result.mutable_usage()->set_completion_tokens(completion->usage->completion_tokens);
      result.mutable_usage()->set_total_tokens(completion->usage->total_tokens);
    }
  }
  if (!call.WriteResult(std::move(result))) return Cancelled();
  return grpc::Status::OK;
}

}  // namespace quarry::server
