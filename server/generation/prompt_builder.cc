#include "server/generation/prompt_builder.h"

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <numeric>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/string_view.h"
#include "index/text/tokenizer.h"

namespace quarry::generation {
namespace {

constexpr size_t kBytesPerToken = 4;
constexpr std::string_view kSourcesPlaceholder = "{sources}";
constexpr std::string_view kQuestionPlaceholder = "{question}";
constexpr std::string_view kBlockSeparator = "\n\n";
// A chunk cut to fit an empty budget keeps at least this many bytes, else it is left out.
constexpr size_t kMinCutBytes = 64;
// A cut backs off to a space when one is this close to the limit.
constexpr size_t kCutSearchBytes = 64;

absl::string_view Absl(std::string_view text) { return {text.data(), text.size()}; }

std::string SourceHeader(int number, std::string_view title) {
  return title.empty() ? absl::StrCat("[", number, "]\n")
                       : absl::StrCat("[", number, "] ", Absl(title), "\n");
}

// Hashes of the word trigrams of `text` (ASCII case-folded). A text of fewer than three words
// is one shingle, so short texts only count as repeats when they are the same words.
absl::flat_hash_set<size_t> Shingles(std::string_view text) {
  std::vector<std::string> words;
  for (const text::Token& token : text::Tokenize(text)) {
    if (!token.is_word) continue;
    std::string word(text.substr(token.start, token.end - token.start));
    for (char& c : word) {
      if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    }
    words.push_back(std::move(word));
  }
  absl::flat_hash_set<size_t> shingles;
  const std::hash<std::string> hash;
  if (words.size() < 3) {
    if (!words.empty()) shingles.insert(hash(absl::StrJoin(words, " ")));
    return shingles;
  }
  for (size_t i = 0; i + 2 < words.size(); ++i) {
    shingles.insert(hash(absl::StrCat(words[i], " ", words[i + 1], " ", words[i + 2])));
  }
  return shingles;
}

// The fraction of `candidate`'s shingles that `packed` also has.
double Containment(const absl::flat_hash_set<size_t>& candidate,
                   const absl::flat_hash_set<size_t>& packed) {
  if (candidate.empty()) return 0;
  size_t shared = 0;
  for (size_t shingle : candidate) shared += packed.contains(shingle) ? 1 : 0;
  return static_cast<double>(shared) / static_cast<double>(candidate.size());
}

// At most `max_bytes` of `text`, cut at a space near the end if there is one and never inside
// a UTF-8 sequence.
std::string CutText(std::string_view text, size_t max_bytes) {
  if (text.size() <= max_bytes) return std::string(text);
  size_t cut = max_bytes;
  while (cut > 0 && (static_cast<unsigned char>(text[cut]) & 0xC0) == 0x80) --cut;
  const size_t space = text.rfind(' ', cut);
  if (space != std::string_view::npos && space > 0 && cut - space <= kCutSearchBytes) cut = space;
  return std::string(text.substr(0, cut));
}

// Replaces the placeholders in one pass over the template.
std::string Fill(std::string_view templ, std::string_view sources, std::string_view question) {
  std::string out;
  size_t i = 0;
  while (i < templ.size()) {
    const size_t open = templ.find('{', i);
    if (open == std::string_view::npos) break;
    out.append(templ.substr(i, open - i));
    const std::string_view rest = templ.substr(open);
    if (rest.starts_with(kSourcesPlaceholder)) {
      out.append(sources);
      i = open + kSourcesPlaceholder.size();
    } else if (rest.starts_with(kQuestionPlaceholder)) {
      out.append(question);
      i = open + kQuestionPlaceholder.size();
    } else {
      out.push_back('{');
      i = open + 1;
    }
  }
  out.append(templ.substr(std::min(i, templ.size())));
  return out;
}

}  // namespace

int EstimateTokens(std::string_view text) {
  return static_cast<int>((text.size() + kBytesPerToken - 1) / kBytesPerToken);
}

PromptTemplates ResolveTemplates(const PromptTemplates& request,
                                 const PromptTemplates& collection) {
  PromptTemplates resolved;
  resolved.system = !request.system.empty()      ? request.system
                    : !collection.system.empty() ? collection.system
                                                 : std::string(kDefaultSystemTemplate);
  resolved.user = !request.user.empty()      ? request.user
                  : !collection.user.empty() ? collection.user
                                             : std::string(kDefaultUserTemplate);
  return resolved;
}

absl::Status ValidateTemplates(const PromptTemplates& templates, std::string_view field) {
  for (std::string_view placeholder : {kSourcesPlaceholder, kQuestionPlaceholder}) {
    if (templates.system.find(placeholder) == std::string::npos &&
        templates.user.find(placeholder) == std::string::npos) {
      return absl::InvalidArgumentError(
          absl::StrCat(Absl(field), ": neither the system nor the user template contains ",
                       Absl(placeholder), ", so the model would not see it"));
    }
  }
  return absl::OkStatus();
}

std::vector<Source> PackSources(std::span<const Hit> hits, const PackOptions& options) {
  const size_t budget_bytes =
      static_cast<size_t>(std::max(0, options.budget_tokens)) * kBytesPerToken;
  // Headers are costed with the largest number any source can get, so the final text (numbered
  // after the choice) never exceeds what was costed.
  const int max_number = static_cast<int>(hits.size());

  std::vector<size_t> order(hits.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(),
                   [&](size_t a, size_t b) { return hits[a].score > hits[b].score; });

  struct Packed {
    size_t hit;
    std::string text;  // the hit's text, or its cut
    absl::flat_hash_set<size_t> shingles;
  };
  std::vector<Packed> packed;
  size_t used_bytes = 0;
  absl::flat_hash_set<std::string> documents;
  std::vector<size_t> same_document;

  auto try_pack = [&](size_t index) {
    const Hit& hit = hits[index];
    absl::flat_hash_set<size_t> shingles = Shingles(hit.text);
    for (const Packed& other : packed) {
      if (Containment(shingles, other.shingles) >= options.max_overlap) return;
    }
    const size_t overhead = SourceHeader(max_number, hit.title).size() + kBlockSeparator.size();
    std::string text = hit.text;
    if (used_bytes + overhead + text.size() > budget_bytes) {
      if (!packed.empty() || budget_bytes < overhead + kMinCutBytes) return;
      text = CutText(text, budget_bytes - overhead);
    }
    used_bytes += overhead + text.size();
    documents.insert(hit.document_id);
    packed.push_back(Packed{index, std::move(text), std::move(shingles)});
  };

  for (size_t index : order) {
    if (documents.contains(hits[index].document_id)) {
      same_document.push_back(index);
    } else {
      try_pack(index);
    }
  }
  for (size_t index : same_document) try_pack(index);

  // Prompt order is score order, whichever pass took the chunk.
  std::stable_sort(packed.begin(), packed.end(), [&](const Packed& a, const Packed& b) {
    return hits[a.hit].score > hits[b.hit].score;
  });
  std::vector<Source> sources;
  sources.reserve(packed.size());
  for (Packed& entry : packed) {
    Source source = SourceFromHit(hits[entry.hit], static_cast<int>(sources.size()) + 1);
    source.text = std::move(entry.text);
    sources.push_back(std::move(source));
  }
  return sources;
}

std::string FormatSources(std::span<const Source> sources) {
  std::string out;
  for (const Source& source : sources) {
    if (!out.empty()) out.append(kBlockSeparator);
    absl::StrAppend(&out, SourceHeader(source.number, source.title), Absl(source.text));
  }
  return out;
}

Prompt BuildPrompt(std::string_view question, std::span<const Hit> hits,
                   std::span<const ChatMessage> history, const PromptTemplates& templates,
                   const PackOptions& options) {
  Prompt prompt;
  prompt.sources = PackSources(hits, options);
  const std::string sources = FormatSources(prompt.sources);
  prompt.source_tokens = EstimateTokens(sources);
  prompt.messages.push_back(ChatMessage{kSystemRole, Fill(templates.system, sources, question)});
  for (const ChatMessage& turn : history) prompt.messages.push_back(turn);
  prompt.messages.push_back(ChatMessage{kUserRole, Fill(templates.user, sources, question)});
  for (const ChatMessage& message : prompt.messages) {
    prompt.prompt_tokens += EstimateTokens(message.content);
  }
  return prompt;
}

}  // namespace quarry::generation
