// Counts failed assertions so that TestServer can print the server's log for a failed test.
#define CATCH_CONFIG_EXTERNAL_INTERFACES
#include <catch2/catch.hpp>

#include "tests/integration/server_process.h"

namespace {

struct FailureListener : Catch::TestEventListenerBase {
  using TestEventListenerBase::TestEventListenerBase;

  bool assertionEnded(const Catch::AssertionStats& stats) override {
    if (!stats.assertionResult.isOk()) quarry::testing::RecordFailure();
    return true;
  }
};

}  // namespace

CATCH_REGISTER_LISTENER(FailureListener)
