// The vocabulary shared by prompt building, extractive answers and the service: numbered
// sources (the retrieved chunks placed in front of the model) and citations (the "[n]"
// markers of an answer mapped back to those sources). Plain structs, no protobuf: the
// service translates them at its edge.
#ifndef QUARRY_SERVER_GENERATION_SOURCE_H_
#define QUARRY_SERVER_GENERATION_SOURCE_H_

#include <cstdint>
#include <string>

#include "index/collection.h"

namespace quarry::generation {

// One retrieved chunk as shown to the model, numbered from 1 in prompt order.
struct Source {
  int number = 0;
  std::string chunk_id;
  std::string document_id;
  std::string title;
  std::string text;
  float score = 0;
};

// A marker in an answer that cites `source_number`; [start, end) are the UTF-8 byte offsets
// of the whole marker ("[2]" or "[1, 3]": a marker naming two sources gives two citations
// with the same offsets).
struct Citation {
  int source_number = 0;
  std::string chunk_id;
  uint32_t start = 0;
  uint32_t end = 0;

  friend bool operator==(const Citation&, const Citation&) = default;
};

inline Source SourceFromHit(const Hit& hit, int number) {
  return Source{.number = number,
                .chunk_id = hit.chunk_id,
                .document_id = hit.document_id,
                .title = hit.title,
                .text = hit.text,
                .score = hit.score};
}

}  // namespace quarry::generation

#endif  // QUARRY_SERVER_GENERATION_SOURCE_H_
