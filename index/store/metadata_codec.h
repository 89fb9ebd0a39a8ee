// The binary encoding of a document's metadata, shared by the ingest log's records and the
// shards' chunk store (so both stay byte-compatible and are decoded with the same checks):
//   varint count, then per entry in key order: string key, u8 kind (0 string, 1 number,
//   2 bool — the indexes of MetadataValue's alternatives), value (string; f64; u8 0/1).
#ifndef QUARRY_INDEX_STORE_METADATA_CODEC_H_
#define QUARRY_INDEX_STORE_METADATA_CODEC_H_

#include "absl/status/status.h"
#include "index/document.h"
#include "index/store/binary_codec.h"

namespace quarry {

void PutMetadata(const Metadata& metadata, binary_codec::ByteWriter& out);

// DATA_LOSS (through `in`'s context) for truncation, an unknown kind, a bool byte above 1, or
// keys out of order or repeated (an encoder writes a std::map, so only corruption does that).
absl::Status ReadMetadata(binary_codec::ByteReader& in, Metadata* metadata);

}  // namespace quarry

#endif  // QUARRY_INDEX_STORE_METADATA_CODEC_H_
