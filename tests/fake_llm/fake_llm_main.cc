// quarry-fake-llm: the tests' fake OpenAI-compatible server as a process, so that `quarry bench
// generate` (bench/run_generate.sh) measures Generate without a model. Every chat completion
// streams the same short answer citing source [1]; --token_delay_ms paces its tokens like a
// model would. Prints "fake-llm listening on http://127.0.0.1:PORT/v1" and serves until
// SIGTERM/SIGINT.
#include <cstdio>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "index/shutdown_signal.h"
#include "tests/fake_llm/fake_llm_server.h"

ABSL_FLAG(int, tokens, 32, "Content tokens streamed per answer");
ABSL_FLAG(int, token_delay_ms, 0, "Pause before each streamed token");

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  quarry::ShutdownSignal shutdown;
  quarry::testing::FakeLlmServer server;
  std::vector<std::string> tokens = {"The", " evidence", " supports", " it", " [1]", "."};
  while (static_cast<int>(tokens.size()) < absl::GetFlag(FLAGS_tokens)) tokens.push_back(" word");
  quarry::testing::StreamStyle style;
  style.token_delay_ms = absl::GetFlag(FLAGS_token_delay_ms);
  server.SetDefault(quarry::testing::FakeReply::Stream(tokens, style));
  std::printf("fake-llm listening on %s\n", server.base_url().c_str());
  std::fflush(stdout);
  shutdown.Wait();
  return 0;
}
