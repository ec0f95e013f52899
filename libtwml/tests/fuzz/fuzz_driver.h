// A small deterministic fuzzing driver for libFuzzer-style targets, so that the decoders' fuzz
// targets run as ordinary tests (also under ASan/UBSan) without a libFuzzer toolchain.
//
// A fuzz target is a cc_test made of one source file that defines the two functions below and
// depends on //libtwml/tests:fuzz_driver, which provides main(). The same file also builds with
// clang's -fsanitize=fuzzer, which ignores FuzzSeedCorpus (write the seeds to a corpus folder
// instead).
//
// The driver runs every seed, then the requested number of mutated inputs (bit flips, byte
// changes, insertions, deletions, truncation, duplication, splicing of two inputs, length fields
// overwritten with huge values and overlong varints), all from a fixed seed so that every run is
// the same. Inputs the target accepts (returns 0 for) join the pool that later mutations start
// from, which takes mutations past the first checks of a format without coverage feedback.
//
// Rejecting an input is the target's business: it returns -1 (as libFuzzer allows) or lets
// twml::Error escape, which the driver counts as a rejection. Any other exception, a crash, a
// sanitizer report, an allocation of more than 256 MiB or an input that runs for more than 30 s
// fails the test, printing the iteration and the input in hex. Flags:
//   --iterations=N  mutated inputs to run (default 200000)
//   --seed=N        the random seed (default 1)
//   --max_len=N     the longest input made by mutation (default 4096)
//   --only=N        stop after iteration N, printing its input (to reproduce a failure)
//   FILE...         run these files as inputs instead of fuzzing (a libFuzzer crash file)
#ifndef TWML_TESTS_FUZZ_FUZZ_DRIVER_H_
#define TWML_TESTS_FUZZ_FUZZ_DRIVER_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

// The target: returns 0 when it accepted the input, -1 when it rejected it.
extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

// Valid and nearly valid inputs to start from, made with the project's own encoders.
std::vector<std::string> FuzzSeedCorpus();

#endif  // TWML_TESTS_FUZZ_FUZZ_DRIVER_H_
