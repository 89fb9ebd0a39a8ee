#include "tests/fake_llm/fake_llm_server.h"

#include <httplib.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <functional>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "nlohmann/json.hpp"

namespace quarry::testing {
namespace {

using Json = nlohmann::json;
using Clock = std::chrono::steady_clock;

constexpr char kChatPath[] = "/v1/chat/completions";
constexpr char kEmbeddingsPath[] = "/v1/embeddings";
constexpr char kRerankPath[] = "/v1/rerank";
constexpr char kTeiRerankPath[] = "/rerank";
constexpr std::chrono::milliseconds kStallTick(10);

Json Usage(int prompt_tokens, int completion_tokens) {
  return Json{{"prompt_tokens", prompt_tokens},
              {"completion_tokens", completion_tokens},
              {"total_tokens", prompt_tokens + completion_tokens}};
}

// Writes `reply` into `response`; `stopping` cuts every pause short.
void ServeReply(const FakeReply& reply, httplib::Response& response,
                const std::atomic<bool>& stopping, const std::function<void()>& record_disconnect) {
  // Sleeps in ticks so that shutting the server down never waits for a long script.
  auto sleep = [&stopping](int milliseconds) {
    const auto until = Clock::now() + std::chrono::milliseconds(milliseconds);
    while (!stopping && Clock::now() < until) {
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
  };
  sleep(reply.delay_headers_ms);
  response.status = reply.status;
  for (const auto& [name, value] : reply.headers) response.set_header(name, value);

  bool simple = reply.end == FakeReply::End::kComplete;
  for (const FakeReply::Part& part : reply.parts) simple = simple && part.delay_ms == 0;
  if (simple) {
    std::string body;
    for (const FakeReply::Part& part : reply.parts) body += part.bytes;
    response.set_content(body, reply.content_type.c_str());
    return;
  }
  response.set_chunked_content_provider(
      reply.content_type,
      [&stopping, reply, sleep, record_disconnect](size_t, httplib::DataSink& sink) {
        for (const FakeReply::Part& part : reply.parts) {
          sleep(part.delay_ms);
          if (!sink.write(part.bytes.data(), part.bytes.size())) {
            record_disconnect();
            return false;
          }
        }
        if (reply.end == FakeReply::End::kDrop) return false;
        if (reply.end == FakeReply::End::kStall) {
          // Writing is the only way to notice a hang-up here: the second write after the
          // client closed its end fails.
          static constexpr char kComment[] = ": stalled\n\n";
          const auto until = Clock::now() + std::chrono::milliseconds(reply.stall_ms);
          while (!stopping && Clock::now() < until) {
            std::this_thread::sleep_for(kStallTick);
            if (!sink.write(kComment, sizeof(kComment) - 1)) {
              record_disconnect();
              return false;
            }
          }
        }
        sink.done();
        return true;
      });
}

// Lower-cased ASCII-alphanumeric words.
std::vector<std::string> Words(const std::string& text) {
  std::vector<std::string> words;
  std::string word;
  for (char c : text) {
    if (std::isalnum(static_cast<unsigned char>(c))) {
      word += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    } else if (!word.empty()) {
      words.push_back(std::move(word));
      word.clear();
    }
  }
  if (!word.empty()) words.push_back(std::move(word));
  return words;
}

uint64_t Fnv1a(const std::string& text) {
  uint64_t hash = 1469598103934665603ull;
  for (char c : text) {
    hash ^= static_cast<unsigned char>(c);
    hash *= 1099511628211ull;
  }
  return hash;
}

FakeReply JsonReply(const Json& body) {
  FakeReply reply;
  reply.content_type = "application/json";
  reply.parts.push_back({body.dump(), 0});
  return reply;
}

FakeReply BadRequest(const std::string& message) {
  return FakeReply::Error(400, Json{{"error", {{"message", message}}}}.dump());
}

}  // namespace

std::vector<float> FakeEmbedding(const std::string& text, int dimension) {
  std::vector<float> vector(static_cast<size_t>(dimension), 0.0f);
  for (const std::string& word : Words(text)) {
    const uint64_t hash = Fnv1a(word);
    vector[hash % static_cast<uint64_t>(dimension)] += (hash >> 63) != 0 ? 1.0f : -1.0f;
  }
  double norm = 0;
  for (float value : vector) norm += static_cast<double>(value) * value;
  if (norm > 0) {
    for (float& value : vector) value = static_cast<float>(value / std::sqrt(norm));
  }
  return vector;
}

double FakeRerankScore(const std::string& query, const std::string& document) {
  std::set<std::string> query_words;
  for (std::string& word : Words(query)) query_words.insert(std::move(word));
  if (query_words.empty()) return 0;
  std::set<std::string> document_words;
  for (std::string& word : Words(document)) document_words.insert(std::move(word));
  size_t found = 0;
  for (const std::string& word : query_words) found += document_words.count(word);
  return static_cast<double>(found) / static_cast<double>(query_words.size());
}

FakeReply FakeReply::Stream(const std::vector<std::string>& tokens, const StreamStyle& style) {
  const std::string end = style.crlf ? "\r\n" : "\n";
  auto event = [&](const Json& json) { return "data: " + json.dump() + end + end; };
  auto chunk = [&](Json delta, Json finish_reason) {
    Json choice = {{"index", 0}, {"delta", std::move(delta)}, {"finish_reason", finish_reason}};
    Json json = {{"id", "chatcmpl-fake"},
                 {"object", "chat.completion.chunk"},
                 {"created", 1700000000},
                 {"model", style.model},
                 {"choices", Json::array({choice})}};
    if (style.extra_fields) {
      json["system_fingerprint"] = "fp_fake";
      json["x_vendor"] = {{"latency_ms", 3}, {"tags", {"a", "b"}}};
      json["choices"][0]["logprobs"] = nullptr;
      json["choices"][0]["delta"]["reasoning_content"] = nullptr;
    }
    return json;
  };
  FakeReply reply;
  auto add = [&](std::string bytes, int delay_ms = 0) {
    if (style.keep_alive_comments) reply.parts.push_back({": keep-alive" + end + end, 0});
    reply.parts.push_back({std::move(bytes), delay_ms});
  };
  if (style.role_delta_first) add(event(chunk({{"role", "assistant"}, {"content", ""}}, nullptr)));
  for (const std::string& token : tokens) {
    add(event(chunk({{"content", token}}, nullptr)), style.token_delay_ms);
  }
  Json last = chunk(Json::object(), style.finish_reason);
  const Json usage = Usage(style.prompt_tokens, static_cast<int>(tokens.size()));
  if (style.usage == StreamStyle::Usage::kOnLastChunk) last["usage"] = usage;
  add(event(last));
  if (style.usage == StreamStyle::Usage::kSeparateChunk) {
    add(event(Json{{"id", "chatcmpl-fake"},
                   {"object", "chat.completion.chunk"},
                   {"created", 1700000000},
                   {"model", style.model},
                   {"choices", Json::array()},
                   {"usage", usage}}));
  }
  if (style.send_done) add("data: [DONE]" + end + end);
  return reply;
}

FakeReply FakeReply::Completion(const std::string& text, const std::string& finish_reason) {
  FakeReply reply;
  reply.content_type = "application/json";
  const Json body = {
      {"id", "chatcmpl-fake"},
      {"object", "chat.completion"},
      {"created", 1700000000},
      {"model", "fake-model"},
      {"choices", Json::array({{{"index", 0},
                                {"message", {{"role", "assistant"}, {"content", text}}},
                                {"finish_reason", finish_reason}}})},
      {"usage", Usage(11, 7)}};
  reply.parts.push_back({body.dump(), 0});
  return reply;
}

FakeReply FakeReply::Error(int status, const std::string& body) {
  FakeReply reply;
  reply.status = status;
  reply.content_type = "application/json";
  reply.parts.push_back({body, 0});
  return reply;
}

FakeReply FakeReply::StallAfter(const std::vector<std::string>& tokens, int stall_ms) {
  StreamStyle style;
  style.send_done = false;
  FakeReply full = Stream(tokens, style);
  FakeReply reply;
  // Keep the role chunk and the content chunks; leave out the finish and usage chunks.
  for (size_t i = 0; i < tokens.size() + 1 && i < full.parts.size(); ++i) {
    reply.parts.push_back(full.parts[i]);
  }
  reply.end = End::kStall;
  reply.stall_ms = stall_ms;
  return reply;
}

FakeReply FakeReply::DropAfter(const std::vector<std::string>& tokens) {
  FakeReply reply = StallAfter(tokens, 0);
  reply.end = End::kDrop;
  return reply;
}

FakeLlmServer::FakeLlmServer() : server_(std::make_unique<httplib::Server>()) {
  default_reply_ = FakeReply::Error(
      500, R"({"error":{"message":"fake LLM: no reply scripted for this request"}})");
  // Idle kept-alive connections hold a worker; a short timeout keeps shutdown quick.
  server_->set_keep_alive_timeout(1);
  server_->Post(kChatPath, [this](const httplib::Request& request, httplib::Response& response) {
    FakeReply reply;
    if (!Take(request, FakeEndpoint::kChat, reply)) {
      std::lock_guard<std::mutex> lock(mutex_);
      reply = default_reply_;
    }
    ServeReply(reply, response, stopping_, [this] { RecordDisconnect(); });
  });
  server_->Post(kEmbeddingsPath,
                [this](const httplib::Request& request, httplib::Response& response) {
                  FakeReply reply;
                  if (!Take(request, FakeEndpoint::kEmbeddings, reply)) {
                    reply = ComputeEmbeddings(request.body);
                  }
                  ServeReply(reply, response, stopping_, [this] { RecordDisconnect(); });
                });
  for (const char* path : {kRerankPath, kTeiRerankPath}) {
    server_->Post(path, [this](const httplib::Request& request, httplib::Response& response) {
      FakeReply reply;
      if (!Take(request, FakeEndpoint::kRerank, reply)) reply = ComputeRerank(request.body);
      ServeReply(reply, response, stopping_, [this] { RecordDisconnect(); });
    });
  }
  port_ = server_->bind_to_any_port("127.0.0.1");
  if (port_ <= 0) throw std::runtime_error("fake LLM: cannot bind 127.0.0.1");
  thread_ = std::thread([this] { server_->listen_after_bind(); });
  while (!server_->is_running()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
}

FakeLlmServer::~FakeLlmServer() {
  stopping_ = true;
  server_->stop();
  if (thread_.joinable()) thread_.join();
}

std::string FakeLlmServer::base_url() const {
  return "http://127.0.0.1:" + std::to_string(port_) + "/v1";
}

void FakeLlmServer::Enqueue(FakeReply reply, FakeEndpoint endpoint) {
  std::lock_guard<std::mutex> lock(mutex_);
  queues_[static_cast<int>(endpoint)].push_back(std::move(reply));
}

void FakeLlmServer::set_embedding_dimension(int dimension) {
  std::lock_guard<std::mutex> lock(mutex_);
  embedding_dimension_ = dimension;
}

void FakeLlmServer::set_rerank_bare_list(bool bare) {
  std::lock_guard<std::mutex> lock(mutex_);
  rerank_bare_list_ = bare;
}

bool FakeLlmServer::Take(const httplib::Request& request, FakeEndpoint endpoint, FakeReply& reply) {
  bool taken = false;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    requests_.push_back(RecordedRequest{.path = request.path,
                                        .authorization = request.get_header_value("Authorization"),
                                        .body = request.body,
                                        .remote_port = request.remote_port});
    std::deque<FakeReply>& queue = queues_[static_cast<int>(endpoint)];
    if (!queue.empty()) {
      reply = std::move(queue.front());
      queue.pop_front();
      taken = true;
    }
  }
  changed_.notify_all();
  return taken;
}

FakeReply FakeLlmServer::ComputeEmbeddings(const std::string& body) const {
  const Json request = Json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (!request.is_object() || !request.contains("input") || !request.contains("model")) {
    return BadRequest("fake embeddings: 'model' and 'input' are required");
  }
  Json inputs = request["input"];
  if (inputs.is_string()) inputs = Json::array({inputs});
  if (!inputs.is_array()) return BadRequest("fake embeddings: 'input' must be a list of strings");
  int dimension = 0;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    dimension = embedding_dimension_;
  }
  Json data = Json::array();
  // Last input first: clients must order by "index", not by position.
  for (size_t i = inputs.size(); i-- > 0;) {
    if (!inputs[i].is_string()) return BadRequest("fake embeddings: inputs must be strings");
    data.push_back({{"object", "embedding"},
                    {"index", i},
                    {"embedding", FakeEmbedding(inputs[i].get<std::string>(), dimension)}});
  }
  return JsonReply(Json{{"object", "list"},
                        {"data", std::move(data)},
                        {"model", request["model"]},
                        {"usage", Usage(static_cast<int>(inputs.size()), 0)}});
}

FakeReply FakeLlmServer::ComputeRerank(const std::string& body) const {
  const Json request = Json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (!request.is_object() || !request.contains("query") || !request.contains("documents") ||
      !request["query"].is_string() || !request["documents"].is_array()) {
    return BadRequest("fake rerank: 'query' and 'documents' are required");
  }
  const std::string query = request["query"].get<std::string>();
  std::vector<std::pair<double, size_t>> scored;
  for (size_t i = 0; i < request["documents"].size(); ++i) {
    const Json& document = request["documents"][i];
    if (!document.is_string()) return BadRequest("fake rerank: documents must be strings");
    scored.emplace_back(FakeRerankScore(query, document.get<std::string>()), i);
  }
  std::stable_sort(scored.begin(), scored.end(),
                   [](const auto& a, const auto& b) { return a.first > b.first; });
  if (request.contains("top_n") && request["top_n"].is_number_unsigned() &&
      request["top_n"].get<size_t>() < scored.size()) {
    scored.resize(request["top_n"].get<size_t>());
  }
  bool bare = false;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    bare = rerank_bare_list_;
  }
  Json results = Json::array();
  for (const auto& [score, index] : scored) {
    results.push_back(bare ? Json{{"index", index}, {"score", score}}
                           : Json{{"index", index}, {"relevance_score", score}});
  }
  if (bare) return JsonReply(results);
  return JsonReply(Json{{"id", "rerank-fake"}, {"results", std::move(results)}});
}

void FakeLlmServer::SetDefault(FakeReply reply) {
  std::lock_guard<std::mutex> lock(mutex_);
  default_reply_ = std::move(reply);
}

std::vector<RecordedRequest> FakeLlmServer::requests() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return requests_;
}

size_t FakeLlmServer::request_count() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return requests_.size();
}

bool FakeLlmServer::WaitForRequests(size_t count, std::chrono::milliseconds timeout) const {
  std::unique_lock<std::mutex> lock(mutex_);
  return changed_.wait_for(lock, timeout, [&] { return requests_.size() >= count; });
}

int FakeLlmServer::disconnects() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return disconnects_;
}

bool FakeLlmServer::WaitForDisconnects(int count, std::chrono::milliseconds timeout) const {
  std::unique_lock<std::mutex> lock(mutex_);
  return changed_.wait_for(lock, timeout, [&] { return disconnects_ >= count; });
}

void FakeLlmServer::RecordDisconnect() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    ++disconnects_;
  }
  changed_.notify_all();
}

}  // namespace quarry::testing
