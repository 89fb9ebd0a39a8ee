// Prometheus metrics, end to end: the values quarry-server exposes on /metrics move with the
// calls it serves, and Debian's real prometheus binary, running the project's scrape config
// (deploy/prometheus/prometheus.yml, targets rewritten to this test's ports), scrapes a running
// quarry-server and quarry-indexer so the series can be queried through its HTTP API.
#include <grpcpp/generic/generic_stub.h>
#include <httplib.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <chrono>
#include <cstring>
#include <fstream>
#include <functional>
#include <future>
#include <map>
#include <optional>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <thread>

#include "nlohmann/json.hpp"
#include "tests/fake_llm/fake_llm_server.h"
#include "tests/integration/child_process.h"
#include "tests/integration/server_process.h"
#include "tests/integration/test_support.h"

namespace quarry::testing {
namespace {

using Labels = std::map<std::string, std::string>;

// Host and port of "HOST:PORT".
std::pair<std::string, int> SplitAddress(const std::string& address) {
  const size_t colon = address.rfind(':');
  return {address.substr(0, colon), std::stoi(address.substr(colon + 1))};
}

std::string HttpGet(const std::string& address, const std::string& path) {
  const auto [host, port] = SplitAddress(address);
  httplib::Client client(host, port);
  client.set_read_timeout(30, 0);
  httplib::Result result = client.Get(path.c_str());
  if (!result || result->status != 200) return "";
  return result->body;
}

// Sum of the samples of `name` in Prometheus text format whose labels include `wanted`;
// nullopt when there is none.
std::optional<double> Sample(const std::string& text, const std::string& name,
                             const Labels& wanted = {}) {
  std::optional<double> sum;
  std::istringstream lines(text);
  for (std::string line; std::getline(lines, line);) {
    if (line.empty() || line[0] == '#') continue;
    const size_t name_end = line.find_first_of("{ ");
    if (line.substr(0, name_end) != name) continue;
    Labels labels;
    size_t value_start = name_end + 1;
    if (line[name_end] == '{') {
      const size_t close = line.find('}', name_end);
      std::istringstream pairs(line.substr(name_end + 1, close - name_end - 1));
      for (std::string pair; std::getline(pairs, pair, ',');) {
        const size_t equals = pair.find('=');
        labels[pair.substr(0, equals)] = pair.substr(equals + 2, pair.size() - equals - 3);
      }
      value_start = close + 2;
    }
    bool matches = true;
    for (const auto& [key, value] : wanted) matches = matches && labels[key] == value;
    if (matches) sum = sum.value_or(0) + std::stod(line.substr(value_start));
  }
  return sum;
}

// Polls `condition` until it holds or `timeout` passes (Prometheus scrapes once a second).
bool Eventually(const std::function<bool()>& condition,
                std::chrono::seconds timeout = std::chrono::seconds(60)) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (condition()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return condition();
}

void CreateAndFill(ServerProcess& server, int documents) {
  Client client(server);
  REQUIRE(client.CreateCollection("docs").ok());
  std::vector<v1::Document> batch;
  for (int i = 0; i < documents; ++i) {
    batch.push_back(Doc("doc" + std::to_string(i),
                        "Prometheus scrapes metrics number " + std::to_string(i) +
                            " from the retrieval service"));
  }
  const grpc::Status status = client.Ingest("docs", batch);
  REQUIRE(status.ok());
}

TEST_CASE("metrics: /metrics counts RPCs by method and code, search stages, ingest and state") {
  TestServer server;
  REQUIRE_FALSE(server->metrics_address().empty());
  CreateAndFill(server.process(), 3);
  Client client(server.process());
  for (int i = 0; i < 2; ++i) {
    REQUIRE(client.Search(TextQuery("docs", "retrieval metrics", v1::SEARCH_MODE_HYBRID)).ok());
  }
  REQUIRE(client.Search(TextQuery("docs", "metrics", v1::SEARCH_MODE_LEXICAL)).ok());
  REQUIRE(client.Search(TextQuery("missing", "metrics")).error_code() ==
          grpc::StatusCode::NOT_FOUND);

  const std::string text = HttpGet(server->metrics_address(), "/metrics");
  REQUIRE_FALSE(text.empty());
  const Labels search = {{"service", "quarry.v1.SearchService"}, {"method", "Search"}};
  Labels ok = search;
  ok["code"] = "OK";
  Labels not_found = search;
  not_found["code"] = "NOT_FOUND";
  CHECK(Sample(text, "quarry_rpc_requests_total", ok) == 3);
  CHECK(Sample(text, "quarry_rpc_requests_total", not_found) == 1);
  CHECK(Sample(text, "quarry_rpc_requests_total",
               {{"method", "Ingest"}, {"code", "OK"}}) == 1);
  CHECK(Sample(text, "quarry_rpc_duration_seconds_count", search) == 4);
  CHECK(Sample(text, "quarry_rpc_duration_seconds_bucket", {{"method", "Search"}, {"le", "+Inf"}}) ==
        4);
  // Stages: two hybrid searches run all of them; the lexical one only the lexical stage.
  CHECK(Sample(text, "quarry_search_stage_duration_seconds_count", {{"stage", "dense"}}) == 2);
  CHECK(Sample(text, "quarry_search_stage_duration_seconds_count", {{"stage", "fuse"}}) == 2);
  CHECK(Sample(text, "quarry_search_stage_duration_seconds_count", {{"stage", "lexical"}}) == 3);
  CHECK(Sample(text, "quarry_search_stage_duration_seconds_count", {{"stage", "rerank"}}) == 0);
  CHECK(Sample(text, "quarry_search_duration_seconds_count", {{"mode", "hybrid"}}) == 2);
  CHECK(Sample(text, "quarry_ingest_documents_total", {{"collection", "docs"}}) == 3);
  CHECK(Sample(text, "quarry_ingest_bytes_total", {{"collection", "docs"}}) > 100);
  CHECK(Sample(text, "quarry_collection_documents", {{"collection", "docs"}}) == 3);
  CHECK(Sample(text, "quarry_collection_fresh_chunks", {{"collection", "docs"}}) ==
        Sample(text, "quarry_collection_chunks", {{"collection", "docs"}}));
  CHECK(Sample(text, "quarry_collection_shards", {{"collection", "docs"}}) == 0);
  CHECK(Sample(text, "quarry_collection_log_bytes_behind", {{"collection", "docs"}}) > 0);
  CHECK(Sample(text, "quarry_collections") == 1);
  CHECK(Sample(text, "process_resident_memory_bytes") > 1 << 20);
  CHECK(Sample(text, "process_open_fds") > 0);
  // What the kernel says of the server's memory on huge pages, read around the scrape.
  const auto anon_huge_pages = [&server] {
    std::ifstream rollup("/proc/" + std::to_string(server->pid()) + "/smaps_rollup");
    std::string line;
    while (std::getline(rollup, line)) {
      if (line.rfind("AnonHugePages:", 0) == 0) return std::stod(line.substr(14)) * 1024;
    }
    return -1.0;
  };
  const double huge_before = anon_huge_pages();
  const std::optional<double> huge_pages =
      Sample(HttpGet(server->metrics_address(), "/metrics"), "quarry_anon_huge_pages_bytes");
  const double huge_after = anon_huge_pages();
  REQUIRE(huge_pages.has_value());
  CHECK(*huge_pages >= std::min(huge_before, huge_after));
  CHECK(*huge_pages <= std::max(huge_before, huge_after));
  // No LLM configured: no breaker series.
  CHECK_FALSE(Sample(text, "quarry_llm_circuit_breaker_state").has_value());

  // A method no service has is counted, under a fixed label instead of the caller's string.
  grpc::ClientContext context;
  SetDeadline(context);
  grpc::GenericStub generic(server->channel());
  grpc::Slice empty_message("");
  const grpc::ByteBuffer request(&empty_message, 1);
  grpc::ByteBuffer response;
  std::promise<grpc::Status> done;
  generic.UnaryCall(&context, "/quarry.v1.SearchService/NoSuchMethod", grpc::StubOptions(),
                    &request, &response, [&done](grpc::Status status) { done.set_value(status); });
  const grpc::Status unknown = done.get_future().get();
  CHECK(unknown.error_code() == grpc::StatusCode::UNIMPLEMENTED);
  const std::string after = HttpGet(server->metrics_address(), "/metrics");
  CHECK(Sample(after, "quarry_rpc_requests_total", {{"method", "NoSuchMethod"}}) == std::nullopt);
  CHECK(Sample(after, "quarry_rpc_requests_total",
               {{"service", "unknown"}, {"method", "unknown"}, {"code", "UNIMPLEMENTED"}}) == 1);
  CHECK(Sample(after, "quarry_rpc_requests_total", ok) == 3);
}

TEST_CASE("metrics: OpenAI embedder calls and the rerank stage are recorded") {
  FakeLlmServer fake;
  fake.set_embedding_dimension(64);
  TestServer server({"--embedder_base_url=" + fake.base_url(), "--embedder_model=fake-embed",
                     "--reranker_url=http://127.0.0.1:" + std::to_string(fake.port()) + "/rerank"});
  Client client(server.process());
  v1::CollectionSpec spec;
  spec.set_dimension(64);
  spec.set_index_spec("Flat");
  spec.mutable_embedder()->set_kind(v1::EMBEDDER_KIND_OPENAI);
  REQUIRE(client.CreateCollection("docs", spec).ok());
  REQUIRE(client.Ingest("docs", {Doc("a", "Prometheus scrapes the retrieval service"),
                                 Doc("b", "Grafana draws the dashboards")})
              .ok());
  v1::SearchRequest request = TextQuery("docs", "who scrapes metrics", v1::SEARCH_MODE_HYBRID);
  request.mutable_options()->set_rerank(true);
  v1::SearchResponse response;
  REQUIRE(client.Search(request, &response).ok());
  REQUIRE(response.reranked());
  // Vectors of the wrong size: the call counts under the error's code.
  spec.set_dimension(16);
  REQUIRE(client.CreateCollection("narrow", spec).ok());
  REQUIRE(client.Ingest("narrow", {Doc("c", "Alertmanager pages the on-call")}).error_code() ==
          grpc::StatusCode::FAILED_PRECONDITION);

  const std::string text = HttpGet(server->metrics_address(), "/metrics");
  // One batch for the two documents, one for the query; the fake reports one token per input.
  CHECK(Sample(text, "quarry_embedder_requests_total", {{"outcome", "OK"}}) == 2);
  CHECK(Sample(text, "quarry_embedder_requests_total", {{"outcome", "FAILED_PRECONDITION"}}) ==
        1);
  CHECK(Sample(text, "quarry_embedder_request_duration_seconds_count") == 3);
  CHECK(Sample(text, "quarry_embedder_tokens_total", {{"direction", "input"}}) == 4);
  CHECK(Sample(text, "quarry_search_stage_duration_seconds_count", {{"stage", "rerank"}}) == 1);
}

TEST_CASE("metrics: an empty --metrics_address turns the endpoint off") {
  TestServer server({"--metrics_address="});
  CHECK(server->metrics_address().empty());
}

// Debian's prometheus with the project's scrape config, scraping a server and an indexer.
class Prometheus {
 public:
  Prometheus(const TempDir& root, const std::string& server_target,
             const std::string& indexer_target)
      : address_("127.0.0.1:" + std::to_string(FreeLoopbackPort())) {
    std::ifstream in(std::string(QUARRY_SOURCE_DIR) + "/deploy/prometheus/prometheus.yml");
    std::stringstream config;
    config << in.rdbuf();
    std::string text = config.str();
    // The test depends on these strings: if the config changes shape, it fails here.
    REQUIRE(Replace(text, "quarry-server:9464", server_target));
    REQUIRE(Replace(text, "quarry-indexer:9465", indexer_target));
    REQUIRE(Replace(text, "scrape_interval: 15s", "scrape_interval: 1s"));
    const std::string config_path = root.Join("prometheus.yml");
    std::ofstream(config_path) << text;
    process_ = std::make_unique<ChildProcess>(
        std::vector<std::string>{QUARRY_PROMETHEUS_BINARY, "--config.file=" + config_path,
                                 "--storage.tsdb.path=" + root.Join("tsdb"),
                                 "--web.listen-address=" + address_},
        root.Join("prometheus.log"));
    REQUIRE(Eventually([&] { return !HttpGet(address_, "/-/ready").empty(); }));
  }

  // The value of the single series `query` returns; nullopt while there is none.
  std::optional<double> Query(const std::string& query) const {
    const std::string body =
        HttpGet(address_, "/api/v1/query?query=" + httplib::detail::encode_query_param(query));
    if (body.empty()) return std::nullopt;
    const nlohmann::json json = nlohmann::json::parse(body, nullptr, false);
    if (json.is_discarded() || json.value("status", "") != "success") return std::nullopt;
    const nlohmann::json& result = json["data"]["result"];
    if (result.size() != 1) return std::nullopt;
    return std::stod(result[0]["value"][1].get<std::string>());
  }

  std::string Log() const { return process_->Log(); }

 private:
  static bool Replace(std::string& text, const std::string& from, const std::string& to) {
    const size_t at = text.find(from);
    if (at == std::string::npos) return false;
    text.replace(at, from.size(), to);
    return true;
  }

  std::string address_;
  std::unique_ptr<ChildProcess> process_;
};

TEST_CASE("metrics: Prometheus scrapes a running server and indexer with the project's config") {
  TestServer server;
  CreateAndFill(server.process(), 5);
  Client client(server.process());
  for (int i = 0; i < 3; ++i) REQUIRE(client.Search(TextQuery("docs", "retrieval")).ok());

  ChildProcess indexer({QUARRY_INDEXER_BINARY, "watch", "--data_dir=" + server.data_dir(),
                        "--interval_ms=100", "--metrics_address=127.0.0.1:0"},
                       server.root().Join("indexer.log"));
  const std::string indexer_metrics = indexer.WaitForLine("quarry-indexer metrics on ");
  Prometheus prometheus(server.root(), server->metrics_address(), indexer_metrics);
  INFO("--- prometheus log ---\n" << prometheus.Log() << "\n--- indexer log ---\n"
                                  << indexer.Log());

  CHECK(Eventually([&] { return prometheus.Query(R"(up{job="quarry-server"})") == 1; }));
  CHECK(Eventually([&] { return prometheus.Query(R"(up{job="quarry-indexer"})") == 1; }));
  CHECK(Eventually([&] {
    return prometheus.Query(
               R"(quarry_rpc_requests_total{job="quarry-server",method="Search",code="OK"})") == 3;
  }));
  CHECK(Eventually([&] {
    return prometheus.Query(R"(quarry_collection_documents{collection="docs"})") == 5;
  }));
  // The indexer turns the log into a shard: it reports the build, and the lag drops to 0.
  CHECK(Eventually([&] {
    return prometheus.Query(
               R"(quarry_indexer_shards_built_total{collection="docs",source="log"})") == 1;
  }));
  CHECK(Eventually([&] {
    return prometheus.Query(R"(quarry_indexer_chunks_indexed_total{collection="docs"})") == 5;
  }));
  CHECK(Eventually([&] {
    return prometheus.Query(R"(quarry_indexer_log_bytes_behind{collection="docs"})") == 0;
  }));
  CHECK(Eventually([&] {
    return prometheus.Query(R"(quarry_indexer_vectors_per_second{collection="docs"} > 0)")
        .has_value();
  }));
  // The server swaps the shard in and reports it.
  CHECK(Eventually([&] {
    return prometheus.Query(R"(quarry_collection_shards{collection="docs"})") == 1;
  }));
  CHECK(Eventually([&] {
    return prometheus.Query(R"(process_resident_memory_bytes{job="quarry-indexer"} > 0)")
        .has_value();
  }));
}

// The metric family names (# TYPE lines) in a /metrics text.
std::set<std::string> Families(const std::string& text) {
  std::set<std::string> names;
  std::istringstream lines(text);
  for (std::string line; std::getline(lines, line);) {
    if (line.rfind("# TYPE ", 0) == 0) names.insert(line.substr(7, line.find(' ', 7) - 7));
  }
  return names;
}

TEST_CASE("metrics: every series the Grafana dashboard queries is exported") {
  // An LLM that refuses connections: Generate fails, but the LLM series and breaker appear.
  // The fake model server embeds the documents of an embedder=openai collection.
  FakeLlmServer fake;
  fake.set_embedding_dimension(16);
  TestServer server({"--llm_base_url=http://127.0.0.1:1/v1", "--llm_model=m",
                     "--embedder_base_url=" + fake.base_url(), "--embedder_model=fake-embed"});
  CreateAndFill(server.process(), 2);
  Client client(server.process());
  v1::CollectionSpec openai;
  openai.set_dimension(16);
  openai.mutable_embedder()->set_kind(v1::EMBEDDER_KIND_OPENAI);
  REQUIRE(client.CreateCollection("embedded", openai).ok());
  REQUIRE(client.Ingest("embedded", {Doc("a", "Embedded through the endpoint")}).ok());
  REQUIRE(client.Search(TextQuery("docs", "retrieval")).ok());
  {
    grpc::ClientContext context;
    SetDeadline(context);
    v1::GenerateRequest request;
    request.set_collection("docs");
    request.set_question("What scrapes metrics?");
    auto reader = v1::GenerationService::NewStub(server->channel())->Generate(&context, request);
    v1::GenerateResponse response;
    while (reader->Read(&response)) {
    }
    CHECK(reader->Finish().error_code() == grpc::StatusCode::UNAVAILABLE);
  }
  ChildProcess indexer({QUARRY_INDEXER_BINARY, "watch", "--data_dir=" + server.data_dir(),
                        "--interval_ms=100", "--metrics_address=127.0.0.1:0"},
                       server.root().Join("indexer.log"));
  const std::string indexer_address = indexer.WaitForLine("quarry-indexer metrics on ");
  std::string indexer_text;
  REQUIRE(Eventually([&] {
    indexer_text = HttpGet(indexer_address, "/metrics");
    return Sample(indexer_text, "quarry_indexer_shards_built_total").has_value();
  }));
  std::set<std::string> exported = Families(HttpGet(server->metrics_address(), "/metrics"));
  exported.merge(Families(indexer_text));
  // Series that need what this test cannot provide: a full size tier of shards to merge, a
  // failing indexer pass.
  for (const char* rare : {"quarry_indexer_merges_total", "quarry_indexer_errors_total"}) {
    exported.insert(rare);
  }

  std::ifstream in(std::string(QUARRY_SOURCE_DIR) + "/deploy/grafana/dashboards/quarry.json");
  const nlohmann::json dashboard = nlohmann::json::parse(in);
  const std::regex metric_name(R"(\b((quarry|process)_[a-z_]+))");
  int queried = 0;
  for (const nlohmann::json& panel : dashboard["panels"]) {
    for (const nlohmann::json& target : panel.value("targets", nlohmann::json::array())) {
      const std::string expr = target["expr"];
      for (std::sregex_iterator it(expr.begin(), expr.end(), metric_name), end; it != end; ++it) {
        std::string name = (*it)[1];
        for (const char* suffix : {"_bucket", "_count", "_sum"}) {
          const std::string base = name.substr(0, name.size() - std::strlen(suffix));
          if (name.ends_with(suffix) && exported.contains(base)) name = base;
        }
        INFO("panel '" << panel["title"].get<std::string>() << "' queries " << name);
        CHECK(exported.contains(name));
        ++queried;
      }
    }
  }
  CHECK(queried > 30);
}

}  // namespace
}  // namespace quarry::testing
