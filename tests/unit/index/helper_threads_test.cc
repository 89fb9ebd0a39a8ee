#include "index/helper_threads.h"

#include <atomic>
#include <catch2/catch.hpp>
#include <thread>
#include <vector>

#include "absl/synchronization/notification.h"
#include "absl/time/time.h"

namespace quarry {
namespace {

// Generous: only reached if the code under test is broken.
constexpr absl::Duration kBrokenAfter = absl::Seconds(30);

TEST_CASE("Without helpers both pieces run on the caller, first then second", "[helpers]") {
  HelperThreads helpers(0);
  std::vector<int> order;
  std::thread::id second_thread;
  helpers.RunBoth([&] { order.push_back(1); },
                  [&] {
                    order.push_back(2);
                    second_thread = std::this_thread::get_id();
                  });
  CHECK(order == std::vector<int>{1, 2});
  CHECK(second_thread == std::this_thread::get_id());
}

TEST_CASE("An idle helper runs the second piece while the caller runs the first", "[helpers]") {
  HelperThreads helpers(1);
  absl::Notification second_started;
  bool overlapped = false;
  std::thread::id second_thread;
  helpers.RunBoth(
      // The first piece only finishes early if the second really runs at the same time.
      [&] { overlapped = second_started.WaitForNotificationWithTimeout(kBrokenAfter); },
      [&] {
        second_thread = std::this_thread::get_id();
        second_started.Notify();
      });
  CHECK(overlapped);
  CHECK(second_thread != std::this_thread::get_id());
}

TEST_CASE("With every helper busy the caller runs both pieces itself", "[helpers]") {
  HelperThreads helpers(1);
  absl::Notification helper_busy;
  absl::Notification release_helper;
  std::thread occupant([&] {
    // The helper takes the second piece and holds on to it.
    helpers.RunBoth([] {},
                    [&] {
                      helper_busy.Notify();
                      release_helper.WaitForNotificationWithTimeout(kBrokenAfter);
                    });
  });
  REQUIRE(helper_busy.WaitForNotificationWithTimeout(kBrokenAfter));
  std::thread::id second_thread;
  int ran = 0;
  helpers.RunBoth([&] { ++ran; },
                  [&] {
                    ++ran;
                    second_thread = std::this_thread::get_id();
                  });
  CHECK(ran == 2);
  CHECK(second_thread == std::this_thread::get_id());
  release_helper.Notify();
  occupant.join();
}

TEST_CASE("Concurrent callers each get both pieces run exactly once", "[helpers]") {
  HelperThreads helpers(2);
  std::atomic<int> first_runs{0};
  std::atomic<int> second_runs{0};
  std::atomic<int> returned_early{0};  // Catch2's macros are not for other threads
  std::vector<std::thread> callers;
  for (int caller = 0; caller < 4; ++caller) {
    callers.emplace_back([&] {
      for (int i = 0; i < 500; ++i) {
        int local = 0;
        helpers.RunBoth([&] { ++first_runs; },
                        [&] {
                          ++second_runs;
                          local = 1;  // written by whichever thread ran it, read after RunBoth
                        });
        if (local != 1) ++returned_early;
      }
    });
  }
  for (std::thread& caller : callers) caller.join();
  CHECK(first_runs == 2000);
  CHECK(second_runs == 2000);
  CHECK(returned_early == 0);
}

}  // namespace
}  // namespace quarry
