#include "index/readers/document_reader.h"

#include <stdlib.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <string>
#include <variant>
#include <vector>

namespace quarry {
namespace {

namespace fs = std::filesystem;

// A fresh folder under the system temp dir, removed with its contents at the end of the test.
class TempDir {
 public:
  TempDir() {
    std::string pattern = (fs::temp_directory_path() / "quarry-reader-XXXXXX").string();
    REQUIRE(mkdtemp(pattern.data()) != nullptr);
    path_ = pattern;
  }
  ~TempDir() {
    std::error_code ignored;
    fs::remove_all(path_, ignored);
  }
  const fs::path& path() const { return path_; }

  // Writes `contents` to the relative path `name`, creating folders as needed.
  std::string Write(const std::string& name, const std::string& contents) const {
    const fs::path file = path_ / name;
    fs::create_directories(file.parent_path());
    std::ofstream out(file, std::ios::binary);
    out << contents;
    return file.string();
  }

 private:
  fs::path path_;
};

std::vector<Document> ReadAll(DocumentReader& reader) {
  std::vector<Document> documents;
  Document document;
  while (true) {
    absl::StatusOr<bool> next = reader.Next(&document);
    REQUIRE(next.ok());
    if (!*next) break;
    documents.push_back(document);
  }
  return documents;
}

std::vector<Document> ReadPath(const std::string& path) {
  absl::StatusOr<std::unique_ptr<DocumentReader>> reader = DocumentReader::Open(path);
  REQUIRE(reader.ok());
  return ReadAll(**reader);
}

std::string StringValue(const Document& document, const std::string& key) {
  auto it = document.metadata.find(key);
  REQUIRE(it != document.metadata.end());
  REQUIRE(std::holds_alternative<std::string>(it->second));
  return std::get<std::string>(it->second);
}

TEST_CASE("JSONL: every field kind", "[reader]") {
  TempDir dir;
  const std::string path = dir.Write(
      "docs.jsonl",
      "\xEF\xBB\xBF"  // a byte-order mark before the first line is tolerated
      R"({"_id": "a", "id": "ignored", "title": "Alpha", "text": "first text", )"
      R"("metadata": {"lang": "en", "year": 2021, "score": 0.5, "draft": false, "gone": null, )"
      R"("tags": ["x", "y"], "nested": {"k": 1}}, "vector": [0.25, -1, 3e2], "extra": 7})"
      "\n"
      "\n"
      "   \n"
      R"({"id": 42, "text": "numeric id"})"
      "\r\n"
      R"({"contents": "pyserini style", "title": null})"
      "\n"
      R"({"_id": "empty", "text": "  \n "})"
      "\n"
      R"({"_id": "last", "text": "no trailing newline"})");

  absl::StatusOr<std::unique_ptr<DocumentReader>> reader = DocumentReader::Open(path);
  REQUIRE(reader.ok());
  CHECK((*reader)->total_bytes() == fs::file_size(path));
  const std::vector<Document> documents = ReadAll(**reader);
  REQUIRE(documents.size() == 4);

  const Document& a = documents[0];
  CHECK(a.id == "a");
  CHECK(a.title == "Alpha");
  CHECK(a.text == "first text");
  CHECK(a.metadata.size() == 6);
  CHECK(StringValue(a, "lang") == "en");
  CHECK(std::get<double>(a.metadata.at("year")) == 2021.0);
  CHECK(std::get<double>(a.metadata.at("score")) == 0.5);
  CHECK(std::get<bool>(a.metadata.at("draft")) == false);
  CHECK(a.metadata.count("gone") == 0);
  CHECK(StringValue(a, "tags") == R"(["x","y"])");
  CHECK(StringValue(a, "nested") == R"({"k":1})");
  CHECK(a.vector == std::vector<float>{0.25f, -1.0f, 300.0f});

  CHECK(documents[1].id == "42");
  CHECK(documents[1].text == "numeric id");
  CHECK(documents[1].title.empty());
  CHECK(documents[1].vector.empty());
  CHECK(documents[2].id.empty());
  CHECK(documents[2].text == "pyserini style");
  CHECK(documents[3].id == "last");

  CHECK((*reader)->skipped() == 1);
  CHECK((*reader)->bytes_read() == (*reader)->total_bytes());
}

TEST_CASE("JSONL: a bad line is an error naming the file and line", "[reader]") {
  TempDir dir;
  const std::string path = dir.Write("bad.jsonl",
                                     "{\"_id\": \"1\", \"text\": \"one\"}\n"
                                     "\n"
                                     "{\"_id\": \"2\", \"text\": \"two\"\n"
                                     "{\"_id\": \"3\", \"text\": \"three\"}\n");
  absl::StatusOr<std::unique_ptr<DocumentReader>> reader = DocumentReader::Open(path);
  REQUIRE(reader.ok());
  Document document;
  REQUIRE(*(*reader)->Next(&document));
  CHECK(document.id == "1");

  absl::StatusOr<bool> next = (*reader)->Next(&document);
  REQUIRE_FALSE(next.ok());
  CHECK(next.status().code() == absl::StatusCode::kInvalidArgument);
  const std::string message(next.status().message());
  CHECK_THAT(message, Catch::Contains(path + ":3:"));
  CHECK_THAT(message, Catch::Contains("parse error at column"));

  // The reader moved past the bad line: a caller may skip it and go on.
  next = (*reader)->Next(&document);
  REQUIRE(next.ok());
  REQUIRE(*next);
  CHECK(document.id == "3");
  CHECK_FALSE(*(*reader)->Next(&document));
}

TEST_CASE("JSONL: wrong shapes are errors naming the field", "[reader]") {
  struct Case {
    std::string line;
    std::string expected;
  };
  const std::vector<Case> cases = {
      {R"(["not", "an", "object"])", "expected a JSON object, got array"},
      {R"({"_id": "x"})", "missing \"text\""},
      {R"({"text": 5})", "\"text\" must be a string, got number"},
      {R"({"text": "t", "title": ["a"]})", "\"title\" must be a string, got array"},
      {R"({"_id": 1.5, "text": "t"})", "\"_id\" must be a string or an integer, got number"},
      {R"({"_id": true, "text": "t"})", "\"_id\" must be a string or an integer, got boolean"},
      {R"({"text": "t", "metadata": [1]})", "\"metadata\" must be an object, got array"},
      {R"({"text": "t", "vector": "0.1"})", "\"vector\" must be an array of numbers"},
      {R"({"text": "t", "vector": [0.1, "x"]})", "\"vector\"[1] must be a number, got string"},
      {R"({"text": "t", "vector": [1e300]})", "\"vector\"[0] is out of the range of a float"},
      {"{\"text\": \"\xFF\"}", "parse error"},
  };
  for (const Case& c : cases) {
    INFO(c.line);
    TempDir dir;
    const std::string path = dir.Write("one.jsonl", c.line + "\n");
    absl::StatusOr<std::unique_ptr<DocumentReader>> reader = DocumentReader::Open(path);
    REQUIRE(reader.ok());
    Document document;
    absl::StatusOr<bool> next = (*reader)->Next(&document);
    REQUIRE_FALSE(next.ok());
    CHECK(next.status().code() == absl::StatusCode::kInvalidArgument);
    CHECK_THAT(std::string(next.status().message()), Catch::Contains(path + ":1: "));
    CHECK_THAT(std::string(next.status().message()), Catch::Contains(c.expected));
  }
}

TEST_CASE("BEIR folder: reads corpus.jsonl only", "[reader]") {
  TempDir dir;
  dir.Write("scifact/corpus.jsonl",
            R"({"_id": "4983", "title": "T1", "text": "abstract one", "metadata": {}})"
            "\n"
            R"({"_id": "5836", "title": "T2", "text": "abstract two", "metadata": {}})"
            "\n");
  dir.Write("scifact/queries.jsonl", R"({"_id": "1", "text": "a claim", "metadata": {}})"
                                     "\n");
  dir.Write("scifact/qrels/test.tsv", "query-id\tcorpus-id\tscore\n1\t4983\t1\n");

  absl::StatusOr<std::unique_ptr<DocumentReader>> reader =
      DocumentReader::Open((dir.path() / "scifact").string());
  REQUIRE(reader.ok());
  CHECK((*reader)->files().size() == 1);
  const std::vector<Document> documents = ReadAll(**reader);
  REQUIRE(documents.size() == 2);
  CHECK(documents[0].id == "4983");
  CHECK(documents[0].title == "T1");
  CHECK(documents[0].metadata.empty());
  CHECK(documents[1].id == "5836");
  CHECK((*reader)->bytes_read() == (*reader)->total_bytes());
}

TEST_CASE("Folder: markdown and text files with ids, titles and metadata", "[reader]") {
  TempDir dir;
  dir.Write("docs/guide.md", "Intro line\n\n# Getting started #\n\nBody.\n# Second\n");
  dir.Write("docs/sub/fenced.markdown", "```\n# not a heading\n```\n\nNo heading here.\n");
  dir.Write("docs/sub/setext.md", "Setext Title\n============\n\ntext\n");
  dir.Write("docs/notes.txt", "# plain text is not markdown\nsecond line\n");
  dir.Write("docs/empty.md", " \n\n");
  dir.Write("docs/.hidden/secret.md", "# Hidden\n");
  dir.Write("docs/image.png", "not text");
  dir.Write("docs/data/rows.jsonl", R"({"_id": "row1", "text": "from jsonl"})"
                                    "\n");
  dir.Write("docs/beir/corpus.jsonl", R"({"_id": "b1", "text": "beir doc"})"
                                      "\n");
  dir.Write("docs/beir/queries.jsonl", R"({"_id": "q1", "text": "a query"})"
                                       "\n");

  const std::string root = (dir.path() / "docs").string();
  absl::StatusOr<std::unique_ptr<DocumentReader>> reader = DocumentReader::Open(root);
  REQUIRE(reader.ok());
  const std::vector<Document> documents = ReadAll(**reader);

  std::vector<std::string> ids;
  for (const Document& document : documents) ids.push_back(document.id);
  // Files in byte order of their relative paths; a BEIR sub-folder contributes its corpus.
  CHECK(ids == std::vector<std::string>{"b1", "row1", "guide.md", "notes.txt",
                                        "sub/fenced.markdown", "sub/setext.md"});
  CHECK((*reader)->skipped() == 1);  // empty.md

  const Document& guide = documents[2];
  CHECK(guide.title == "Getting started");
  CHECK(guide.text == "Intro line\n\n# Getting started #\n\nBody.\n# Second\n");
  CHECK(StringValue(guide, "path") == root + "/guide.md");
  CHECK(StringValue(guide, "format") == "markdown");

  const Document& notes = documents[3];
  CHECK(notes.title == "notes.txt");
  CHECK(StringValue(notes, "format") == "text");

  CHECK(documents[4].title == "fenced.markdown");
  CHECK(documents[5].title == "Setext Title");
  CHECK((*reader)->bytes_read() == (*reader)->total_bytes());
}

TEST_CASE("Single text file: the id is its name", "[reader]") {
  TempDir dir;
  const std::string path = dir.Write("a/b/readme.md", "# Read me\n\nHello.\n");
  const std::vector<Document> documents = ReadPath(path);
  REQUIRE(documents.size() == 1);
  CHECK(documents[0].id == "readme.md");
  CHECK(documents[0].title == "Read me");
  CHECK(StringValue(documents[0], "path") == path);
}

TEST_CASE("Open and read errors", "[reader]") {
  TempDir dir;
  SECTION("missing path") {
    auto reader = DocumentReader::Open((dir.path() / "nope").string());
    REQUIRE_FALSE(reader.ok());
    CHECK(reader.status().code() == absl::StatusCode::kNotFound);
    CHECK_THAT(std::string(reader.status().message()), Catch::Contains("nope"));
  }
  SECTION("unsupported file") {
    auto reader = DocumentReader::Open(dir.Write("x.pdf", "%PDF"));
    REQUIRE_FALSE(reader.ok());
    CHECK(reader.status().code() == absl::StatusCode::kInvalidArgument);
    CHECK_THAT(std::string(reader.status().message()), Catch::Contains("x.pdf"));
  }
  SECTION("folder without documents") {
    dir.Write("folder/readme.rst", "nothing");
    auto reader = DocumentReader::Open((dir.path() / "folder").string());
    REQUIRE_FALSE(reader.ok());
    CHECK(reader.status().code() == absl::StatusCode::kInvalidArgument);
  }
  SECTION("invalid UTF-8 in a text file") {
    const std::string path = dir.Write("bad.txt", "caf\xC3 latin-1\n");
    auto reader = DocumentReader::Open(path);
    REQUIRE(reader.ok());
    Document document;
    absl::StatusOr<bool> next = (*reader)->Next(&document);
    REQUIRE_FALSE(next.ok());
    CHECK(next.status().code() == absl::StatusCode::kInvalidArgument);
    CHECK_THAT(std::string(next.status().message()), Catch::Contains(path));
  }
}

}  // namespace
}  // namespace quarry
