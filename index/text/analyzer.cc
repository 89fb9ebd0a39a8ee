#include "index/text/analyzer.h"

#include <libstemmer.h>

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "index/text/normalize.h"

namespace quarry::text {
namespace {

// Stemmers idle in the pool beyond this are freed; more can exist while many threads analyze.
constexpr size_t kMaxPooledStemmers = 16;
// Words each stemmer remembers the stems of. Word frequencies are Zipfian, so a few thousand
// cover most of any text, and a lookup costs a fraction of a Snowball call. When full the
// memory is dropped and refilled (bounded: at most ~1 MB per stemmer).
constexpr size_t kMaxCachedStems = 8192;

// Snowball's English rules only act on ASCII letters and leave words of one or two letters
// alone, so numbers (kept as written) and words in other scripts skip the stemmer call.
bool NeedsStemming(std::string_view word) {
  if (word.size() < 3) return false;
  for (char c : word) {
    if (c >= 'a' && c <= 'z') return true;
  }
  return false;
}

// A Snowball stemmer and the stems it has computed. An sb_stemmer keeps per-call state, so
// each one serves one thread at a time, and its cache needs no lock.
class CachingStemmer {
 public:
  // Null if libstemmer cannot allocate.
  static std::unique_ptr<CachingStemmer> Create() {
    sb_stemmer* stemmer = sb_stemmer_new("english", "UTF_8");
    if (stemmer == nullptr) return nullptr;
    return std::unique_ptr<CachingStemmer>(new CachingStemmer(stemmer));
  }
  ~CachingStemmer() { sb_stemmer_delete(stemmer_); }
  CachingStemmer(const CachingStemmer&) = delete;
  CachingStemmer& operator=(const CachingStemmer&) = delete;

  // Appends the stem of `word` (the word itself if Snowball cannot allocate) to `terms`.
  void AppendStem(std::string_view word, std::vector<std::string>& terms) {
    if (const auto cached = stems_.find(absl::string_view(word.data(), word.size()));
        cached != stems_.end()) {
      terms.push_back(cached->second);
      return;
    }
    const sb_symbol* stem = sb_stemmer_stem(
        stemmer_, reinterpret_cast<const sb_symbol*>(word.data()), static_cast<int>(word.size()));
    if (stem == nullptr) {
      terms.emplace_back(word);
      return;
    }
    terms.emplace_back(reinterpret_cast<const char*>(stem), sb_stemmer_length(stemmer_));
    if (stems_.size() >= kMaxCachedStems) stems_.clear();
    stems_.emplace(std::string(word), terms.back());
  }

 private:
  explicit CachingStemmer(sb_stemmer* stemmer) : stemmer_(stemmer) {}

  sb_stemmer* stemmer_;
  absl::flat_hash_map<std::string, std::string> stems_;
};

}  // namespace

// Terms() borrows a stemmer from the pool for the whole text and gives it back.
struct Analyzer::Impl {
  // Null only if libstemmer cannot allocate; the caller then leaves words unstemmed.
  std::unique_ptr<CachingStemmer> Acquire() {
    {
      absl::MutexLock lock(&mu);
      if (!pool.empty()) {
        std::unique_ptr<CachingStemmer> stemmer = std::move(pool.back());
        pool.pop_back();
        return stemmer;
      }
    }
    return CachingStemmer::Create();
  }

  void Release(std::unique_ptr<CachingStemmer> stemmer) {
    if (stemmer == nullptr) return;
    absl::MutexLock lock(&mu);
    if (pool.size() < kMaxPooledStemmers) pool.push_back(std::move(stemmer));
  }

  // Borrows a stemmer on first use, so texts with nothing to stem never touch the mutex.
  class Lease {
   public:
    explicit Lease(Impl* impl) : impl_(impl) {}
    ~Lease() {
      if (acquired_) impl_->Release(std::move(stemmer_));
    }
    Lease(const Lease&) = delete;
    Lease& operator=(const Lease&) = delete;

    CachingStemmer* get() {
      if (!acquired_) {
        stemmer_ = impl_->Acquire();
        acquired_ = true;
      }
      return stemmer_.get();
    }

   private:
    Impl* impl_;
    std::unique_ptr<CachingStemmer> stemmer_;
    bool acquired_ = false;
  };

  absl::Mutex mu;
  std::vector<std::unique_ptr<CachingStemmer>> pool ABSL_GUARDED_BY(mu);
};

Analyzer::Analyzer() : impl_(std::make_unique<Impl>()) {}
Analyzer::~Analyzer() = default;

std::vector<std::string> Analyzer::Terms(std::string_view text) const {
  std::vector<std::string> terms;
  Impl::Lease lease(impl_.get());
  ForEachContentWord(text, [&](std::string_view folded) {
    if (!NeedsStemming(folded)) {
      terms.emplace_back(folded);
      return;
    }
    CachingStemmer* const stemmer = lease.get();
    if (stemmer == nullptr) {
      terms.emplace_back(folded);
    } else {
      stemmer->AppendStem(folded, terms);
    }
  });
  return terms;
}

}  // namespace quarry::text
