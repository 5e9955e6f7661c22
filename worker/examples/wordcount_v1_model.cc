// jb-example-model-v1: the word-count model as every exec model was written before exec framing
// v2: it speaks only v1 (docs/exec-framing.md): read a 4-byte little-endian length and that many
// payload bytes, answer with a length and "words=N bytes=M". Kept so that the worker's legacy
// `runtime.framing: 1` stays tested against a model that knows nothing else; new models use
// models/common/exec_model.h (see wordcount_model.cc).
#include <cctype>
#include <cstdint>
#include <cstdio>
#include <string>

namespace {

bool ReadExact(std::FILE* f, char* p, size_t n) { return std::fread(p, 1, n, f) == n; }

}  // namespace

int main() {
  std::string payload;
  while (true) {
    unsigned char len[4];
    if (!ReadExact(stdin, reinterpret_cast<char*>(len), 4)) return 0;  // EOF: the worker closed us
    uint32_t n = len[0] | (len[1] << 8) | (len[2] << 16) | (static_cast<uint32_t>(len[3]) << 24);
    payload.resize(n);
    if (n > 0 && !ReadExact(stdin, payload.data(), n)) return 1;
    size_t words = 0;
    bool in_word = false;
    for (char c : payload) {
      bool w = std::isalnum(static_cast<unsigned char>(c)) != 0;
      if (w && !in_word) ++words;
      in_word = w;
    }
    std::string out = "words=" + std::to_string(words) + " bytes=" + std::to_string(n);
    uint32_t m = static_cast<uint32_t>(out.size());
    unsigned char olen[4] = {static_cast<unsigned char>(m & 0xff), static_cast<unsigned char>((m >> 8) & 0xff),
                             static_cast<unsigned char>((m >> 16) & 0xff),
                             static_cast<unsigned char>((m >> 24) & 0xff)};
    std::fwrite(olen, 1, 4, stdout);
    std::fwrite(out.data(), 1, out.size(), stdout);
    std::fflush(stdout);
  }
}
