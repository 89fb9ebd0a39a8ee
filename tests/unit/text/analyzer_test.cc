#include "index/text/analyzer.h"

#include <catch2/catch.hpp>
#include <string>
#include <thread>
#include <vector>

namespace quarry::text {
namespace {

using Strings = std::vector<std::string>;

TEST_CASE("Terms drops stop words and stems", "[analyzer]") {
  const Analyzer analyzer;
  CHECK(analyzer.Terms("The cats are running") == Strings{"cat", "run"});
  CHECK(analyzer.Terms("running runs ran") == Strings{"run", "run", "ran"});
  CHECK(analyzer.Terms("studies studying studied") == Strings{"studi", "studi", "studi"});
  CHECK(analyzer.Terms("generously organizational happiness") ==
        Strings{"generous", "organiz", "happi"});
  CHECK(analyzer.Terms("the of and to in is it was for with").empty());
}

TEST_CASE("Terms keeps order and duplicates", "[analyzer]") {
  const Analyzer analyzer;
  CHECK(analyzer.Terms("dog cat dog") == Strings{"dog", "cat", "dog"});
}

TEST_CASE("Terms case-folds beyond ASCII", "[analyzer]") {
  const Analyzer analyzer;
  CHECK(analyzer.Terms("HELLO World") == Strings{"hello", "world"});
  CHECK(analyzer.Terms("CAF\u00C9") == analyzer.Terms("caf\u00E9"));
  CHECK(analyzer.Terms("STRASSE") == analyzer.Terms("Stra\u00DFe"));
  // Greek capitals and final sigma fold to the same word.
  CHECK(analyzer.Terms("\u039F\u0394\u039F\u03A3") == analyzer.Terms("\u03BF\u03B4\u03BF\u03C2"));
  CHECK(analyzer.Terms("\u041C\u041E\u0421\u041A\u0412\u0410") ==
        Strings{"\u043C\u043E\u0441\u043A\u0432\u0430"});
  CHECK(analyzer.Terms("\u0141\u00D3D\u0179") == Strings{"\u0142\u00F3d\u017A"});
}

TEST_CASE("Terms handles contractions and possessives", "[analyzer]") {
  const Analyzer analyzer;
  CHECK(analyzer.Terms("don't won't it's").empty());
  CHECK(analyzer.Terms("don\u2019t").empty());  // typographic apostrophe
  CHECK(analyzer.Terms("John's car") == Strings{"john", "car"});
}

TEST_CASE("Terms keeps numbers as written", "[analyzer]") {
  const Analyzer analyzer;
  CHECK(analyzer.Terms("2024 1234567 3.14") == Strings{"2024", "1234567", "3", "14"});
}

TEST_CASE("Terms drops punctuation and over-long tokens", "[analyzer]") {
  const Analyzer analyzer;
  CHECK(analyzer.Terms("!!! ... --- \u2014 \U0001F600").empty());
  const std::string longest(64, 'q');
  CHECK(analyzer.Terms(longest) == Strings{longest});
  CHECK(analyzer.Terms(std::string(65, 'q')).empty());
  // A blob the tokenizer cut into pieces is dropped whole, short tail included.
  CHECK(analyzer.Terms("start " + std::string(300, 'z') + " finish") == Strings{"start", "finish"});
}

TEST_CASE("Remembered stems equal fresh ones, also after the cache refills", "[analyzer]") {
  // Each analyzer's stemmers remember what they stemmed; one that has seen 20,000 distinct
  // words (more than a stemmer keeps, so its memory is dropped and refilled on the way) must
  // still agree word for word with an analyzer that has seen nothing.
  const Analyzer used;
  std::string text;
  for (int i = 0; i < 20000; ++i) {
    text += "running" + std::to_string(i) + "x generalizations studies ";
  }
  const Strings first = used.Terms(text);
  const Strings again = used.Terms(text);
  CHECK(again == first);
  const Analyzer fresh;
  CHECK(fresh.Terms(text) == first);
  CHECK(used.Terms("studies studying generalizations") == Strings{"studi", "studi", "general"});
}

TEST_CASE("Terms is thread-safe", "[analyzer]") {
  const Analyzer analyzer;
  const std::vector<std::string> texts = {
      "The researchers were studying generalizations of running processes",
      "Connections connected connecting connectively",
      "Happily the happiest hopeful hoping hoppers hopped",
      "Nationalization organizations relational conditional",
  };
  std::vector<Strings> expected;
  for (const std::string& text : texts) expected.push_back(analyzer.Terms(text));
  std::vector<int> mismatches(4, 0);
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 500; ++i) {
        const size_t k = static_cast<size_t>(i + t) % texts.size();
        if (analyzer.Terms(texts[k]) != expected[k]) ++mismatches[t];
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  CHECK(mismatches == std::vector<int>{0, 0, 0, 0});
}

}  // namespace
}  // namespace quarry::text
