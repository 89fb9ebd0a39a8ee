// The embeddings-endpoint flags shared by quarry-server (ingest and query embedding) and
// quarry-indexer (bulk builds): --embedder_base_url, --embedder_api_key, --embedder_model,
// --embedder_batch_size, --embedder_timeout_seconds, each with its QUARRY_* environment
// equivalent (environment_flags.h). Defined once so both binaries take the same settings.
#ifndef QUARRY_INDEX_EMBEDDER_FLAGS_H_
#define QUARRY_INDEX_EMBEDDER_FLAGS_H_

#include "index/embed/openai_embedder.h"

namespace quarry {

// The endpoint the flags describe (base_url empty when none is configured).
OpenAiEmbeddingsEndpoint EmbeddingsEndpointFromFlags();

}  // namespace quarry

#endif  // QUARRY_INDEX_EMBEDDER_FLAGS_H_
