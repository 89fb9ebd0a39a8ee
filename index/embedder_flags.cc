#include "index/embedder_flags.h"

#include <algorithm>
#include <cstddef>
#include <string>

#include "absl/flags/flag.h"
#include "absl/time/time.h"

ABSL_FLAG(std::string, embedder_base_url, "",
          "OpenAI-compatible embeddings API base, e.g. http://127.0.0.1:8000/v1, for collections "
          "created with embedder=openai (empty: such collections cannot be used)");
ABSL_FLAG(std::string, embedder_api_key, "",
          "Bearer token for the embeddings endpoint (prefer the env var)");
ABSL_FLAG(std::string, embedder_model, "",
          "Embeddings model for collections whose spec names none");
ABSL_FLAG(int, embedder_batch_size, 64, "Most texts sent in one embeddings request");
ABSL_FLAG(int, embedder_timeout_seconds, 60,
          "Upper bound on embedding one batch of documents or a query, retries included");

namespace quarry {

OpenAiEmbeddingsEndpoint EmbeddingsEndpointFromFlags() {
  OpenAiEmbeddingsEndpoint endpoint;
  endpoint.base_url = absl::GetFlag(FLAGS_embedder_base_url);
  endpoint.model = absl::GetFlag(FLAGS_embedder_model);
  endpoint.batch_size = absl::GetFlag(FLAGS_embedder_batch_size);
  endpoint.call_timeout = absl::Seconds(absl::GetFlag(FLAGS_embedder_timeout_seconds));
  endpoint.http.api_key = absl::GetFlag(FLAGS_embedder_api_key);
  endpoint.http.request_timeout = endpoint.call_timeout;
  // Room for a whole batch of the widest vectors (8192 floats of up to ~24 bytes of JSON).
  endpoint.http.max_response_bytes =
      std::max<size_t>(endpoint.http.max_response_bytes,
                       static_cast<size_t>(std::max(1, endpoint.batch_size)) * 8192 * 24);
  return endpoint;
}

}  // namespace quarry
