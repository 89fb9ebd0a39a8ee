// Turns text into search terms for lexical (BM25) retrieval and the built-in embedder:
// tokenize, case-fold, drop English stop words, stem with Snowball's English stemmer
// (Debian's libstemmer). Documents and queries must go through the same analyzer.
#ifndef QUARRY_INDEX_TEXT_ANALYZER_H_
#define QUARRY_INDEX_TEXT_ANALYZER_H_

#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace quarry::text {

class Analyzer {
 public:
  Analyzer();
  ~Analyzer();
  Analyzer(const Analyzer&) = delete;
  Analyzer& operator=(const Analyzer&) = delete;

  // Terms of `text` in order (duplicates kept). Thread-safe.
  // Precondition: `text` is valid UTF-8.
  std::vector<std::string> Terms(std::string_view text) const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace quarry::text

#endif  // QUARRY_INDEX_TEXT_ANALYZER_H_
