#include "bench/scifact_corpus.h"

#include <cstdlib>
#include <memory>

#include "index/readers/document_reader.h"

namespace quarry::bench {
namespace {

absl::StatusOr<std::vector<Document>> ReadAll(const std::string& path) {
  absl::StatusOr<std::unique_ptr<DocumentReader>> reader = DocumentReader::Open(path);
  if (!reader.ok()) return reader.status();
  std::vector<Document> documents;
  Document document;
  while (true) {
    absl::StatusOr<bool> more = (*reader)->Next(&document);
    if (!more.ok()) return more.status();
    if (!*more) break;
    documents.push_back(std::move(document));
  }
  return documents;
}

}  // namespace

std::string ScifactDirectory() {
  if (const char* directory = std::getenv("QUARRY_SCIFACT_DIR")) return directory;
  return QUARRY_SHARED_DIR "/data/scifact";
}

absl::StatusOr<std::vector<Document>> LoadScifactCorpus() {
  return ReadAll(ScifactDirectory() + "/corpus.jsonl");
}

absl::StatusOr<std::vector<std::string>> LoadScifactQueries() {
  absl::StatusOr<std::vector<Document>> queries = ReadAll(ScifactDirectory() + "/queries.jsonl");
  if (!queries.ok()) return queries.status();
  std::vector<std::string> texts;
  for (Document& query : *queries) texts.push_back(std::move(query.text));
  return texts;
}

}  // namespace quarry::bench
