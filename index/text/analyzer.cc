#include "index/text/analyzer.h"

#include <libstemmer.h>

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "index/text/normalize.h"

namespace quarry::text {
namespace {

// Stemmers idle in the pool beyond this are freed; more can exist while many threads analyze.
constexpr size_t kMaxPooledStemmers = 16;

// Snowball's English rules only act on ASCII letters and leave words of one or two letters
// alone, so numbers (kept as written) and words in other scripts skip the stemmer call.
bool NeedsStemming(std::string_view word) {
  if (word.size() < 3) return false;
  for (char c : word) {
    if (c >= 'a' && c <= 'z') return true;
  }
  return false;
}

}  // namespace

// A sb_stemmer keeps per-call state, so each one serves one thread at a time: Terms() borrows
// one from the pool for the whole text and gives it back.
struct Analyzer::Impl {
  ~Impl() {
    for (sb_stemmer* stemmer : pool) sb_stemmer_delete(stemmer);
  }

  // Null only if libstemmer cannot allocate; the caller then leaves words unstemmed.
  sb_stemmer* Acquire() {
    {
      absl::MutexLock lock(&mu);
      if (!pool.empty()) {
        sb_stemmer* stemmer = pool.back();
        pool.pop_back();
        return stemmer;
      }
    }
    return sb_stemmer_new("english", "UTF_8");
  }

  void Release(sb_stemmer* stemmer) {
    if (stemmer == nullptr) return;
    {
      absl::MutexLock lock(&mu);
      if (pool.size() < kMaxPooledStemmers) {
        pool.push_back(stemmer);
        return;
      }
    }
    sb_stemmer_delete(stemmer);
  }

  // Borrows a stemmer on first use, so texts with nothing to stem never touch the mutex.
  class Lease {
   public:
    explicit Lease(Impl* impl) : impl_(impl) {}
    ~Lease() {
      if (acquired_) impl_->Release(stemmer_);
    }
    Lease(const Lease&) = delete;
    Lease& operator=(const Lease&) = delete;

    sb_stemmer* get() {
      if (!acquired_) {
        stemmer_ = impl_->Acquire();
        acquired_ = true;
      }
      return stemmer_;
    }

   private:
    Impl* impl_;
    sb_stemmer* stemmer_ = nullptr;
    bool acquired_ = false;
  };

  absl::Mutex mu;
  std::vector<sb_stemmer*> pool ABSL_GUARDED_BY(mu);
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
    sb_stemmer* const stemmer = lease.get();
    const sb_symbol* stem =
        stemmer == nullptr
            ? nullptr
            : sb_stemmer_stem(stemmer, reinterpret_cast<const sb_symbol*>(folded.data()),
                              static_cast<int>(folded.size()));
    if (stem == nullptr) {
      terms.emplace_back(folded);
    } else {
      terms.emplace_back(reinterpret_cast<const char*>(stem), sb_stemmer_length(stemmer));
    }
  });
  return terms;
}

}  // namespace quarry::text
