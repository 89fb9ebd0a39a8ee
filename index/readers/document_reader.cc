#include "index/readers/document_reader.h"

#include <sys/types.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string_view>
#include <system_error>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/string_view.h"
#include "index/store/filesystem.h"
#include "index/text/utf8.h"

namespace quarry {
namespace {

namespace fs = std::filesystem;
using Json = nlohmann::json;

constexpr char kBeirCorpusFile[] = "corpus.jsonl";
constexpr absl::string_view kUtf8Bom = "\xEF\xBB\xBF";

absl::Status StatusFromErrorCode(const std::error_code& error, absl::string_view what,
                                 absl::string_view path) {
  std::string message = absl::StrCat(path, ": ", what, ": ", error.message());
  if (error == std::errc::no_such_file_or_directory) return absl::NotFoundError(message);
  if (error == std::errc::permission_denied) return absl::PermissionDeniedError(message);
  return absl::UnknownError(message);
}

absl::string_view StripBom(absl::string_view text) {
  if (absl::StartsWith(text, kUtf8Bom)) text.remove_prefix(kUtf8Bom.size());
  return text;
}

// Collects every error the SAX parser reports; used only to explain a line that failed the
// fast DOM parse, since nlohmann's non-throwing DOM parse says nothing about why.
class JsonErrorCapture : public nlohmann::json_sax<Json> {
 public:
  bool null() override { return true; }
  bool boolean(bool) override { return true; }
  bool number_integer(number_integer_t) override { return true; }
  bool number_unsigned(number_unsigned_t) override { return true; }
  bool number_float(number_float_t, const string_t&) override { return true; }
  bool string(string_t&) override { return true; }
  bool binary(binary_t&) override { return true; }
  bool start_object(std::size_t) override { return true; }
  bool key(string_t&) override { return true; }
  bool end_object() override { return true; }
  bool start_array(std::size_t) override { return true; }
  bool end_array() override { return true; }
  bool parse_error(std::size_t, const std::string&,
                   const nlohmann::detail::exception& error) override {
    message_ = error.what();
    return false;
  }

  const std::string& message() const { return message_; }

 private:
  std::string message_;
};

// "[json.exception.parse_error.101] parse error at line 1, column 7: syntax error ..." becomes
// "parse error at column 7: syntax error ...": the file and line are named by the caller.
std::string DescribeJsonError(absl::string_view line) {
  JsonErrorCapture capture;
  Json::sax_parse(line.begin(), line.end(), &capture);
  std::string message = capture.message();
  if (message.empty()) return "invalid JSON";
  if (size_t end = message.find("] ");
      absl::StartsWith(message, "[json.") && end != std::string::npos) {
    message.erase(0, end + 2);
  }
  return absl::StrReplaceAll(message, {{"at line 1, column", "at column"}});
}

absl::Status ReadStringField(const Json& object, const char* name, std::string* out) {
  auto it = object.find(name);
  if (it == object.end() || it->is_null()) return absl::OkStatus();
  if (!it->is_string()) {
    return absl::InvalidArgumentError(
        absl::StrCat("\"", name, "\" must be a string, got ", it->type_name()));
  }
  *out = it->get_ref<const std::string&>();
  return absl::OkStatus();
}

absl::Status ReadId(const Json& object, std::string* out) {
  const char* name = "_id";
  auto it = object.find(name);
  if (it == object.end()) {
    name = "id";
    it = object.find(name);
  }
  if (it == object.end() || it->is_null()) return absl::OkStatus();
  // Some corpora write numeric ids; an integer has one obvious spelling, a float does not.
  if (it->is_number_unsigned()) {
    *out = std::to_string(it->get<uint64_t>());
  } else if (it->is_number_integer()) {
    *out = std::to_string(it->get<int64_t>());
  } else if (it->is_string()) {
    *out = it->get_ref<const std::string&>();
  } else {
    return absl::InvalidArgumentError(
        absl::StrCat("\"", name, "\" must be a string or an integer, got ", it->type_name()));
  }
  return absl::OkStatus();
}

absl::Status ReadMetadata(const Json& object, Metadata* out) {
  auto it = object.find("metadata");
  if (it == object.end() || it->is_null()) return absl::OkStatus();
  if (!it->is_object()) {
    return absl::InvalidArgumentError(
        absl::StrCat("\"metadata\" must be an object, got ", it->type_name()));
  }
  for (const auto& [key, value] : it->items()) {
    if (value.is_string()) {
      (*out)[key] = value.get_ref<const std::string&>();
    } else if (value.is_boolean()) {
      (*out)[key] = value.get<bool>();
    } else if (value.is_number()) {
      (*out)[key] = value.get<double>();
    } else if (value.is_null()) {
      continue;  // "no value" is best expressed by leaving the key out
    } else {
      // Arrays and objects have no metadata type; keep their text rather than drop them.
      (*out)[key] = value.dump(-1, ' ', false, Json::error_handler_t::replace);
    }
  }
  return absl::OkStatus();
}

absl::Status ReadVector(const Json& object, std::vector<float>* out) {
  auto it = object.find("vector");
  if (it == object.end() || it->is_null()) return absl::OkStatus();
  if (!it->is_array()) {
    return absl::InvalidArgumentError(
        absl::StrCat("\"vector\" must be an array of numbers, got ", it->type_name()));
  }
  out->reserve(it->size());
  for (size_t i = 0; i < it->size(); ++i) {
    const Json& element = (*it)[i];
    if (!element.is_number()) {
      return absl::InvalidArgumentError(
          absl::StrCat("\"vector\"[", i, "] must be a number, got ", element.type_name()));
    }
    const float value = static_cast<float>(element.get<double>());
    if (!std::isfinite(value)) {
      return absl::InvalidArgumentError(
          absl::StrCat("\"vector\"[", i, "] is out of the range of a float"));
    }
    out->push_back(value);
  }
  return absl::OkStatus();
}

// Parses one non-blank JSONL line. Errors do not name the file or line; the caller adds them.
absl::Status ParseJsonlDocument(absl::string_view line, Document* out) {
  // Belt and braces: every access below checks the type first, so nlohmann should not throw,
  // but an exception escaping a reader would take the whole process down.
  try {
    const Json object = Json::parse(line.begin(), line.end(), nullptr,
                                    /*allow_exceptions=*/false);
    if (object.is_discarded()) return absl::InvalidArgumentError(DescribeJsonError(line));
    if (!object.is_object()) {
      return absl::InvalidArgumentError(
          absl::StrCat("expected a JSON object, got ", object.type_name()));
    }
    *out = Document();
    if (absl::Status status = ReadId(object, &out->id); !status.ok()) return status;
    if (absl::Status status = ReadStringField(object, "title", &out->title); !status.ok()) {
      return status;
    }
    const char* text_field = object.contains("text") ? "text" : "contents";
    auto text = object.find(text_field);
    if (text == object.end()) return absl::InvalidArgumentError("missing \"text\"");
    if (!text->is_string()) {
      return absl::InvalidArgumentError(
          absl::StrCat("\"", text_field, "\" must be a string, got ", text->type_name()));
    }
    out->text = text->get_ref<const std::string&>();
    if (absl::Status status = ReadMetadata(object, &out->metadata); !status.ok()) return status;
    return ReadVector(object, &out->vector);
  } catch (const std::exception& error) {
    return absl::InternalError(absl::StrCat("unexpected JSON error: ", error.what()));
  }
}

// The first level-1 heading of a markdown text: ATX ("# Title", optional closing #s) or
// setext ("Title" underlined with "==="), outside fenced code blocks. Empty if none.
std::string FirstMarkdownHeading(absl::string_view text) {
  bool in_fence = false;
  absl::string_view previous;  // the previous line, if it could be a setext heading's text
  while (!text.empty()) {
    const size_t end = text.find('\n');
    absl::string_view line = text.substr(0, end);
    text.remove_prefix(end == absl::string_view::npos ? text.size() : end + 1);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);

    // Up to three spaces of indentation; more makes an indented code block.
    size_t indent = 0;
    while (indent < line.size() && indent < 4 && line[indent] == ' ') ++indent;
    absl::string_view body = indent < 4 ? line.substr(indent) : absl::string_view();
    if (absl::StartsWith(body, "```") || absl::StartsWith(body, "~~~")) {
      in_fence = !in_fence;
      previous = {};
      continue;
    }
    if (in_fence || indent >= 4) {
      previous = {};
      continue;
    }
    if (body == "#" || absl::StartsWith(body, "# ") || absl::StartsWith(body, "#\t")) {
      absl::string_view heading = absl::StripAsciiWhitespace(body.substr(1));
      // A closing sequence of #s is decoration, when separated from the text by a space.
      const size_t hashes = heading.find_last_not_of('#');
      if (hashes == absl::string_view::npos) {
        heading = {};
      } else if (hashes + 1 < heading.size() &&
                 (heading[hashes] == ' ' || heading[hashes] == '\t')) {
        heading = absl::StripAsciiWhitespace(heading.substr(0, hashes));
      }
      if (!heading.empty()) return std::string(heading);
      previous = {};
      continue;
    }
    const absl::string_view stripped = absl::StripAsciiWhitespace(body);
    if (!stripped.empty() && stripped.find_first_not_of('=') == absl::string_view::npos &&
        !previous.empty()) {
      return std::string(previous);
    }
    previous = stripped;
  }
  return "";
}

bool IsBlank(absl::string_view text) { return absl::StripAsciiWhitespace(text).empty(); }

}  // namespace

// ---------------------------------------------------------------------------------------------
// Opening: resolve the path to a sorted list of files.

namespace {

struct FileKindMatch {
  bool supported = false;
  bool jsonl = false;
  bool markdown = false;
};

FileKindMatch MatchExtension(const fs::path& path) {
  const std::string extension = absl::AsciiStrToLower(path.extension().string());
  if (extension == ".jsonl" || extension == ".ndjson") return {true, true, false};
  if (extension == ".md" || extension == ".markdown") return {true, false, true};
  if (extension == ".txt" || extension == ".text") return {true, false, false};
  return {};
}

bool IsBeirFolder(const fs::path& folder) {
  std::error_code error;
  return fs::is_regular_file(folder / kBeirCorpusFile, error);
}

// One file found while walking a folder: its path as opened and relative to the root.
struct FoundFile {
  fs::path path;
  std::string relative;
  uint64_t size;
};

// Appends the supported files below `folder` (recursively) to *found.
absl::Status WalkFolder(const fs::path& folder, const fs::path& relative,
                        std::vector<FoundFile>* found) {
  std::error_code error;
  fs::directory_iterator it(folder, error);
  if (error) return StatusFromErrorCode(error, "cannot list folder", folder.string());
  for (; it != fs::directory_iterator(); it.increment(error)) {
    if (error) return StatusFromErrorCode(error, "cannot list folder", folder.string());
    const fs::directory_entry& entry = *it;
    const std::string name = entry.path().filename().string();
    if (name.empty() || name[0] == '.') continue;
    const fs::path entry_relative = relative / name;
    std::error_code kind_error;
    // Symbolic links to folders are not followed: a link cycle would never end.
    if (entry.is_symlink(kind_error) && entry.is_directory(kind_error)) continue;
    if (entry.is_directory(kind_error)) {
      if (IsBeirFolder(entry.path())) {
        std::error_code size_error;
        const fs::path corpus = entry.path() / kBeirCorpusFile;
        const uint64_t size = fs::file_size(corpus, size_error);
        found->push_back(
            {corpus, (entry_relative / kBeirCorpusFile).generic_string(), size_error ? 0 : size});
        continue;
      }
      if (absl::Status status = WalkFolder(entry.path(), entry_relative, found); !status.ok()) {
        return status;
      }
      continue;
    }
    if (!entry.is_regular_file(kind_error) || !MatchExtension(entry.path()).supported) continue;
    std::error_code size_error;
    const uint64_t size = entry.file_size(size_error);
    found->push_back({entry.path(), entry_relative.generic_string(), size_error ? 0 : size});
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::unique_ptr<DocumentReader>> DocumentReader::Open(const std::string& path) {
  std::error_code error;
  const fs::path root(path);
  const fs::file_status status = fs::status(root, error);
  if (error || !fs::exists(status)) {
    return StatusFromErrorCode(
        error ? error : std::make_error_code(std::errc::no_such_file_or_directory), "cannot open",
        path);
  }

  std::vector<InputFile> inputs;
  auto add = [&inputs](const fs::path& file, std::string relative, uint64_t size) {
    const FileKindMatch match = MatchExtension(file);
    inputs.push_back({file.string(), std::move(relative),
                      match.jsonl      ? FileKind::kJsonl
                      : match.markdown ? FileKind::kMarkdown
                                       : FileKind::kText,
                      size});
  };

  if (fs::is_regular_file(status)) {
    if (!MatchExtension(root).supported) {
      return absl::InvalidArgumentError(
          absl::StrCat(path,
                       ": unsupported file type (expected .jsonl, .ndjson, .txt, .text, .md or "
                       ".markdown)"));
    }
    const uint64_t size = fs::file_size(root, error);
    add(root, root.filename().string(), error ? 0 : size);
  } else if (fs::is_directory(status)) {
    if (IsBeirFolder(root)) {
      const fs::path corpus = root / kBeirCorpusFile;
      const uint64_t size = fs::file_size(corpus, error);
      add(corpus, std::string(kBeirCorpusFile), error ? 0 : size);
    } else {
      std::vector<FoundFile> found;
      if (absl::Status walk = WalkFolder(root, fs::path(), &found); !walk.ok()) return walk;
      if (found.empty()) {
        return absl::InvalidArgumentError(absl::StrCat(
            path, ": no .jsonl, .ndjson, .txt, .text, .md or .markdown files in this folder"));
      }
      std::sort(found.begin(), found.end(),
                [](const FoundFile& a, const FoundFile& b) { return a.relative < b.relative; });
      for (FoundFile& file : found) add(file.path, std::move(file.relative), file.size);
    }
  } else {
    return absl::InvalidArgumentError(absl::StrCat(path, ": not a regular file or a folder"));
  }
  return std::unique_ptr<DocumentReader>(new DocumentReader(std::move(inputs)));
}

DocumentReader::DocumentReader(std::vector<InputFile> inputs) : inputs_(std::move(inputs)) {
  files_.reserve(inputs_.size());
  for (const InputFile& input : inputs_) {
    files_.push_back(input.path);
    total_bytes_ += input.size;
  }
}

DocumentReader::~DocumentReader() {
  CloseCurrent();
  free(line_buffer_);  // allocated by getline(3)
}

void DocumentReader::CloseCurrent() {
  if (jsonl_ != nullptr) fclose(jsonl_);
  jsonl_ = nullptr;
}

// ---------------------------------------------------------------------------------------------
// Reading.

absl::StatusOr<bool> DocumentReader::Next(Document* out) {
  while (true) {
    if (jsonl_ != nullptr) {
      absl::StatusOr<bool> read = NextFromJsonl(out);
      if (!read.ok() || *read) return read;
      CloseCurrent();
      continue;
    }
    if (next_input_ >= inputs_.size()) return false;
    const InputFile& input = inputs_[next_input_++];
    if (input.kind == FileKind::kJsonl) {
      // "e": close-on-exec, so a child process never inherits the descriptor.
      jsonl_ = fopen(input.path.c_str(), "rbe");
      if (jsonl_ == nullptr) {
        bytes_read_ += input.size;  // keep progress consistent when the caller skips on
        return ErrnoStatus("open", input.path, errno);
      }
      jsonl_input_ = next_input_ - 1;
      line_number_ = 0;
      continue;
    }
    absl::StatusOr<bool> read = ReadTextFile(input, out);
    bytes_read_ += input.size;
    if (!read.ok() || *read) return read;
  }
}

absl::StatusOr<bool> DocumentReader::NextFromJsonl(Document* out) {
  const InputFile& input = inputs_[jsonl_input_];
  while (true) {
    const ssize_t length = getline(&line_buffer_, &line_capacity_, jsonl_);
    if (length < 0) {
      if (ferror(jsonl_)) {
        const int error = errno;
        CloseCurrent();
        return ErrnoStatus("read", input.path, error);
      }
      return false;
    }
    ++line_number_;
    bytes_read_ += static_cast<uint64_t>(length);
    absl::string_view line(line_buffer_, static_cast<size_t>(length));
    if (line_number_ == 1) line = StripBom(line);
    // Without its terminator, so that parse errors say "at column N" of this line.
    if (absl::EndsWith(line, "\n")) line.remove_suffix(1);
    if (absl::EndsWith(line, "\r")) line.remove_suffix(1);
    if (IsBlank(line)) continue;
    if (absl::Status status = ParseJsonlDocument(line, out); !status.ok()) {
      return absl::Status(status.code(),
                          absl::StrCat(input.path, ":", line_number_, ": ", status.message()));
    }
    if (IsBlank(out->text)) {
      ++skipped_;
      continue;
    }
    return true;
  }
}

absl::StatusOr<bool> DocumentReader::ReadTextFile(const InputFile& input, Document* out) {
  absl::StatusOr<std::string> contents = ReadFile(input.path);
  if (!contents.ok()) return contents.status();
  const absl::string_view text = StripBom(*contents);
  if (IsBlank(text)) {
    ++skipped_;
    return false;
  }
  if (!text::IsValidUtf8(std::string_view(text.data(), text.size()))) {
    return absl::InvalidArgumentError(absl::StrCat(input.path, ": not valid UTF-8 text"));
  }
  const bool markdown = input.kind == FileKind::kMarkdown;
  *out = Document();
  out->id = input.relative_path;
  if (markdown) out->title = FirstMarkdownHeading(text);
  if (out->title.empty()) out->title = fs::path(input.path).filename().string();
  out->text = std::string(text);
  out->metadata["path"] = input.path;
  out->metadata["format"] = std::string(markdown ? "markdown" : "text");
  return true;
}

}  // namespace quarry
