// Builds the chat prompt for a grounded answer: which retrieved chunks become numbered
// sources, and the messages that show them to the model.
//
// Packing. Hits are taken greedily by score while their source blocks fit the token budget
// (a block that does not fit is skipped and smaller ones after it are still tried). The first
// pass takes at most one chunk per document, so the budget covers as many documents as it
// can; a second pass spends what is left on further chunks of documents already in. A chunk
// whose text mostly repeats a packed one (word trigram containment >= max_overlap: duplicate
// documents, or near-identical versions of one) is skipped. If even the best chunk does not
// fit an empty budget it is cut to fit, so there is always something to answer from. Sources
// are numbered 1..n in score order.
//
// Token estimate. We have no tokenizer for the model (it may be any model behind any
// endpoint), so tokens are estimated as ceil(bytes / 4): the usual rule of thumb for English
// with BPE vocabularies. It over-counts short words and under-counts CJK text (about one token
// per 3-byte character), so operators should set context budgets with some margin.
//
// Templates. {sources} and {question} are replaced in both the system and the user template,
// in one pass, so text inside a source that happens to read "{question}" stays as it is.
// Each template is chosen separately: the request's, else the collection's, else the default.
#ifndef QUARRY_SERVER_GENERATION_PROMPT_BUILDER_H_
#define QUARRY_SERVER_GENERATION_PROMPT_BUILDER_H_

#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "index/collection.h"
#include "server/generation/chat.h"
#include "server/generation/source.h"

namespace quarry::generation {

inline constexpr std::string_view kDefaultSystemTemplate =
    "You answer questions using only the numbered sources you are given. Cite the source of "
    "every statement with its number in square brackets, like [1] or [2, 3]. Do not use "
    "knowledge that is not in the sources. If the sources do not contain the answer, reply "
    "with \"I don't know\" and nothing else.";
inline constexpr std::string_view kDefaultUserTemplate =
    "Sources:\n{sources}\n\nQuestion: {question}";

// ceil(bytes / 4); see above.
int EstimateTokens(std::string_view text);

struct PromptTemplates {
  std::string system;  // empty: use the next level's
  std::string user;
};

// Field by field: the request's template, else the collection's, else the default.
PromptTemplates ResolveTemplates(const PromptTemplates& request, const PromptTemplates& collection);

// INVALID_ARGUMENT unless {sources} and {question} each appear in the system or the user
// template (the model would otherwise never see them). `field` names the templates in the
// message, e.g. "generation.prompt_templates".
absl::Status ValidateTemplates(const PromptTemplates& templates, std::string_view field);

struct PackOptions {
  int budget_tokens = 3000;
  double max_overlap = 0.5;
};

// The numbered sources to show, chosen from `hits` (any order) as described above.
std::vector<Source> PackSources(std::span<const Hit> hits, const PackOptions& options);

// The {sources} text: blocks "[n] title\ntext" (title line "[n]" alone when there is none)
// separated by blank lines.
std::string FormatSources(std::span<const Source> sources);

struct Prompt {
  std::vector<ChatMessage> messages;  // system, history..., user
  std::vector<Source> sources;
  int source_tokens = 0;  // estimate for the {sources} text
  int prompt_tokens = 0;  // estimate for all messages
};

// Packs `hits` and fills the templates (which must be resolved and valid). `history` (earlier
// turns, oldest first) goes between the system message and the question.
Prompt BuildPrompt(std::string_view question, std::span<const Hit> hits,
                   std::span<const ChatMessage> history, const PromptTemplates& templates,
                   const PackOptions& options);

}  // namespace quarry::generation

#endif  // QUARRY_SERVER_GENERATION_PROMPT_BUILDER_H_
