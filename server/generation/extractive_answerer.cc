#include "server/generation/extractive_answerer.h"

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "index/text/tokenizer.h"
#include "server/generation/sentence_splitter.h"

namespace quarry::generation {
namespace {

// BM25 constants for sentence-sized "documents" (the usual Robertson values).
// b is lower than the usual 0.75: among sentences, a long one is less often padding than
// among documents, and it tends to carry the context an answer needs.
constexpr double kK1 = 1.2;
constexpr double kB = 0.5;
// Weight of a question term already covered by a picked sentence.
constexpr double kCoveredWeight = 0.5;
// Weight of a question term that is in the source's title but not in the sentence.
constexpr double kTitleWeight = 0.3;
// A source whose title holds all the question's terms (by idf) scores this fraction more: it
// is about the question's subject rather than mentioning it in passing.
constexpr double kTitleAboutness = 0.25;
// Score multipliers for sentences that read badly on their own.
constexpr double kFragmentFactor = 0.6;
constexpr double kHeadingFactor = 0.5;
constexpr double kShortFactor = 0.5;
constexpr int kShortWords = 4;
constexpr absl::string_view kEllipsis = "\u2026";

bool IsSpace(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}
bool IsDigit(char c) { return c >= '0' && c <= '9'; }

// Length of a bracketed reference list at `at` ("[12]", "[3, 4]", "[5-7]", "[5–7]"), else 0.
size_t ReferenceLength(std::string_view text, size_t at) {
  if (text[at] != '[') return 0;
  bool digit = false;
  size_t i = at + 1;
  while (i < text.size()) {
    const char c = text[i];
    if (IsDigit(c)) {
      digit = true;
      ++i;
    } else if (c == ',' || c == ' ' || c == '-' || c == ';') {
      ++i;
    } else if (text.substr(i, 3) == "\u2013") {  // en dash
      i += 3;
    } else {
      break;
    }
  }
  return digit && i < text.size() && text[i] == ']' ? i + 1 - at : 0;
}

// Section labels of structured abstracts ("RESULTS Of the 32 samples...", "DESIGN, SETTING,
// AND PARTICIPANTS Patients were..."): a run of these at the start of a sentence is dropped.
constexpr std::string_view kSectionLabels[] = {
    "AIM",          "AIMS",           "AND",          "BACKGROUND",
    "CONCLUSION",   "CONCLUSIONS",    "CONTEXT",      "DATA",
    "DESIGN",       "DISCUSSION",     "EVIDENCE",     "EXPOSURE",
    "EXPOSURES",    "EXTRACTION",     "FINDINGS",     "FUNDING",
    "IMPORTANCE",   "INTERPRETATION", "INTERVENTION", "INTERVENTIONS",
    "INTRODUCTION", "LIMITATIONS",    "MAIN",         "MATERIALS",
    "MEASURE",      "MEASUREMENTS",   "MEASURES",     "METHOD",
    "METHODS",      "OBJECTIVE",      "OBJECTIVES",   "OUTCOME",
    "OUTCOMES",     "PARTICIPANTS",   "PATIENTS",     "PRIMARY",
    "PURPOSE",      "RATIONALE",      "REGISTRATION", "RESULT",
    "RESULTS",      "REVIEW",         "SECONDARY",    "SELECTION",
    "SETTING",      "SETTINGS",       "SIGNIFICANCE", "SOURCES",
    "STUDY",        "SUBJECTS",       "SUMMARY",      "SYNTHESIS",
    "TRIAL"};

bool IsSectionLabel(std::string_view word) {
  return std::find(std::begin(kSectionLabels), std::end(kSectionLabels), word) !=
         std::end(kSectionLabels);
}

// The length of a run of section labels (with their commas, colons and spaces) at the start
// of `text`, provided something follows it; else 0.
size_t SectionLabelLength(std::string_view text) {
  size_t i = 0;
  size_t end = 0;
  while (i < text.size()) {
    size_t j = i;
    while (j < text.size() && text[j] >= 'A' && text[j] <= 'Z') ++j;
    if (j == i || (j < text.size() && !IsSpace(text[j]) && text[j] != ',' && text[j] != ':') ||
        !IsSectionLabel(text.substr(i, j - i))) {
      break;
    }
    while (j < text.size() && (IsSpace(text[j]) || text[j] == ',' || text[j] == ':')) ++j;
    end = i = j;
  }
  return end < text.size() ? end : 0;
}

// Removes what reads badly out of context: list markers, heading hashes and section labels at
// the start, bracketed reference numbers (which a reader would take for our citations) and
// runs of whitespace.
std::string CleanSentence(std::string_view sentence) {
  size_t i = 0;
  while (i < sentence.size() && sentence[i] == '#') ++i;
  while (i < sentence.size() && IsSpace(sentence[i])) ++i;
  for (std::string_view marker : {"- ", "* ", "+ ", "\u2022 "}) {
    if (sentence.substr(i, marker.size()) == marker) i += marker.size();
  }
  i += SectionLabelLength(sentence.substr(i));
  std::string out;
  out.reserve(sentence.size() - i);
  for (; i < sentence.size(); ++i) {
    const char c = sentence[i];
    if (IsSpace(c)) {
      if (!out.empty() && out.back() != ' ') out.push_back(' ');
      continue;
    }
    if (size_t length = ReferenceLength(sentence, i); length > 0) {
      while (!out.empty() && out.back() == ' ') out.pop_back();
      i += length - 1;
      continue;
    }
    out.push_back(c);
  }
  while (!out.empty() && out.back() == ' ') out.pop_back();
  return out;
}

bool EndsSentence(std::string_view text) {
  while (!text.empty() && (text.back() == '"' || text.back() == '\'' || text.back() == ')')) {
    text.remove_suffix(1);
  }
  if (text.empty()) return false;
  const char last = text.back();
  if (last == '.' || last == '!' || last == '?') return true;
  for (std::string_view mark : {"\u2026", "\u3002", "\uFF01", "\uFF1F", "\u201D", "\u2019"}) {
    if (text.ends_with(mark)) return true;
  }
  return false;
}

bool StartsLowercase(std::string_view text) {
  return !text.empty() && text[0] >= 'a' && text[0] <= 'z';
}

int CountWords(std::string_view text) {
  int words = 0;
  for (const text::Token& token : text::Tokenize(text)) words += token.is_word ? 1 : 0;
  return words;
}

// Cuts `text` to at most `max_bytes` (ellipsis included) at a space, so never inside a UTF-8
// sequence.
std::string Truncate(std::string_view text, size_t max_bytes) {
  if (text.size() <= max_bytes) return std::string(text);
  if (max_bytes <= kEllipsis.size()) return "";
  size_t cut = text.rfind(' ', max_bytes - kEllipsis.size());
  if (cut == std::string_view::npos || cut == 0) return "";
  while (cut > 0 && (text[cut - 1] == ',' || text[cut - 1] == ';' || text[cut - 1] == ' ')) --cut;
  return absl::StrCat(absl::string_view(text.data(), cut), kEllipsis);
}

struct Candidate {
  size_t source = 0;  // index into the sources span
  std::string display;
  absl::flat_hash_map<std::string, int> term_frequencies;
  int length = 0;        // terms, duplicates included
  double quality = 1.0;  // product of the penalty factors
  bool used = false;
};

double Containment(const Candidate& a, const Candidate& b) {
  const Candidate& small = a.term_frequencies.size() <= b.term_frequencies.size() ? a : b;
  const Candidate& large = &small == &a ? b : a;
  if (small.term_frequencies.empty()) return 0;
  size_t shared = 0;
  for (const auto& [term, frequency] : small.term_frequencies) {
    shared += large.term_frequencies.contains(term) ? 1 : 0;
  }
  return static_cast<double>(shared) / static_cast<double>(small.term_frequencies.size());
}

ExtractiveAnswer IDontKnow() {
  ExtractiveAnswer answer;
  answer.text = std::string(kIDontKnow);
  answer.pieces.push_back(answer.text);
  return answer;
}

}  // namespace

ExtractiveAnswer ExtractiveAnswerer::Answer(std::string_view question,
                                            std::span<const Source> sources) const {
  std::vector<std::string> question_terms = analyzer_.Terms(question);
  std::sort(question_terms.begin(), question_terms.end());
  question_terms.erase(std::unique(question_terms.begin(), question_terms.end()),
                       question_terms.end());
  if (question_terms.empty() || sources.empty()) return IDontKnow();
  const absl::flat_hash_set<std::string> question_set(question_terms.begin(), question_terms.end());

  // Candidates, and the question terms each source's title holds.
  std::vector<Candidate> candidates;
  std::vector<absl::flat_hash_set<std::string>> title_terms(sources.size());
  for (size_t s = 0; s < sources.size(); ++s) {
    for (std::string& term : analyzer_.Terms(sources[s].title)) {
      if (question_set.contains(term)) title_terms[s].insert(std::move(term));
    }
    const std::string_view text = sources[s].text;
    const std::vector<SentenceSpan> spans = SplitSentences(text);
    for (size_t i = 0; i < spans.size(); ++i) {
      const std::string_view raw = text.substr(spans[i].start, spans[i].end - spans[i].start);
      Candidate candidate;
      candidate.source = s;
      candidate.display = CleanSentence(raw);
      if (candidate.display.empty()) continue;
      const std::vector<std::string> terms = analyzer_.Terms(candidate.display);
      if (terms.empty()) continue;
      candidate.length = static_cast<int>(terms.size());
      for (const std::string& term : terms) ++candidate.term_frequencies[term];
      // Chunks start and end at token boundaries, not sentence boundaries.
      const bool ends = EndsSentence(candidate.display);
      if (i == 0 && StartsLowercase(raw)) {
        candidate.quality *= kFragmentFactor;
        candidate.display = absl::StrCat(kEllipsis, candidate.display);
      }
      if (!ends && i + 1 == spans.size() && spans.size() > 1) {
        candidate.quality *= kFragmentFactor;
        candidate.display = absl::StrCat(candidate.display, kEllipsis);
      } else if (!ends) {
        candidate.quality *= kHeadingFactor;
      }
      if (CountWords(candidate.display) < kShortWords) candidate.quality *= kShortFactor;
      candidates.push_back(std::move(candidate));
    }
  }
  if (candidates.empty()) return IDontKnow();

  // idf over the candidate sentences (Lucene's variant: always positive).
  const double n = static_cast<double>(candidates.size());
  double total_length = 0;
  absl::flat_hash_map<std::string, double> idf;
  for (const std::string& term : question_terms) {
    double df = 0;
    for (const Candidate& candidate : candidates) df += candidate.term_frequencies.contains(term);
    idf[term] = std::log(1.0 + (n - df + 0.5) / (df + 0.5));
  }
  for (const Candidate& candidate : candidates) total_length += candidate.length;
  const double average_length = std::max(1.0, total_length / n);
  const double last_rank = std::max<double>(1.0, static_cast<double>(sources.size()) - 1.0);
  double question_idf = 0;
  for (const std::string& term : question_terms) question_idf += idf[term];
  std::vector<double> aboutness(sources.size(), 1.0);
  for (size_t s = 0; s < sources.size(); ++s) {
    double in_title = 0;
    for (const std::string& term : title_terms[s]) in_title += idf[term];
    aboutness[s] += kTitleAboutness * in_title / std::max(question_idf, 1e-9);
  }

  absl::flat_hash_set<std::string> covered;
  auto score = [&](const Candidate& candidate) {
    double sum = 0;
    bool matches = false;
    for (const std::string& term : question_terms) {
      const double weight = idf[term] * (covered.contains(term) ? kCoveredWeight : 1.0);
      auto it = candidate.term_frequencies.find(term);
      if (it != candidate.term_frequencies.end()) {
        const double tf = it->second;
        sum += weight * tf * (kK1 + 1) /
               (tf + kK1 * (1 - kB + kB * candidate.length / average_length));
        matches = true;
      } else if (title_terms[candidate.source].contains(term)) {
        sum += kTitleWeight * weight;
      }
    }
    if (!matches) return 0.0;
    const double rank_factor =
        1.0 + options_.rank_bonus * (last_rank - static_cast<double>(candidate.source)) / last_rank;
    return sum * candidate.quality * rank_factor * aboutness[candidate.source];
  };

  ExtractiveAnswer answer;
  std::vector<const Candidate*> picked;
  double first_score = 0;
  while (static_cast<int>(picked.size()) < options_.max_sentences) {
    Candidate* best = nullptr;
    double best_score = 0;
    for (Candidate& candidate : candidates) {
      if (candidate.used) continue;
      for (const Candidate* chosen : picked) {
        if (Containment(candidate, *chosen) >= options_.redundancy) candidate.used = true;
      }
      if (candidate.used) continue;
      const double value = score(candidate);
      if (value > best_score) {  // strict: ties keep the earlier source and sentence
        best = &candidate;
        best_score = value;
      }
    }
    if (best == nullptr) break;
    best->used = true;
    if (picked.empty()) {
      first_score = best_score;
    } else if (best_score < options_.min_relative_score * first_score) {
      break;
    }
    const Source& source = sources[best->source];
    const std::string marker = absl::StrCat("[", source.number, "]");
    const std::string separator = answer.text.empty() ? "" : " ";
    const size_t room = options_.max_answer_bytes -
                        std::min(options_.max_answer_bytes,
                                 answer.text.size() + separator.size() + marker.size() + 1);
    std::string sentence = best->display;
    if (sentence.size() > room) {
      if (!picked.empty()) continue;  // a shorter sentence may still fit
      sentence = Truncate(sentence, room);
      if (sentence.empty()) break;
    }
    std::string piece = absl::StrCat(separator, sentence, " ");
    const uint32_t start = static_cast<uint32_t>(answer.text.size() + piece.size());
    absl::StrAppend(&piece, marker);
    answer.citations.push_back(Citation{.source_number = source.number,
                                        .chunk_id = source.chunk_id,
                                        .start = start,
                                        .end = static_cast<uint32_t>(start + marker.size())});
    answer.text += piece;
    answer.pieces.push_back(std::move(piece));
    picked.push_back(best);
    for (const auto& [term, frequency] : best->term_frequencies) {
      if (question_set.contains(term)) covered.insert(term);
    }
  }
  if (picked.empty()) return IDontKnow();
  answer.answered = true;
  return answer;
}

}  // namespace quarry::generation
