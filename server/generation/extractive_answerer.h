// Answers a question without an LLM: picks the sentences of the retrieved sources that best
// answer it and returns them with "[n]" citations, e.g.
//   "Aspirin irreversibly inhibits cyclooxygenase. [1] It is used to reduce fever. [3]"
//
// Scoring. Every sentence of every source is a candidate. A sentence's score is BM25 over the
// question's analyzed (stemmed, stop-word-free) terms, with idf computed over the candidate
// sentences themselves, so a term that every sentence shares (usually the topic) counts for
// little and the term that tells the answering sentence apart counts for much. On top:
//   - question terms found in the source's title but not in the sentence add a little (the
//     sentence "It inhibits COX-1." about a document titled "Aspirin");
//   - a small bonus for the source's retrieval rank (the retriever saw more context);
//   - penalties for fragments cut by chunking, headings and very short sentences.
// Selection is greedy: the best sentence, then the next best that does not repeat one already
// picked (term containment), where terms already covered count half so a second sentence tends
// to answer another part of the question; up to max_sentences and max_answer_bytes. A sentence
// that shares no term with the question is never picked; if none qualifies, the answer is
// kIDontKnow with no citations.
#ifndef QUARRY_SERVER_GENERATION_EXTRACTIVE_ANSWERER_H_
#define QUARRY_SERVER_GENERATION_EXTRACTIVE_ANSWERER_H_

#include <cstddef>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "index/text/analyzer.h"
#include "server/generation/source.h"

namespace quarry::generation {

inline constexpr std::string_view kIDontKnow =
    "I don't know: the sources do not answer this question.";

struct ExtractiveOptions {
  int max_sentences = 3;
  // Bytes of the whole answer, markers included. A first sentence longer than this is cut at a
  // word boundary and ends with "…".
  size_t max_answer_bytes = 600;
  // Sentences after the first must score at least this fraction of the first, so an answer does
  // not trail off into loosely related text.
  double min_relative_score = 0.45;
  // The top-ranked source's sentences score up to this fraction more than the last source's.
  double rank_bonus = 0.1;
  // A sentence whose distinct terms overlap a picked one's by this fraction (of the smaller
  // set) repeats it and is skipped; chunks overlap, so the same sentence often appears twice.
  double redundancy = 0.7;
};

struct ExtractiveAnswer {
  std::string text;
  // The answer in the pieces it is streamed in (one per sentence with its marker); their
  // concatenation is `text`.
  std::vector<std::string> pieces;
  std::vector<Citation> citations;
  // False for the "I don't know" answer.
  bool answered = false;
};

class ExtractiveAnswerer {
 public:
  explicit ExtractiveAnswerer(ExtractiveOptions options = {}) : options_(options) {}

  // `sources` are numbered as the caller numbered them (normally 1..n in rank order).
  // Preconditions: `question` and the source texts are valid UTF-8. Thread-safe.
  ExtractiveAnswer Answer(std::string_view question, std::span<const Source> sources) const;

 private:
  ExtractiveOptions options_;
  text::Analyzer analyzer_;
};

}  // namespace quarry::generation

#endif  // QUARRY_SERVER_GENERATION_EXTRACTIVE_ANSWERER_H_
