// `quarry bench`: load scenarios against a running server (asynchronous gRPC, many calls in
// flight, fixed concurrency or fixed rate) reporting QPS, latency percentiles and recall@k
// against exact ground truth, and the in-process FAISS baseline those figures are divided by.
// See kBenchUsage in bench_command.cc, and bench/run_*.sh for the scripted figures.
#ifndef QUARRY_CLIENT_BENCH_COMMAND_H_
#define QUARRY_CLIENT_BENCH_COMMAND_H_

namespace quarry::bench {

// argv[0] is "quarry", argv[1] "bench". Returns the process exit status (0 ok, 1 error,
// 2 usage error).
int RunBenchCommand(int argc, char** argv);

}  // namespace quarry::bench

#endif  // QUARRY_CLIENT_BENCH_COMMAND_H_
