#include "index/store/log_record.h"

#include <catch2/catch.hpp>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <string>
#include <vector>

#include "absl/status/status.h"

namespace quarry {
namespace {

void PutVarint(uint64_t value, std::string* out) {
  while (value >= 0x80) {
    out->push_back(static_cast<char>((value & 0x7f) | 0x80));
    value >>= 7;
  }
  out->push_back(static_cast<char>(value));
}

void PutString(const std::string& s, std::string* out) {
  PutVarint(s.size(), out);
  out->append(s);
}

// The start of a v1 upsert of one document with the given id/title/text.
std::string UpsertPrefix(const std::string& text) {
  std::string out = {1, 1, 1};  // version, upsert, one document
  PutString("id", &out);
  PutString("", &out);
  PutString(text, &out);
  return out;
}

StoredDocument RichDocument() {
  StoredDocument doc;
  doc.id = "doc-\xc3\xa9t\xc3\xa9-\xf0\x9f\x93\x9a";  // "doc-été-📚"
  doc.title = "";
  doc.text = std::string(300, 'x') + " \xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e " +
             std::string(20000, 'y');  // long enough for multi-byte varints
  doc.metadata["author"] = std::string("Zoë");
  doc.metadata["empty"] = std::string();
  doc.metadata["year"] = 2024.0;
  doc.metadata["negative"] = -0.125;
  doc.metadata["huge"] = std::numeric_limits<double>::max();
  doc.metadata["inf"] = -std::numeric_limits<double>::infinity();
  doc.metadata["draft"] = false;
  doc.metadata["public"] = true;
  doc.chunks.push_back({0, 300, {0.5f, -1.25f, 3.0e-38f, 7.0f}});
  doc.chunks.push_back({300, static_cast<uint32_t>(doc.text.size()), {}});
  std::vector<float> wide(384);
  for (size_t i = 0; i < wide.size(); ++i) wide[i] = static_cast<float>(i) * 0.001f - 0.2f;
  doc.chunks.push_back({17, 17, wide});
  return doc;
}

LogRecord RichUpsert() {
  LogRecord record;
  record.type = LogRecord::Type::kUpsert;
  record.documents.push_back(RichDocument());
  StoredDocument plain;
  plain.id = "plain";
  plain.text = "hello";
  record.documents.push_back(plain);
  StoredDocument empty;  // every field empty
  record.documents.push_back(empty);
  return record;
}

void RequireSameDocument(const StoredDocument& a, const StoredDocument& b) {
  REQUIRE(a.id == b.id);
  REQUIRE(a.title == b.title);
  REQUIRE(a.text == b.text);
  REQUIRE(a.metadata == b.metadata);
  REQUIRE(a.chunks.size() == b.chunks.size());
  for (size_t i = 0; i < a.chunks.size(); ++i) {
    REQUIRE(a.chunks[i].start == b.chunks[i].start);
    REQUIRE(a.chunks[i].end == b.chunks[i].end);
    REQUIRE(a.chunks[i].vector == b.chunks[i].vector);
  }
}

void RequireDataLoss(const std::string& payload) {
  absl::StatusOr<LogRecord> decoded = DecodeLogRecord(payload);
  REQUIRE_FALSE(decoded.ok());
  REQUIRE(decoded.status().code() == absl::StatusCode::kDataLoss);
  REQUIRE_FALSE(decoded.status().message().empty());
}

TEST_CASE("An upsert with every kind of field round-trips", "[log_record]") {
  const LogRecord record = RichUpsert();
  const std::string payload = EncodeLogRecord(record);
  absl::StatusOr<LogRecord> decoded = DecodeLogRecord(payload);
  REQUIRE(decoded.ok());
  REQUIRE(decoded->type == LogRecord::Type::kUpsert);
  REQUIRE(decoded->deleted_ids.empty());
  REQUIRE(decoded->documents.size() == record.documents.size());
  for (size_t i = 0; i < record.documents.size(); ++i) {
    RequireSameDocument(decoded->documents[i], record.documents[i]);
  }
  // Deterministic: decoding and re-encoding gives the same bytes.
  REQUIRE(EncodeLogRecord(*decoded) == payload);
}

TEST_CASE("NaN metadata and float bit patterns survive unchanged", "[log_record]") {
  LogRecord record;
  StoredDocument doc;
  doc.id = "n";
  doc.metadata["nan"] = std::numeric_limits<double>::quiet_NaN();
  doc.chunks.push_back({0, 0, {std::numeric_limits<float>::denorm_min(), -0.0f}});
  record.documents.push_back(doc);
  absl::StatusOr<LogRecord> decoded = DecodeLogRecord(EncodeLogRecord(record));
  REQUIRE(decoded.ok());
  REQUIRE(std::isnan(std::get<double>(decoded->documents[0].metadata.at("nan"))));
  const std::vector<float>& v = decoded->documents[0].chunks[0].vector;
  REQUIRE(v[0] == std::numeric_limits<float>::denorm_min());
  REQUIRE(std::signbit(v[1]));
}

TEST_CASE("Deletes round-trip", "[log_record]") {
  LogRecord record;
  record.type = LogRecord::Type::kDelete;
  record.deleted_ids = {"a", "", "\xe2\x9c\x93-check", std::string(200, 'z')};
  absl::StatusOr<LogRecord> decoded = DecodeLogRecord(EncodeLogRecord(record));
  REQUIRE(decoded.ok());
  REQUIRE(decoded->type == LogRecord::Type::kDelete);
  REQUIRE(decoded->documents.empty());
  REQUIRE(decoded->deleted_ids == record.deleted_ids);
}

TEST_CASE("Empty batches round-trip", "[log_record]") {
  for (LogRecord::Type type : {LogRecord::Type::kUpsert, LogRecord::Type::kDelete}) {
    LogRecord record;
    record.type = type;
    absl::StatusOr<LogRecord> decoded = DecodeLogRecord(EncodeLogRecord(record));
    REQUIRE(decoded.ok());
    REQUIRE(decoded->type == type);
    REQUIRE(decoded->documents.empty());
    REQUIRE(decoded->deleted_ids.empty());
  }
}

TEST_CASE("The encoding is exactly the documented v1 format", "[log_record]") {
  LogRecord del;
  del.type = LogRecord::Type::kDelete;
  del.deleted_ids = {"a"};
  REQUIRE(EncodeLogRecord(del) == std::string("\x01\x02\x01\x01", 4) + "a");

  LogRecord up;
  StoredDocument doc;
  doc.id = "d";
  doc.text = "xy";
  doc.metadata["k"] = true;
  doc.metadata["n"] = 1.0;
  doc.metadata["s"] = std::string("v");
  doc.chunks.push_back({0, 2, {1.0f}});
  up.documents.push_back(doc);
  // clang-format off
  const std::string expected(
      "\x01\x01"                                   // version 1, upsert
      "\x01"                                       // one document
      "\x01" "d" "\x00" "\x02" "xy"                // id, title, text
      "\x03"                                       // three metadata entries, sorted by key
      "\x01" "k" "\x02" "\x01"                     // bool true
      "\x01" "n" "\x01" "\x00\x00\x00\x00\x00\x00\xf0\x3f"  // f64 1.0
      "\x01" "s" "\x00" "\x01" "v"                 // string "v"
      "\x01"                                       // one chunk
      "\x00" "\x02" "\x01" "\x00\x00\x80\x3f",     // [0, 2), dim 1, f32 1.0
      38);
  // clang-format on
  REQUIRE(EncodeLogRecord(up) == expected);
}

TEST_CASE("Every truncation of a valid payload is DATA_LOSS", "[log_record]") {
  LogRecord del;
  del.type = LogRecord::Type::kDelete;
  del.deleted_ids = {"one", "two", std::string(150, 'w')};
  for (const std::string& payload : {EncodeLogRecord(RichUpsert()), EncodeLogRecord(del)}) {
    for (size_t cut = 0; cut < payload.size(); ++cut) {
      INFO("cut at " << cut << " of " << payload.size());
      RequireDataLoss(payload.substr(0, cut));
    }
  }
}

TEST_CASE("Trailing bytes are DATA_LOSS", "[log_record]") {
  RequireDataLoss(EncodeLogRecord(RichUpsert()) + '\0');
  LogRecord del;
  del.type = LogRecord::Type::kDelete;
  RequireDataLoss(EncodeLogRecord(del) + "x");
}

TEST_CASE("Unknown versions and types and metadata kinds are DATA_LOSS", "[log_record]") {
  RequireDataLoss(std::string("\x00\x01\x00", 3));  // version 0
  RequireDataLoss(std::string("\x02\x01\x00", 3));  // version 2
  RequireDataLoss(std::string("\x01\x00\x00", 3));  // type 0
  RequireDataLoss(std::string("\x01\x03\x00", 3));  // type 3

  std::string kind = UpsertPrefix("t");
  kind += '\x01';
  PutString("key", &kind);
  kind += '\x03';  // kind 3 does not exist
  kind += '\x00';
  kind += '\x00';
  RequireDataLoss(kind);

  std::string flag = UpsertPrefix("t");
  flag += '\x01';
  PutString("key", &flag);
  flag += "\x02\x02";  // bool byte 2
  flag += '\x00';
  RequireDataLoss(flag);
}

TEST_CASE("Varint overflow is DATA_LOSS", "[log_record]") {
  // Eleven continuation bytes: longer than any u64.
  RequireDataLoss(std::string("\x01\x02") + std::string(11, '\xff') + '\x00');
  // Ten bytes whose last carries more than bit 63.
  RequireDataLoss(std::string("\x01\x02") + std::string(9, '\xff') + '\x02');
  // The largest u64 is still a valid varint, but far too large a count.
  RequireDataLoss(std::string("\x01\x02") + std::string(9, '\xff') + '\x01');
}

TEST_CASE("Lengths and counts beyond the payload are DATA_LOSS", "[log_record]") {
  std::string docs = {1, 1};
  PutVarint(uint64_t{1} << 40, &docs);  // a trillion documents in a few bytes
  RequireDataLoss(docs);

  std::string ids = {1, 2};
  PutVarint(uint64_t{1} << 62, &ids);
  RequireDataLoss(ids);

  std::string id = {1, 2, 1};
  PutVarint(uint64_t{1} << 35, &id);  // one id of 32 GiB
  id += "abc";
  RequireDataLoss(id);

  std::string meta = UpsertPrefix("t");
  PutVarint(1000000, &meta);  // metadata count
  RequireDataLoss(meta);

  std::string chunks = UpsertPrefix("t");
  chunks += '\x00';
  PutVarint(1000000, &chunks);  // chunk count
  RequireDataLoss(chunks);

  std::string dim = UpsertPrefix("t");
  dim += '\x00';
  dim += '\x01';
  dim += "\x00\x01";                   // [0, 1)
  PutVarint(uint64_t{1} << 61, &dim);  // dim * 4 overflows 64 bits
  dim += std::string(16, '\x00');
  RequireDataLoss(dim);

  std::string number = UpsertPrefix("t");
  number += '\x01';
  PutString("n", &number);
  number += '\x01';
  number += std::string(7, '\x00');  // an f64 needs 8 bytes
  RequireDataLoss(number);
}

TEST_CASE("Chunk ranges outside the text and duplicate keys are DATA_LOSS", "[log_record]") {
  std::string past_end = UpsertPrefix("abc");
  past_end += '\x00';
  past_end += "\x01\x00\x04\x00";  // [0, 4) of a 3-byte text
  RequireDataLoss(past_end);

  std::string reversed = UpsertPrefix("abc");
  reversed += '\x00';
  reversed += "\x01\x02\x01\x00";  // [2, 1)
  RequireDataLoss(reversed);

  std::string huge = UpsertPrefix("abc");
  huge += '\x00';
  huge += '\x01';
  PutVarint(uint64_t{1} << 33, &huge);
  PutVarint(uint64_t{1} << 33, &huge);
  huge += '\x00';
  RequireDataLoss(huge);

  std::string duplicate = UpsertPrefix("t");
  duplicate += '\x02';
  PutString("k", &duplicate);
  duplicate += "\x02\x01";
  PutString("k", &duplicate);
  duplicate += "\x02\x00";
  duplicate += '\x00';
  RequireDataLoss(duplicate);
}

TEST_CASE("Arbitrary byte corruption never crashes the decoder", "[log_record]") {
  LogRecord small;
  StoredDocument doc;
  doc.id = "id";
  doc.title = "title";
  doc.text = "some text here";
  doc.metadata["a"] = std::string("b");
  doc.metadata["c"] = 2.5;
  doc.metadata["d"] = true;
  doc.chunks.push_back({0, 4, {1.0f, 2.0f}});
  doc.chunks.push_back({5, 14, {}});
  small.documents.push_back(doc);
  const std::string payload = EncodeLogRecord(small);
  int decoded_ok = 0;
  for (size_t i = 0; i < payload.size(); ++i) {
    for (int value : {0x00, 0x01, 0x02, 0x03, 0x7f, 0x80, 0xff}) {
      std::string mutated = payload;
      mutated[i] = static_cast<char>(value);
      absl::StatusOr<LogRecord> decoded = DecodeLogRecord(mutated);
      if (decoded.ok()) {
        ++decoded_ok;  // e.g. a changed float or character: still well-formed
      } else {
        REQUIRE(decoded.status().code() == absl::StatusCode::kDataLoss);
      }
    }
  }
  REQUIRE(decoded_ok > 0);
}

}  // namespace
}  // namespace quarry
