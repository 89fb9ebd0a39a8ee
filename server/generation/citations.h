// Finds the citation markers in a finished answer and maps them to the numbered sources.
// Accepted markers: "[2]", "[1, 3]", "[1][3]", "[1; 3]", "[2-4]" / "[2–4]" (a range),
// and "[Source 2]" / "[source 2, 3]", since models write all of these even when asked for [n].
// Numbers that name no source are ignored; a marker naming none of the sources yields nothing.
#ifndef QUARRY_SERVER_GENERATION_CITATIONS_H_
#define QUARRY_SERVER_GENERATION_CITATIONS_H_

#include <span>
#include <string_view>
#include <vector>

#include "server/generation/source.h"

namespace quarry::generation {

// Citations in answer order; within one marker, in the order the numbers are written, each
// source once. Offsets are those of the whole marker.
std::vector<Citation> ExtractCitations(std::string_view answer, std::span<const Source> sources);

}  // namespace quarry::generation

#endif  // QUARRY_SERVER_GENERATION_CITATIONS_H_
