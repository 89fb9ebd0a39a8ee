// A fake OpenAI-compatible model server for tests: a real HTTP server (cpp-httplib) on
// 127.0.0.1 with an ephemeral port, answering
//   POST /v1/chat/completions with replies each test scripts: streams in the variants real
//        servers send, JSON completions, errors with JSON bodies, stalls and dropped
//        connections;
//   POST /v1/embeddings with scripted replies, else deterministic embeddings (FakeEmbedding: a
//        hashed bag of words, so texts sharing words are near and dense search is meaningful),
//        answered in reverse order with their indexes as real servers may;
//   POST /v1/rerank and /rerank with scripted replies, else scores from word overlap with the
//        query, in the Cohere/Jina/vLLM format or TEI's bare list.
// It records every request and notices when a client hangs up in the middle of a stalled
// stream.
#ifndef QUARRY_TESTS_FAKE_LLM_FAKE_LLM_SERVER_H_
#define QUARRY_TESTS_FAKE_LLM_FAKE_LLM_SERVER_H_

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace httplib {
class Server;
struct Request;
}  // namespace httplib

namespace quarry::testing {

// How a scripted stream is shaped, after the variations of real servers.
struct StreamStyle {
  bool role_delta_first = true;  // OpenAI and vLLM open with {"role":"assistant"}; others do not
  enum class Usage { kNone, kOnLastChunk, kSeparateChunk } usage = Usage::kSeparateChunk;
  bool keep_alive_comments = false;  // ": keep-alive" lines between chunks
  bool extra_fields = false;         // unknown fields the client must ignore
  bool crlf = false;                 // "\r\n" line ends
  bool send_done = true;             // end with "data: [DONE]"
  std::string finish_reason = "stop";
  std::string model = "fake-model";
  int prompt_tokens = 11;
  int token_delay_ms = 0;  // pause before each content chunk
};

struct FakeReply {
  struct Part {
    std::string bytes;
    int delay_ms = 0;  // pause before writing these bytes
  };
  enum class End {
    kComplete,  // finish the response normally
    kDrop,      // close the connection without finishing the response
    kStall,     // hold the connection open (sending SSE comments, which detect a hang-up)
  };

  int status = 200;
  std::string content_type = "text/event-stream";
  std::vector<std::pair<std::string, std::string>> headers;
  std::vector<Part> parts;
  End end = End::kComplete;
  int stall_ms = 30000;      // kStall: the longest the connection is held
  int delay_headers_ms = 0;  // pause before sending anything at all

  // A streamed answer made of `tokens`.
  static FakeReply Stream(const std::vector<std::string>& tokens, const StreamStyle& style = {});
  // A non-streamed completion.
  static FakeReply Completion(const std::string& text, const std::string& finish_reason = "stop");
  // An error status with a body (usually JSON).
  static FakeReply Error(int status, const std::string& body);
  // Headers, `tokens` streamed, then silence until the client hangs up (or stall_ms).
  static FakeReply StallAfter(const std::vector<std::string>& tokens, int stall_ms = 30000);
  // Headers, `tokens` streamed, then the connection is closed mid-stream.
  static FakeReply DropAfter(const std::vector<std::string>& tokens);
};

// The deterministic embedding the fake serves for `text`: lower-cased alphanumeric words, each
// hashed to a dimension and a sign, L2-normalised.
std::vector<float> FakeEmbedding(const std::string& text, int dimension);

// The fake's rerank score: the fraction of the query's distinct words found in `document`.
double FakeRerankScore(const std::string& query, const std::string& document);

enum class FakeEndpoint { kChat, kEmbeddings, kRerank };

struct RecordedRequest {
  std::string path;
  std::string authorization;  // the Authorization header
  std::string body;
  int remote_port = 0;  // the same port twice means a reused connection
};

class FakeLlmServer {
 public:
  FakeLlmServer();
  ~FakeLlmServer();
  FakeLlmServer(const FakeLlmServer&) = delete;
  FakeLlmServer& operator=(const FakeLlmServer&) = delete;

  // "http://127.0.0.1:<port>/v1"
  std::string base_url() const;
  int port() const { return port_; }

  // Replies are used in order, one per request to `endpoint`; when none is left, chat uses
  // the default (initially a 500 error saying that nothing was scripted) and embeddings and
  // rerank compute their deterministic answers.
  void Enqueue(FakeReply reply, FakeEndpoint endpoint = FakeEndpoint::kChat);
  void SetDefault(FakeReply reply);
  // The dimension of computed embeddings (default 32).
  void set_embedding_dimension(int dimension);
  // Computed rerank answers as TEI's bare list [{index, score}] instead of {"results": [...]}.
  void set_rerank_bare_list(bool bare);

  std::vector<RecordedRequest> requests() const;
  size_t request_count() const;
  // Waits until request_count() >= count; false on timeout.
  bool WaitForRequests(size_t count, std::chrono::milliseconds timeout) const;
  // How many stalled streams ended because the client hung up.
  int disconnects() const;
  // Waits until disconnects() >= count; false on timeout.
  bool WaitForDisconnects(int count, std::chrono::milliseconds timeout) const;

 private:
  void RecordDisconnect();
  // Records the request and takes the next scripted reply for `endpoint`, if any.
  bool Take(const httplib::Request& request, FakeEndpoint endpoint, FakeReply& reply);
  FakeReply ComputeEmbeddings(const std::string& body) const;
  FakeReply ComputeRerank(const std::string& body) const;

  std::unique_ptr<httplib::Server> server_;
  std::thread thread_;
  int port_ = 0;
  std::atomic<bool> stopping_{false};

  mutable std::mutex mutex_;
  mutable std::condition_variable changed_;
  std::deque<FakeReply> queues_[3];  // by FakeEndpoint
  FakeReply default_reply_;
  int embedding_dimension_ = 32;
  bool rerank_bare_list_ = false;
  std::vector<RecordedRequest> requests_;
  int disconnects_ = 0;
};

}  // namespace quarry::testing

#endif  // QUARRY_TESTS_FAKE_LLM_FAKE_LLM_SERVER_H_
