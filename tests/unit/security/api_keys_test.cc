// ApiKeyRing: the key document's validation, and lookup by fingerprint.
#include "server/security/api_keys.h"

#include <catch2/catch.hpp>
#include <string>

#include "server/security/api_key_hash.h"

namespace quarry::security {
namespace {

std::string Entry(const std::string& name, const std::string& key, const std::string& role,
                  const std::string& collections) {
  return "{\"name\": \"" + name + "\", \"sha256\": \"" + ApiKeyFingerprint(key) +
         "\", \"role\": \"" + role + "\", \"collections\": " + collections + "}";
}

TEST_CASE("fingerprint is the SHA-256 of the key in lowercase hex") {
  // Known answer: SHA-256("abc").
  CHECK(ApiKeyFingerprint("abc") ==
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  CHECK(ConstantTimeEquals("abc", "abc"));
  CHECK_FALSE(ConstantTimeEquals("abc", "abd"));
  CHECK_FALSE(ConstantTimeEquals("abc", "abcd"));
}

TEST_CASE("new keys are distinct and prefixed") {
  absl::StatusOr<std::string> a = NewApiKey();
  absl::StatusOr<std::string> b = NewApiKey();
  REQUIRE(a.ok());
  REQUIRE(b.ok());
  CHECK(a->rfind("qk_", 0) == 0);
  CHECK(a->size() == 3 + 64);
  CHECK(*a != *b);
}

TEST_CASE("a key ring finds keys by their fingerprint and scopes them") {
  const std::string json = "{\"keys\": [" + Entry("reader", "r-secret", "read", "[\"docs\"]") +
                           ", " + Entry("admin", "a-secret", "readwrite", "[\"*\"]") + "]}";
  absl::StatusOr<ApiKeyRing> ring = ApiKeyRing::Parse(json, "keys.json");
  REQUIRE(ring.ok());
  REQUIRE(ring->keys().size() == 2);

  const ApiKey* reader = ring->Find("r-secret");
  REQUIRE(reader != nullptr);
  CHECK(reader->name == "reader");
  CHECK(reader->Allows(Access::kRead, "docs"));
  CHECK_FALSE(reader->Allows(Access::kWrite, "docs"));
  CHECK_FALSE(reader->Allows(Access::kRead, "other"));

  const ApiKey* admin = ring->Find("a-secret");
  REQUIRE(admin != nullptr);
  CHECK(admin->Allows(Access::kWrite, "anything"));

  CHECK(ring->Find("wrong") == nullptr);
  CHECK(ring->Find("") == nullptr);
  // The document holds fingerprints: presenting a fingerprint is not presenting the key.
  CHECK(ring->Find(ApiKeyFingerprint("r-secret")) == nullptr);
}

TEST_CASE("upper-case fingerprints are accepted") {
  std::string fingerprint = ApiKeyFingerprint("k");
  for (char& c : fingerprint) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  const std::string json = "{\"keys\": [{\"name\": \"n\", \"sha256\": \"" + fingerprint +
                           "\", \"role\": \"read\", \"collections\": [\"*\"]}]}";
  absl::StatusOr<ApiKeyRing> ring = ApiKeyRing::Parse(json, "keys.json");
  REQUIRE(ring.ok());
  CHECK(ring->Find("k") != nullptr);
}

TEST_CASE("malformed key documents are refused with the entry named") {
  const std::string good = Entry("a", "k1", "read", "[\"*\"]");
  struct Case {
    std::string json;
    std::string expected;
  };
  const Case cases[] = {
      {"not json", "not valid JSON"},
      {"[]", "expected {\"keys\""},
      {"{\"keys\": []}", "no keys"},
      {"{\"keys\": [" + good + "], \"extra\": 1}", "expected {\"keys\""},
      {"{\"keys\": [{\"name\": \"a\", \"sha256\": \"abc\", \"role\": \"read\", "
       "\"collections\": [\"*\"]}]}",
       "64 hex digits"},
      {"{\"keys\": [" + Entry("a", "k1", "admin", "[\"*\"]") + "]}", "\"role\" must be"},
      {"{\"keys\": [" + Entry("a", "k1", "read", "[]") + "]}", "non-empty list"},
      {"{\"keys\": [" + Entry("a", "k1", "read", "\"*\"") + "]}", "non-empty list"},
      {"{\"keys\": [" + Entry("a", "k1", "read", "[\"\"]") + "]}", "other than a name"},
      {"{\"keys\": [" + good + ", " + Entry("a", "k2", "read", "[\"*\"]") + "]}", "used twice"},
      {"{\"keys\": [" + good + ", " + Entry("b", "k1", "read", "[\"*\"]") + "]}", "listed twice"},
      {"{\"keys\": [{\"name\": \"a\", \"sha256\": \"" + ApiKeyFingerprint("k") +
           "\", \"role\": \"read\", \"collection\": [\"*\"]}]}",
       "unknown field \"collection\""},
      {"{\"keys\": [{\"sha256\": \"" + ApiKeyFingerprint("k") +
           "\", \"role\": \"read\", \"collections\": [\"*\"]}]}",
       "\"name\" must be"},
  };
  for (const Case& test : cases) {
    INFO(test.json);
    absl::StatusOr<ApiKeyRing> ring = ApiKeyRing::Parse(test.json, "keys.json");
    REQUIRE_FALSE(ring.ok());
    CHECK(ring.status().code() == absl::StatusCode::kInvalidArgument);
    CHECK(std::string(ring.status().message()).find(test.expected) != std::string::npos);
    CHECK(std::string(ring.status().message()).find("keys.json") != std::string::npos);
  }
}

}  // namespace
}  // namespace quarry::security
