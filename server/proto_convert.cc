#include "server/proto_convert.h"

#include <utility>

#include "absl/strings/str_cat.h"

namespace quarry::server {
namespace {

absl::StatusOr<MetadataValue> MetadataValueFromProto(const v1::MetadataValue& value,
                                                     absl::string_view field) {
  switch (value.kind_case()) {
    case v1::MetadataValue::kStringValue:
      return MetadataValue(value.string_value());
    case v1::MetadataValue::kNumberValue:
      return MetadataValue(value.number_value());
    case v1::MetadataValue::kBoolValue:
      return MetadataValue(value.bool_value());
    case v1::MetadataValue::KIND_NOT_SET:
      break;
  }
  return absl::InvalidArgumentError(absl::StrCat(field, ": value has no kind set"));
}

v1::MetadataValue MetadataValueToProto(const MetadataValue& value) {
  v1::MetadataValue out;
  if (const auto* text = std::get_if<std::string>(&value)) {
    out.set_string_value(*text);
  } else if (const auto* number = std::get_if<double>(&value)) {
    out.set_number_value(*number);
  } else {
    out.set_bool_value(std::get<bool>(value));
  }
  return out;
}

void MetadataToProto(const Metadata& metadata,
                     google::protobuf::Map<std::string, v1::MetadataValue>& out) {
  for (const auto& [key, value] : metadata) out[key] = MetadataValueToProto(value);
}

}  // namespace

absl::StatusOr<CollectionConfig> ConfigFromProto(const std::string& name,
                                                 const v1::CollectionSpec& spec) {
  CollectionConfig config;
  config.name = name;
  config.dimension = spec.dimension();
  switch (spec.embedder().kind()) {
    case v1::EMBEDDER_KIND_UNSPECIFIED:
    case v1::EMBEDDER_KIND_BUILTIN:
      config.embedder = EmbedderKind::kBuiltin;
      break;
    case v1::EMBEDDER_KIND_OPENAI:
      config.embedder = EmbedderKind::kOpenAi;
      break;
    case v1::EMBEDDER_KIND_NONE:
      config.embedder = EmbedderKind::kNone;
      break;
    default:
      return absl::InvalidArgumentError("spec.embedder.kind is not a known embedder");
  }
  config.embedder_model = spec.embedder().model();
  config.index_spec = spec.index_spec();
  switch (spec.metric()) {
    case v1::METRIC_UNSPECIFIED:
    case v1::METRIC_INNER_PRODUCT:
      config.metric = Metric::kInnerProduct;
      break;
    case v1::METRIC_L2:
      config.metric = Metric::kL2;
      break;
    default:
      return absl::InvalidArgumentError("spec.metric is not a known metric");
  }
  if (spec.chunking().target_tokens() != 0) {
    config.chunking.target_tokens = spec.chunking().target_tokens();
  }
  if (spec.chunking().overlap_tokens() != 0) {
    config.chunking.overlap_tokens = spec.chunking().overlap_tokens();
  }
  config.system_template = spec.prompt_templates().system();
  config.user_template = spec.prompt_templates().user();
  return config;
}

v1::Collection CollectionToProto(const CollectionConfig& config,
                                 const CollectionStatistics& statistics) {
  v1::Collection out;
  out.set_name(config.name);
  out.set_create_time_unix(config.create_time_unix);
  v1::CollectionSpec& spec = *out.mutable_spec();
  spec.set_dimension(config.dimension);
  switch (config.embedder) {
    case EmbedderKind::kBuiltin:
      spec.mutable_embedder()->set_kind(v1::EMBEDDER_KIND_BUILTIN);
      break;
    case EmbedderKind::kOpenAi:
      spec.mutable_embedder()->set_kind(v1::EMBEDDER_KIND_OPENAI);
      break;
    case EmbedderKind::kNone:
      spec.mutable_embedder()->set_kind(v1::EMBEDDER_KIND_NONE);
      break;
  }
  spec.mutable_embedder()->set_model(config.embedder_model);
  spec.set_index_spec(config.index_spec);
  spec.set_metric(config.metric == Metric::kL2 ? v1::METRIC_L2 : v1::METRIC_INNER_PRODUCT);
  spec.mutable_chunking()->set_target_tokens(config.chunking.target_tokens);
  spec.mutable_chunking()->set_overlap_tokens(config.chunking.overlap_tokens);
  spec.mutable_prompt_templates()->set_system(config.system_template);
  spec.mutable_prompt_templates()->set_user(config.user_template);
  v1::CollectionStats& stats = *out.mutable_stats();
  stats.set_documents(statistics.documents);
  stats.set_chunks(statistics.chunks);
  stats.set_text_bytes(statistics.text_bytes);
  stats.set_disk_bytes(statistics.disk_bytes);
  stats.set_shards(statistics.shards);
  stats.set_generation(static_cast<int64_t>(statistics.generation));
  stats.set_fresh_chunks(statistics.fresh_chunks);
  return out;
}

absl::StatusOr<Document> DocumentFromProto(v1::Document document, absl::string_view field) {
  Document out;
  out.id = std::move(*document.mutable_id());
  out.title = std::move(*document.mutable_title());
  out.text = std::move(*document.mutable_text());
  for (const auto& [key, value] : document.metadata()) {
    absl::StatusOr<MetadataValue> converted =
        MetadataValueFromProto(value, absl::StrCat(field, ".metadata['", key, "']"));
    if (!converted.ok()) return converted.status();
    out.metadata.emplace(key, *std::move(converted));
  }
  out.vector.assign(document.vector().begin(), document.vector().end());
  return out;
}

v1::Document StoredDocumentToProto(const StoredDocument& document) {
  v1::Document out;
  out.set_id(document.id);
  out.set_title(document.title);
  out.set_text(document.text);
  MetadataToProto(document.metadata, *out.mutable_metadata());
  return out;
}

absl::StatusOr<Filter> FilterFromProto(const v1::Filter& filter, absl::string_view path) {
  Filter out;
  auto convert_values = [&](const auto& values, absl::string_view clause) -> absl::Status {
    for (int i = 0; i < values.size(); ++i) {
      absl::StatusOr<MetadataValue> value =
          MetadataValueFromProto(values[i], absl::StrCat(path, ".", clause, ".values[", i, "]"));
      if (!value.ok()) return value.status();
      out.values.push_back(*std::move(value));
    }
    return absl::OkStatus();
  };
  auto convert_children = [&](const v1::FilterList& list,
                              absl::string_view clause) -> absl::Status {
    for (int i = 0; i < list.filters_size(); ++i) {
      absl::StatusOr<Filter> child =
          FilterFromProto(list.filters(i), absl::StrCat(path, ".", clause, "[", i, "]"));
      if (!child.ok()) return child.status();
      out.children.push_back(*std::move(child));
    }
    return absl::OkStatus();
  };
  switch (filter.clause_case()) {
    case v1::Filter::kEquals: {
      out.kind = Filter::Kind::kEquals;
      out.field = filter.equals().field();
      absl::StatusOr<MetadataValue> value =
          MetadataValueFromProto(filter.equals().value(), absl::StrCat(path, ".equals.value"));
      if (!value.ok()) return value.status();
      out.values.push_back(*std::move(value));
      return out;
    }
    case v1::Filter::kIn:
      out.kind = Filter::Kind::kIn;
      out.field = filter.in().field();
      if (absl::Status status = convert_values(filter.in().values(), "in"); !status.ok()) {
        return status;
      }
      return out;
    case v1::Filter::kRange: {
      out.kind = Filter::Kind::kRange;
      const v1::FieldRange& range = filter.range();
      out.field = range.field();
      if (range.has_gt()) out.gt = range.gt();
      if (range.has_gte()) out.gte = range.gte();
      if (range.has_lt()) out.lt = range.lt();
      if (range.has_lte()) out.lte = range.lte();
      return out;
    }
    case v1::Filter::kAll:
      out.kind = Filter::Kind::kAll;
      if (absl::Status status = convert_children(filter.all(), "all"); !status.ok()) {
        return status;
      }
      return out;
    case v1::Filter::kAny:
      out.kind = Filter::Kind::kAny;
      if (absl::Status status = convert_children(filter.any(), "any"); !status.ok()) {
        return status;
      }
      return out;
    case v1::Filter::kNot: {
      out.kind = Filter::Kind::kNot;
      absl::StatusOr<Filter> child = FilterFromProto(filter.not_(), absl::StrCat(path, ".not"));
      if (!child.ok()) return child.status();
      out.children.push_back(*std::move(child));
      return out;
    }
    case v1::Filter::CLAUSE_NOT_SET:
      break;
  }
  return absl::InvalidArgumentError(absl::StrCat(path, ": no clause set"));
}

absl::Status ApplyRetrievalOptions(const v1::RetrievalOptions& options, SearchQuery& query) {
  query.top_k = options.top_k() == 0 ? 10 : options.top_k();
  if (options.has_filter()) {
    absl::StatusOr<Filter> filter = FilterFromProto(options.filter());
    if (!filter.ok()) return filter.status();
    query.filter = *std::move(filter);
  }
  switch (options.mode()) {
    case v1::SEARCH_MODE_UNSPECIFIED:
      query.mode = SearchMode::kDefault;
      break;
    case v1::SEARCH_MODE_DENSE:
      query.mode = SearchMode::kDense;
      break;
    case v1::SEARCH_MODE_LEXICAL:
      query.mode = SearchMode::kLexical;
      break;
    case v1::SEARCH_MODE_HYBRID:
      query.mode = SearchMode::kHybrid;
      break;
    default:
      return absl::InvalidArgumentError("options.mode is not a known search mode");
  }
  const v1::HybridOptions& hybrid = options.hybrid();
  switch (hybrid.fusion()) {
    case v1::FUSION_METHOD_UNSPECIFIED:
      break;  // the core's default
    case v1::FUSION_METHOD_RRF:
      query.fusion = FusionMethod::kReciprocalRank;
      break;
    case v1::FUSION_METHOD_WEIGHTED:
      query.fusion = FusionMethod::kWeighted;
      break;
    default:
      return absl::InvalidArgumentError("options.hybrid.fusion is not a known fusion method");
  }
  if (hybrid.rrf_k() != 0) query.rrf_k = hybrid.rrf_k();
  if (hybrid.has_dense_weight()) query.dense_weight = hybrid.dense_weight();
  query.candidates = hybrid.candidates();
  query.mmr_lambda = options.diversity().mmr_lambda();
  query.max_chunks_per_document = options.diversity().max_chunks_per_document();
  if (options.has_min_score()) query.min_score = options.min_score();
  if (options.has_bm25_k1()) query.bm25.k1 = options.bm25_k1();
  if (options.has_bm25_b()) query.bm25.b = options.bm25_b();
  if (options.has_feedback_documents()) query.feedback_documents = options.feedback_documents();
  if (options.has_feedback_terms()) query.feedback.terms = options.feedback_terms();
  if (options.has_feedback_original_weight()) {
    query.feedback.original_weight = options.feedback_original_weight();
  }
  query.ef_search = options.ef_search();
  query.nprobe = options.nprobe();
  return absl::OkStatus();
}

v1::SearchMode SearchModeToProto(SearchMode mode) {
  switch (mode) {
    case SearchMode::kDense:
      return v1::SEARCH_MODE_DENSE;
    case SearchMode::kLexical:
      return v1::SEARCH_MODE_LEXICAL;
    case SearchMode::kHybrid:
      return v1::SEARCH_MODE_HYBRID;
    case SearchMode::kDefault:
      break;
  }
  return v1::SEARCH_MODE_UNSPECIFIED;
}

void HitToProto(const Hit& hit, bool include_text, v1::SearchHit& out) {
  out.set_chunk_id(hit.chunk_id);
  out.set_document_id(hit.document_id);
  out.set_score(hit.score);
  if (include_text) out.set_text(hit.text);
  out.set_title(hit.title);
  MetadataToProto(hit.metadata, *out.mutable_metadata());
  out.set_chunk_index(hit.chunk_index);
  out.set_start_offset(static_cast<int32_t>(hit.start));
  out.set_end_offset(static_cast<int32_t>(hit.end));
  if (hit.dense_score.has_value()) out.set_dense_score(*hit.dense_score);
  if (hit.lexical_score.has_value()) out.set_lexical_score(*hit.lexical_score);
}

}  // namespace quarry::server
