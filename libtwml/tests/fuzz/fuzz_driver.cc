#include "libtwml/tests/fuzz/fuzz_driver.h"

#include <csignal>
#include <string.h>  // strsignal
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <fstream>
#include <new>
#include <sstream>
#include <string>
#include <vector>

#include "twml/error.h"

#if defined(__SANITIZE_ADDRESS__)
#define TWML_FUZZ_SANITIZED 1
#endif

namespace {

constexpr size_t kMaxAllocation = size_t{256} << 20;
constexpr unsigned kHangSeconds = 30;
constexpr size_t kMaxPool = 2000;

// What the crash reporters print: the input being run.
const std::string* g_current_input = nullptr;
long long g_current_iteration = -1;

void WriteHex(const std::string& bytes) {
  static const char kDigits[] = "0123456789abcdef";
  std::string line;
  for (size_t i = 0; i < bytes.size(); ++i) {
    line += kDigits[static_cast<uint8_t>(bytes[i]) >> 4];
    line += kDigits[static_cast<uint8_t>(bytes[i]) & 15];
    if (i % 32 == 31 || i + 1 == bytes.size()) {
      line += '\n';
      std::fputs(line.c_str(), stderr);
      line.clear();
    }
  }
}

void ReportCurrentInput(const char* what) {
  std::fprintf(stderr, "fuzz_driver: %s at iteration %lld (-1: a seed or file)\n", what,
               g_current_iteration);
  if (g_current_input != nullptr) {
    std::fprintf(stderr, "fuzz_driver: input of %zu bytes:\n", g_current_input->size());
    WriteHex(*g_current_input);
  }
  std::fflush(stderr);
}

void OnHang(int) {
  // Only async-signal-safe calls: the input may be in the middle of anything.
  static const char kMessage[] = "fuzz_driver: an input ran for more than 30 s (hang)\n";
  (void)!write(2, kMessage, sizeof(kMessage) - 1);
  _exit(1);
}

void OnFatalSignal(int signal_number) {
  ReportCurrentInput(strsignal(signal_number));
  std::signal(signal_number, SIG_DFL);
  std::raise(signal_number);
}

// splitmix64: tiny, fast and the same on every platform (std distributions are not).
class Random {
 public:
  explicit Random(uint64_t seed) : state_(seed) {}
  uint64_t Next() {
    uint64_t z = (state_ += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }
  // Uniform in [0, bound), bound > 0.
  size_t Below(size_t bound) { return static_cast<size_t>(Next() % bound); }

 private:
  uint64_t state_;
};

// Values that break length arithmetic: sign bits, maxima, just over format limits.
constexpr uint32_t kInteresting32[] = {0,          1,          0x7f,       0x80,
                                       0xff,       0x100,      0xffff,     0x10000,
                                       0x3ffffff,  0x4000000,  0x4000001,  0x7ffffffe,
                                       0x7fffffff, 0x80000000, 0xfffffffe, 0xffffffff};

void Overwrite32(std::string* data, size_t pos, uint32_t value, bool big_endian) {
  for (int i = 0; i < 4 && pos + i < data->size(); ++i) {
    const int shift = big_endian ? 8 * (3 - i) : 8 * i;
    (*data)[pos + i] = static_cast<char>((value >> shift) & 0xff);
  }
}

void MutateOnce(std::string* data, const std::vector<std::string>& pool, Random* random) {
  const size_t size = data->size();
  switch (random->Below(12)) {
    case 0:  // flip a bit
      if (size > 0) (*data)[random->Below(size)] ^= static_cast<char>(1 << random->Below(8));
      break;
    case 1:  // a random byte
      if (size > 0) (*data)[random->Below(size)] = static_cast<char>(random->Next());
      break;
    case 2: {  // an interesting byte
      static const uint8_t kBytes[] = {0x00, 0x01, 0x7f, 0x80, 0xff, 0xfe};
      if (size > 0) (*data)[random->Below(size)] = static_cast<char>(kBytes[random->Below(6)]);
      break;
    }
    case 3: {  // a small change, e.g. to a length
      if (size > 0) {
        const size_t pos = random->Below(size);
        (*data)[pos] = static_cast<char>((*data)[pos] + static_cast<int>(random->Below(9)) - 4);
      }
      break;
    }
    case 4: {  // insert random bytes
      std::string bytes(1 + random->Below(8), '\0');
      for (char& c : bytes) c = static_cast<char>(random->Next());
      data->insert(random->Below(size + 1), bytes);
      break;
    }
    case 5:  // delete a range
      if (size > 0) {
        const size_t pos = random->Below(size);
        data->erase(pos, 1 + random->Below(std::min<size_t>(size - pos, 16)));
      }
      break;
    case 6:  // truncate
      data->resize(random->Below(size + 1));
      break;
    case 7:  // duplicate a range somewhere else
      if (size > 0) {
        const size_t from = random->Below(size);
        const std::string piece = data->substr(from, 1 + random->Below(std::min<size_t>(size - from, 64)));
        data->insert(random->Below(size + 1), piece);
      }
      break;
    case 8: {  // splice: a prefix of this input, a suffix of another
      const std::string& other = pool[random->Below(pool.size())];
      const size_t cut = random->Below(size + 1);
      const size_t other_cut = random->Below(other.size() + 1);
      *data = data->substr(0, cut) + other.substr(other_cut);
      break;
    }
    case 9:  // a huge or boundary 32-bit value, either byte order
      if (size > 0) {
        Overwrite32(data, random->Below(size), kInteresting32[random->Below(16)],
                    random->Below(2) == 0);
      }
      break;
    case 10: {  // an overlong or maximal varint
      std::string varint(9 + random->Below(3), '\xff');
      if (random->Below(2) == 0) varint.back() = '\x01';
      data->insert(random->Below(size + 1), varint);
      break;
    }
    case 11: {  // insert a piece of another input (markers, headers, tags)
      const std::string& other = pool[random->Below(pool.size())];
      if (!other.empty()) {
        const size_t from = random->Below(other.size());
        data->insert(random->Below(size + 1),
                     other.substr(from, 1 + random->Below(std::min<size_t>(other.size() - from, 32))));
      }
      break;
    }
  }
}

enum class Outcome { kAccepted, kRejected };

Outcome RunOne(const std::string& input) {
  g_current_input = &input;
  int result;
  try {
    result = LLVMFuzzerTestOneInput(reinterpret_cast<const uint8_t*>(input.data()), input.size());
  } catch (const twml::Error&) {
    result = -1;  // the expected way to refuse bad input
  } catch (const std::exception& error) {
    ReportCurrentInput((std::string("unexpected exception: ") + error.what()).c_str());
    std::exit(1);
  } catch (...) {
    ReportCurrentInput("unexpected exception of an unknown type");
    std::exit(1);
  }
  g_current_input = nullptr;
  return result == 0 ? Outcome::kAccepted : Outcome::kRejected;
}

bool ParseFlag(const char* arg, const char* name, long long* value) {
  const size_t length = std::strlen(name);
  if (std::strncmp(arg, name, length) != 0 || arg[length] != '=') return false;
  *value = std::atoll(arg + length + 1);
  return true;
}

}  // namespace

#ifdef TWML_FUZZ_SANITIZED
// Sanitizer reports end in abort(), so that the SIGABRT handler prints the input (GCC links
// ASan and UBSan as separate runtimes; this works for both). A single allocation of more than
// 256 MiB from inputs of a few KiB is a missing bound: fail on it.
extern "C" const char* __asan_default_options() {
  return "abort_on_error=1:allocator_may_return_null=0:max_allocation_size_mb=256";
}
extern "C" const char* __ubsan_default_options() {
  return "abort_on_error=1:print_stacktrace=1";
}
#else
// Without a sanitizer, the same check on operator new.
void* operator new(size_t size) {
  if (size > kMaxAllocation) {
    ReportCurrentInput(("allocation of " + std::to_string(size) + " bytes").c_str());
    std::abort();
  }
  if (void* memory = std::malloc(size == 0 ? 1 : size)) return memory;
  throw std::bad_alloc();
}
void* operator new[](size_t size) { return operator new(size); }
void operator delete(void* memory) noexcept { std::free(memory); }
void operator delete[](void* memory) noexcept { std::free(memory); }
void operator delete(void* memory, size_t) noexcept { std::free(memory); }
void operator delete[](void* memory, size_t) noexcept { std::free(memory); }
#endif

int main(int argc, char** argv) {
  long long iterations = 200000, seed = 1, max_len = 4096, only = -1;
  std::vector<std::string> files;
  for (int i = 1; i < argc; ++i) {
    if (ParseFlag(argv[i], "--iterations", &iterations) || ParseFlag(argv[i], "--seed", &seed) ||
        ParseFlag(argv[i], "--max_len", &max_len) || ParseFlag(argv[i], "--only", &only)) {
      continue;
    }
    if (argv[i][0] == '-') {
      std::fprintf(stderr, "fuzz_driver: unknown flag %s\n", argv[i]);
      return 2;
    }
    files.push_back(argv[i]);
  }

#ifndef TWML_FUZZ_SANITIZED
  // Under ASan, its own handlers report these and then abort.
  std::signal(SIGSEGV, &OnFatalSignal);
  std::signal(SIGBUS, &OnFatalSignal);
  std::signal(SIGFPE, &OnFatalSignal);
#endif
  std::signal(SIGABRT, &OnFatalSignal);
  std::signal(SIGALRM, &OnHang);

  if (!files.empty()) {
    for (const std::string& file : files) {
      std::ifstream in(file, std::ios::binary);
      std::stringstream content;
      content << in.rdbuf();
      alarm(kHangSeconds);
      const Outcome outcome = RunOne(content.str());
      std::printf("%s: %s\n", file.c_str(),
                  outcome == Outcome::kAccepted ? "accepted" : "rejected");
    }
    return 0;
  }

  const auto start = std::chrono::steady_clock::now();
  std::vector<std::string> pool = FuzzSeedCorpus();
  if (pool.empty()) pool.push_back("");
  const size_t seeds = pool.size();
  long long accepted = 0;
  alarm(kHangSeconds);
  for (const std::string& input : pool) {
    if (RunOne(input) == Outcome::kAccepted) ++accepted;
  }

  Random random(static_cast<uint64_t>(seed));
  long long rejected = 0;
  for (long long iteration = 0; iteration < iterations; ++iteration) {
    if (iteration % 256 == 0) alarm(kHangSeconds);
    std::string input = pool[random.Below(pool.size())];
    const size_t mutations = 1 + random.Below(4);
    for (size_t m = 0; m < mutations; ++m) MutateOnce(&input, pool, &random);
    if (input.size() > static_cast<size_t>(max_len)) input.resize(static_cast<size_t>(max_len));
    // Earlier iterations still run under --only: the pool, and so the input, depends on them.
    g_current_iteration = iteration;
    if (iteration == only) {
      std::fprintf(stderr, "fuzz_driver: iteration %lld, input of %zu bytes:\n", only,
                   input.size());
      WriteHex(input);
    }
    if (RunOne(input) == Outcome::kAccepted) {
      ++accepted;
      // Accepted inputs are the starting points that get furthest into the format.
      if (pool.size() < kMaxPool) {
        pool.push_back(std::move(input));
      } else if (seeds < kMaxPool) {
        pool[seeds + random.Below(kMaxPool - seeds)] = std::move(input);
      }
    } else {
      ++rejected;
    }
    if (iteration == only) break;
  }
  alarm(0);
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf(
      "fuzz_driver: %zu seeds and %lld mutated inputs (seed %lld) in %.1f s: %lld accepted, "
      "%lld rejected, pool of %zu\n",
      seeds, only >= 0 ? std::min(only + 1, iterations) : iterations, seed, seconds, accepted,
      rejected, pool.size());
  return 0;
}
