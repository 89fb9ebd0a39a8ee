// What bounds a call made to an upstream model service on someone's behalf: their deadline
// and their cancellation (a gRPC caller hanging up, the server shutting down).
#ifndef QUARRY_INDEX_REMOTE_CALL_CONTROL_H_
#define QUARRY_INDEX_REMOTE_CALL_CONTROL_H_

#include <functional>

#include "absl/time/time.h"

namespace quarry::remote {

struct CallControl {
  absl::Time deadline = absl::InfiniteFuture();
  // Polled every few milliseconds during the call; true aborts it (null: never cancelled).
  std::function<bool()> cancelled;
};

}  // namespace quarry::remote

#endif  // QUARRY_INDEX_REMOTE_CALL_CONTROL_H_
