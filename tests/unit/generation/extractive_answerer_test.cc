#include "server/generation/extractive_answerer.h"

#include <catch2/catch.hpp>
#include <string>
#include <vector>

#include "server/generation/source.h"

namespace quarry::generation {
namespace {

Source MakeSource(int number, std::string title, std::string text) {
  return Source{.number = number,
                .chunk_id = "doc" + std::to_string(number) + "#0",
                .document_id = "doc" + std::to_string(number),
                .title = std::move(title),
                .text = std::move(text),
                .score = 1.0f / static_cast<float>(number)};
}

// Small texts written for these tests, in the style of encyclopedic and scientific prose.
std::vector<Source> VolcanoSources() {
  return {
      MakeSource(1, "Volcanoes",
                 "A volcano is an opening in the crust of a planet. Volcanoes are found where "
                 "tectonic plates diverge or converge. Magma that reaches the surface is called "
                 "lava. Most volcanoes on Earth lie along the Pacific Ring of Fire."),
      MakeSource(2, "Basalt",
                 "Basalt is a fine-grained rock formed from the rapid cooling of lava rich in "
                 "magnesium and iron. Basalt makes up most of the ocean floor. It is dark grey "
                 "to black."),
      MakeSource(3, "Mount Erebus",
                 "Mount Erebus is the southernmost active volcano on Earth. It stands on Ross "
                 "Island in Antarctica and rises to 3,794 metres. Its summit holds a persistent "
                 "lava lake."),
  };
}

TEST_CASE("The answer holds the sentence that answers the question, cited", "[extractive]") {
  const ExtractiveAnswerer answerer;
  const std::vector<Source> sources = VolcanoSources();
  const ExtractiveAnswer answer =
      answerer.Answer("What is the southernmost active volcano on Earth?", sources);
  REQUIRE(answer.answered);
  const std::string expected = "Mount Erebus is the southernmost active volcano on Earth. [3]";
  CHECK(answer.text.rfind(expected, 0) == 0);  // it comes first
  REQUIRE_FALSE(answer.citations.empty());
  CHECK(answer.citations[0] ==
        Citation{.source_number = 3, .chunk_id = "doc3#0", .start = 58, .end = 61});
  CHECK(answer.text.substr(58, 3) == "[3]");
}

TEST_CASE("Every citation points at its marker and pieces concatenate to the answer",
          "[extractive]") {
  const ExtractiveAnswerer answerer;
  const std::vector<Source> sources = VolcanoSources();
  const ExtractiveAnswer answer =
      answerer.Answer("What rock forms from cooling lava and what is it made of?", sources);
  REQUIRE(answer.answered);
  CHECK(answer.text.find("Basalt is a fine-grained rock formed from the rapid cooling of lava "
                         "rich in magnesium and iron. [2]") == 0);
  std::string joined;
  for (const std::string& piece : answer.pieces) joined += piece;
  CHECK(joined == answer.text);
  CHECK(answer.pieces.size() == answer.citations.size());
  for (const Citation& citation : answer.citations) {
    const std::string marker = "[" + std::to_string(citation.source_number) + "]";
    CHECK(answer.text.substr(citation.start, citation.end - citation.start) == marker);
    CHECK(citation.chunk_id == "doc" + std::to_string(citation.source_number) + "#0");
  }
  CHECK(answer.citations.size() <= 3);
  CHECK(answer.text.size() <= 600);
}

TEST_CASE("A question the sources do not touch gets I don't know", "[extractive]") {
  const ExtractiveAnswerer answerer;
  const std::vector<Source> sources = VolcanoSources();
  const ExtractiveAnswer answer =
      answerer.Answer("Who composed the Brandenburg concertos?", sources);
  CHECK_FALSE(answer.answered);
  CHECK(answer.text == "I don't know: the sources do not answer this question.");
  CHECK(answer.citations.empty());
  CHECK(answer.pieces == std::vector<std::string>{answer.text});
  // Only stop words: nothing to match.
  CHECK_FALSE(answerer.Answer("What is it?", sources).answered);
  // No sources at all.
  CHECK_FALSE(answerer.Answer("southernmost volcano", {}).answered);
}

TEST_CASE("A sentence repeated by overlapping chunks is cited once", "[extractive]") {
  const ExtractiveAnswerer answerer;
  const std::vector<Source> sources = {
      MakeSource(1, "Honey bees",
                 "Honey bees communicate the location of flowers with a waggle dance. Workers "
                 "live about six weeks in summer."),
      MakeSource(2, "Honey bees",
                 "Honey bees communicate the location of flowers with a waggle dance. The queen "
                 "can live for several years."),
  };
  const ExtractiveAnswer answer =
      answerer.Answer("How do honey bees communicate where flowers are?", sources);
  REQUIRE(answer.answered);
  size_t count = 0;
  for (size_t at = answer.text.find("waggle dance"); at != std::string::npos;
       at = answer.text.find("waggle dance", at + 1)) {
    ++count;
  }
  CHECK(count == 1);
  CHECK(answer.text.rfind("Honey bees communicate the location of flowers with a waggle dance. [1]",
                          0) == 0);
}

TEST_CASE("The idf over sentences favours the distinguishing term", "[extractive]") {
  // Every sentence says "copper"; only one says anything about its melting point.
  const ExtractiveAnswerer answerer(ExtractiveOptions{.max_sentences = 1});
  const std::vector<Source> sources = {
      MakeSource(1, "Copper",
                 "Copper is a soft and ductile metal. Copper has a reddish-orange colour. "
                 "Copper wire carries electricity in most homes. Pure copper melts at 1,085 "
                 "degrees Celsius."),
  };
  const ExtractiveAnswer answer = answerer.Answer("At what temperature does copper melt?", sources);
  CHECK(answer.text == "Pure copper melts at 1,085 degrees Celsius. [1]");
  CHECK(answer.citations ==
        std::vector<Citation>{{.source_number = 1, .chunk_id = "doc1#0", .start = 44, .end = 47}});
}

TEST_CASE("A second sentence answers the other part of the question", "[extractive]") {
  const ExtractiveAnswerer answerer;
  const std::vector<Source> sources = {
      MakeSource(1, "Penicillin",
                 "Penicillin was discovered by Alexander Fleming in 1928. It was first mass "
                 "produced during the Second World War."),
      MakeSource(2, "Antibiotics",
                 "Antibiotics are medicines that fight bacterial infections. Penicillin kills "
                 "bacteria by blocking the synthesis of their cell walls."),
  };
  const ExtractiveAnswer answer =
      answerer.Answer("Who discovered penicillin and how does it kill bacteria?", sources);
  REQUIRE(answer.answered);
  CHECK(answer.text.find("Penicillin was discovered by Alexander Fleming in 1928. [1]") !=
        std::string::npos);
  CHECK(answer.text.find("Penicillin kills bacteria by blocking the synthesis of their cell "
                         "walls. [2]") != std::string::npos);
}

TEST_CASE("Bracketed references and list markers are cleaned, fragments are marked",
          "[extractive]") {
  const ExtractiveAnswerer answerer(ExtractiveOptions{.max_sentences = 1});
  const std::vector<Source> sources = {
      MakeSource(4, "Tardigrades",
                 "survive the vacuum of space. Tardigrades survive extreme dehydration by "
                 "entering a state called cryptobiosis [12, 13]. They were first described in "
                 "1773."),
  };
  const ExtractiveAnswer answer =
      answerer.Answer("How do tardigrades survive dehydration?", sources);
  CHECK(answer.text ==
        "Tardigrades survive extreme dehydration by entering a state called cryptobiosis. [4]");
  REQUIRE(answer.citations.size() == 1);
  CHECK(answer.citations[0].source_number == 4);

  const std::vector<Source> fragment = {
      MakeSource(1, "", "- the tallest tree species is the coast redwood, which grows in"),
  };
  const ExtractiveAnswer cut = answerer.Answer("tallest tree species", fragment);
  // A list item is not a fragment, even in lowercase and without a final stop.
  CHECK(cut.text == "the tallest tree species is the coast redwood, which grows in [1]");
  // A chunk that starts mid-sentence: the fragment is marked as such.
  const ExtractiveAnswer space = answerer.Answer("vacuum of space", sources);
  CHECK(space.text == "\u2026survive the vacuum of space. [4]");
}

TEST_CASE("Section labels of structured abstracts are dropped", "[extractive]") {
  const ExtractiveAnswerer answerer(ExtractiveOptions{.max_sentences = 1});
  const std::vector<Source> sources = {
      MakeSource(1, "A trial of daily walking",
                 "BACKGROUND Walking is cheap. \n DESIGN, SETTING, AND PARTICIPANTS Adults "
                 "walked daily for a year. \n RESULTS: Daily walking lowered resting blood "
                 "pressure by 5 mmHg. \n CONCLUSIONS Walking helps."),
  };
  CHECK(answerer.Answer("Does daily walking lower blood pressure?", sources).text ==
        "Daily walking lowered resting blood pressure by 5 mmHg. [1]");
  // An acronym that is not a label stays.
  const std::vector<Source> acronym = {MakeSource(1, "", "DNA Repair is slow in old cells. MAIN")};
  CHECK(answerer.Answer("DNA repair", acronym).text == "DNA Repair is slow in old cells. [1]");
}

TEST_CASE("The answer respects the byte cap", "[extractive]") {
  std::string long_sentence = "Glaciers";
  for (int i = 0; i < 100; ++i) long_sentence += " slowly grind rock";
  long_sentence += ".";
  const ExtractiveAnswerer answerer(ExtractiveOptions{.max_answer_bytes = 120});
  const std::vector<Source> sources = {MakeSource(2, "", long_sentence + " Glaciers move.")};
  const ExtractiveAnswer answer = answerer.Answer("How do glaciers grind rock?", sources);
  REQUIRE(answer.answered);
  CHECK(answer.text.size() <= 120);
  CHECK(answer.text.ends_with("\u2026 [2]"));
  REQUIRE(answer.citations.size() == 1);
  CHECK(answer.citations[0].end == answer.text.size());
}

TEST_CASE("Rank breaks a tie between equal sentences", "[extractive]") {
  const ExtractiveAnswerer answerer(ExtractiveOptions{.max_sentences = 1});
  const std::vector<Source> sources = {
      MakeSource(1, "", "Owls hunt at night using sharp hearing."),
      MakeSource(2, "", "Owls hunt at night using sharp hearing!"),
  };
  CHECK(answerer.Answer("How do owls hunt?", sources).citations.at(0).source_number == 1);
}

}  // namespace
}  // namespace quarry::generation
