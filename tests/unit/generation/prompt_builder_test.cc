#include "server/generation/prompt_builder.h"

#include <catch2/catch.hpp>
#include <string>
#include <vector>

#include "index/collection.h"
#include "server/generation/chat.h"
#include "server/generation/source.h"

namespace quarry::generation {
namespace {

Hit MakeHit(std::string document, int chunk, float score, std::string text,
            std::string title = "") {
  Hit hit;
  hit.document_id = document;
  hit.chunk_id = document + "#" + std::to_string(chunk);
  hit.chunk_index = chunk;
  hit.score = score;
  hit.text = std::move(text);
  hit.title = std::move(title);
  return hit;
}

std::vector<std::string> ChunkIds(const std::vector<Source>& sources) {
  std::vector<std::string> ids;
  for (const Source& source : sources) ids.push_back(source.chunk_id);
  return ids;
}

// Text of `words` distinct words (no shared trigrams across different seeds).
std::string Words(const std::string& seed, int words) {
  std::string text;
  for (int i = 0; i < words; ++i) {
    if (!text.empty()) text += ' ';
    text += seed + std::to_string(i);
  }
  return text;
}

TEST_CASE("Token estimate is ceil(bytes / 4)", "[prompt]") {
  CHECK(EstimateTokens("") == 0);
  CHECK(EstimateTokens("a") == 1);
  CHECK(EstimateTokens("abcd") == 1);
  CHECK(EstimateTokens("abcde") == 2);
}

TEST_CASE("Sources are numbered in score order and formatted as blocks", "[prompt]") {
  const std::vector<Hit> hits = {MakeHit("b", 0, 0.5f, "Second text."),
                                 MakeHit("a", 0, 0.9f, "First text.", "Alpha")};
  const std::vector<Source> sources = PackSources(hits, PackOptions{});
  REQUIRE(ChunkIds(sources) == std::vector<std::string>{"a#0", "b#0"});
  CHECK(sources[0].number == 1);
  CHECK(sources[1].number == 2);
  CHECK(sources[0].title == "Alpha");
  CHECK(sources[0].score == 0.9f);
  CHECK(FormatSources(sources) == "[1] Alpha\nFirst text.\n\n[2]\nSecond text.");
}

TEST_CASE("Packing respects the token budget and skips what does not fit", "[prompt]") {
  // Each block is about 100 tokens; the third is about 400.
  const std::vector<Hit> hits = {
      MakeHit("a", 0, 0.9f, Words("alpha", 50)), MakeHit("b", 0, 0.8f, Words("beta", 50)),
      MakeHit("c", 0, 0.7f, Words("gamma", 200)), MakeHit("d", 0, 0.6f, Words("delta", 50))};
  const PackOptions options{.budget_tokens = 350};
  const std::vector<Source> sources = PackSources(hits, options);
  // "c" does not fit after a and b, but the smaller "d" after it still does.
  CHECK(ChunkIds(sources) == std::vector<std::string>{"a#0", "b#0", "d#0"});
  CHECK(EstimateTokens(FormatSources(sources)) <= 350);

  for (int budget : {0, 10, 100, 200, 300, 1000}) {
    const std::vector<Source> packed = PackSources(hits, PackOptions{.budget_tokens = budget});
    CHECK(EstimateTokens(FormatSources(packed)) <= budget);
  }
}

TEST_CASE("The best chunk is cut to fit an empty budget", "[prompt]") {
  const std::vector<Hit> hits = {MakeHit("a", 0, 0.9f, Words("alpha", 400))};
  const std::vector<Source> sources = PackSources(hits, PackOptions{.budget_tokens = 100});
  REQUIRE(sources.size() == 1);
  CHECK(sources[0].text.size() < hits[0].text.size());
  CHECK(hits[0].text.starts_with(sources[0].text));
  CHECK(sources[0].text.back() != ' ');
  CHECK(EstimateTokens(FormatSources(sources)) <= 100);
  CHECK(EstimateTokens(FormatSources(sources)) > 80);
  // A budget too small to hold anything useful yields no sources.
  CHECK(PackSources(hits, PackOptions{.budget_tokens = 5}).empty());
}

TEST_CASE("One chunk per document first, more only with room to spare", "[prompt]") {
  const std::vector<Hit> hits = {
      MakeHit("a", 0, 0.9f, Words("first", 40)), MakeHit("a", 1, 0.8f, Words("second", 40)),
      MakeHit("b", 0, 0.7f, Words("third", 40)), MakeHit("a", 2, 0.6f, Words("fourth", 40))};
  // Room for two blocks: a's best chunk and b's, not a's second chunk.
  CHECK(ChunkIds(PackSources(hits, PackOptions{.budget_tokens = 200})) ==
        std::vector<std::string>{"a#0", "b#0"});
  // Room for everything: the rest of a comes back, numbered in score order.
  const std::vector<Source> all = PackSources(hits, PackOptions{.budget_tokens = 2000});
  CHECK(ChunkIds(all) == std::vector<std::string>{"a#0", "a#1", "b#0", "a#2"});
  CHECK(all[3].number == 4);
}

TEST_CASE("A chunk that mostly repeats a packed one is skipped", "[prompt]") {
  const std::string text = Words("shared", 60);
  const std::vector<Hit> hits = {
      MakeHit("original", 0, 0.9f, text), MakeHit("copy", 0, 0.8f, text + " plus a few words"),
      // Shares a tail of 10 words with the original (like chunk overlap): kept.
      MakeHit("neighbour", 0, 0.7f, Words("shared", 60).substr(400) + " " + Words("other", 50))};
  CHECK(ChunkIds(PackSources(hits, PackOptions{})) ==
        std::vector<std::string>{"original#0", "neighbour#0"});
  // With dedup by overlap disabled (threshold above 1) the copy stays.
  CHECK(PackSources(hits, PackOptions{.max_overlap = 1.1}).size() == 3);
}

TEST_CASE("Templates resolve request over collection over default, field by field", "[prompt]") {
  const PromptTemplates resolved =
      ResolveTemplates(PromptTemplates{.system = "", .user = "Q: {question}\n{sources}"},
                       PromptTemplates{.system = "Be terse.", .user = "ignored {sources}"});
  CHECK(resolved.system == "Be terse.");
  CHECK(resolved.user == "Q: {question}\n{sources}");
  const PromptTemplates defaults = ResolveTemplates({}, {});
  CHECK(defaults.system == kDefaultSystemTemplate);
  CHECK(defaults.user == kDefaultUserTemplate);
  CHECK(ValidateTemplates(defaults, "t").ok());
  CHECK(ValidateTemplates({.system = "{sources}", .user = "{question}"}, "t").ok());
  const absl::Status missing = ValidateTemplates({.system = "Be terse.", .user = "{question}"},
                                                 "generation.prompt_templates");
  CHECK(missing.code() == absl::StatusCode::kInvalidArgument);
  CHECK(std::string(missing.message()).find("generation.prompt_templates") != std::string::npos);
  CHECK(std::string(missing.message()).find("{sources}") != std::string::npos);
}

TEST_CASE("The prompt holds the system prompt, history, sources and question", "[prompt]") {
  const std::vector<Hit> hits = {
      MakeHit("moon", 0, 0.9f, "The Moon orbits Earth every 27.3 days.", "Moon"),
      MakeHit("mars", 0, 0.4f, "Mars has two moons, Phobos and Deimos {question}.")};
  const std::vector<ChatMessage> history = {{kUserRole, "Tell me about the Moon."},
                                            {kAssistantRole, "It is Earth's satellite [1]."}};
  const Prompt prompt = BuildPrompt("How long is the Moon's orbit?", hits, history,
                                    ResolveTemplates({}, {}), PackOptions{});
  REQUIRE(prompt.messages.size() == 4);
  CHECK(prompt.messages[0] == ChatMessage{kSystemRole, std::string(kDefaultSystemTemplate)});
  CHECK(prompt.messages[0].content.find("[n]") == std::string::npos);
  CHECK(prompt.messages[0].content.find("I don't know") != std::string::npos);
  CHECK(prompt.messages[1] == history[0]);
  CHECK(prompt.messages[2] == history[1]);
  // Placeholders inside a source are not expanded.
  CHECK(prompt.messages[3] ==
        ChatMessage{kUserRole,
                    "Sources:\n[1] Moon\nThe Moon orbits Earth every 27.3 days.\n\n[2]\nMars has "
                    "two moons, Phobos and Deimos {question}.\n\nQuestion: How long is the "
                    "Moon's orbit?"});
  CHECK(prompt.sources.size() == 2);
  CHECK(prompt.source_tokens == EstimateTokens(FormatSources(prompt.sources)));
  CHECK(prompt.prompt_tokens > prompt.source_tokens);

  const Prompt custom = BuildPrompt(
      "Why?", hits, {}, {.system = "Sources: {sources} {unknown}", .user = "{question}{question}"},
      PackOptions{.budget_tokens = 20});
  REQUIRE(custom.messages.size() == 2);
  CHECK(custom.messages[0].content ==
        "Sources: [1] Moon\nThe Moon orbits Earth every 27.3 days. {unknown}");
  CHECK(custom.messages[1].content == "Why?Why?");
}

}  // namespace
}  // namespace quarry::generation
