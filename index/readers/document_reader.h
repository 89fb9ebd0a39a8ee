// Streams quarry::Documents out of files on disk, for bulk loading (the `quarry ingest` CLI and
// the indexer). One reader covers one input path, which may be:
//
//   - a JSONL file (.jsonl, .ndjson): one JSON object per line (see below);
//   - a BEIR corpus folder: a directory holding corpus.jsonl, read as JSONL (queries.jsonl and
//     qrels/ beside it are not documents and are ignored);
//   - a text or markdown file (.txt, .text, .md, .markdown): one document per file;
//   - any other folder: every .jsonl/.ndjson/.txt/.text/.md/.markdown file below it,
//     recursively, in byte order of their paths relative to the folder (so two runs over the
//     same tree yield the same documents in the same order). Entries whose name starts with
//     '.' are skipped (.git, editor files), symbolic links to directories are not followed (no
//     cycles), and a sub-folder holding corpus.jsonl is read as a BEIR folder.
//
// JSONL object fields:
//   "_id" or "id"   string (or integer) id; "_id" wins when both are present; missing or
//                   empty: the server generates one.
//   "title"         string, optional.
//   "text"          string, required ("contents", the Pyserini name, is accepted too).
//   "metadata"      object, optional. String, number and bool values are kept as they are;
//                   null values are skipped; arrays and objects are kept as their compact
//                   JSON text (a string), so that nothing the caller wrote silently vanishes.
//   "vector"        array of numbers, optional: the caller's own embedding.
//   Other fields are ignored. Blank lines are skipped, and so are documents whose text is
//   empty or only whitespace (the server rejects empty text, and one such document must not
//   fail a whole batch; some BEIR corpora have a few); skipped() counts them. Anything else
//   (not JSON, not an object, a field of the wrong type, no "text") is an INVALID_ARGUMENT
//   error naming the file and the line.
//
// Text and markdown files become one document each:
//   id        the path relative to the input root (the folder given, or for a single file its
//             parent folder: the file name), with '/' separators;
//   title     for markdown, the first level-1 heading ("# Title") outside code fences; else
//             (and for text files) the file name;
//   text      the whole content (a leading UTF-8 byte-order mark removed);
//   metadata  {"path": the file's path as opened, "format": "markdown" or "text"}.
// A file that is empty or only whitespace is skipped and counted the same way. A file that is
// not valid UTF-8 is an error naming the file.
//
// The reader never throws. Not thread-safe.
#ifndef QUARRY_INDEX_READERS_DOCUMENT_READER_H_
#define QUARRY_INDEX_READERS_DOCUMENT_READER_H_

#include <cstdint>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "index/document.h"

namespace quarry {

class DocumentReader {
 public:
  // Resolves `path` to the list of files to read (listing folders now, reading files lazily).
  // NOT_FOUND if the path does not exist; INVALID_ARGUMENT if it is a file of an unsupported
  // kind or a folder with no supported file in it.
  static absl::StatusOr<std::unique_ptr<DocumentReader>> Open(const std::string& path);

  ~DocumentReader();
  DocumentReader(const DocumentReader&) = delete;
  DocumentReader& operator=(const DocumentReader&) = delete;

  // Reads the next document into *out (replacing its contents). Returns false at the end of
  // the input. After an error the reader is positioned after the offending line or file, so a
  // caller may log the error and call Next() again to skip it.
  absl::StatusOr<bool> Next(Document* out);

  // Progress: bytes of input consumed so far, and the total size of every input file.
  uint64_t bytes_read() const { return bytes_read_; }
  uint64_t total_bytes() const { return total_bytes_; }

  // Documents (JSONL lines or text/markdown files) skipped because they held no text.
  uint64_t skipped() const { return skipped_; }

  // The files this reader reads, in order.
  const std::vector<std::string>& files() const { return files_; }

 private:
  enum class FileKind { kJsonl, kText, kMarkdown };
  struct InputFile {
    std::string path;           // as opened
    std::string relative_path;  // to the input root; the id of text/markdown documents
    FileKind kind;
    uint64_t size = 0;
  };

  explicit DocumentReader(std::vector<InputFile> inputs);

  // Reads the next document from a JSONL file; false at its end.
  absl::StatusOr<bool> NextFromJsonl(Document* out);
  absl::StatusOr<bool> ReadTextFile(const InputFile& input, Document* out);
  void CloseCurrent();

  std::vector<InputFile> inputs_;
  std::vector<std::string> files_;
  size_t next_input_ = 0;   // the next input to start
  FILE* jsonl_ = nullptr;   // the JSONL file being read, if any
  size_t jsonl_input_ = 0;  // its index in inputs_
  uint64_t line_number_ = 0;
  char* line_buffer_ = nullptr;  // getline(3)'s buffer, reused across lines
  size_t line_capacity_ = 0;
  uint64_t bytes_read_ = 0;
  uint64_t total_bytes_ = 0;
  uint64_t skipped_ = 0;
};

}  // namespace quarry

#endif  // QUARRY_INDEX_READERS_DOCUMENT_READER_H_
