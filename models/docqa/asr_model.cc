// Speech recognition model for the exec runtime: pocketsphinx 5prealpha, one persistent process
// per variant.
//
//   jb-docqa-asr [--input NAME] [pocketsphinx flags ...]
// Every flag but --input goes to pocketsphinx unchanged (-jsgf, -lm, -ds, -beam, ...). When -hmm
// is not given, Debian's en-us acoustic model and dictionary are used (pocketsphinx-en-us), and
// -logfn defaults to /dev/null. The variants of docs/real-models.md: `-jsgf domain.gram` with
// `-ds 3`, `-ds 2` or neither.
// Request: the part named NAME (default ReadQuestion; the only part when there is one) holds a
// 16 kHz mono s16le WAV file (RIFF) or bare s16le samples. Answer: the best hypothesis,
// lower-case words separated by spaces ("" when there is none).
#include <pocketsphinx.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "models/common/exec_model.h"

namespace {

constexpr const char* kModelDir = "/usr/share/pocketsphinx/model/en-us";

// The PCM bytes of a RIFF/WAVE payload (its "data" chunk), or the payload itself when it is not
// RIFF/WAVE. A chunk length past the end is cut at the end.
std::string_view PcmOf(std::string_view in) {
  if (in.size() < 12 || in.substr(0, 4) != "RIFF" || in.substr(8, 4) != "WAVE") return in;
  size_t pos = 12;
  while (pos + 8 <= in.size()) {
    const auto* u = reinterpret_cast<const unsigned char*>(in.data() + pos + 4);
    const uint64_t len = uint64_t{u[0]} | uint64_t{u[1]} << 8 | uint64_t{u[2]} << 16 | uint64_t{u[3]} << 24;
    if (in.substr(pos, 4) == "data")
      return in.substr(pos + 8, static_cast<size_t>(std::min<uint64_t>(len, in.size() - pos - 8)));
    pos += 8 + static_cast<size_t>(std::min<uint64_t>(len + (len & 1), in.size()));
  }
  return {};
}

bool Has(const std::vector<std::string>& args, const char* flag) {
  for (const auto& a : args)
    if (a == flag) return true;
  return false;
}

}  // namespace

int main(int argc, char** argv) {
  std::string input = "ReadQuestion";
  std::vector<std::string> args = {argv[0]};
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--input") == 0 && i + 1 < argc)
      input = argv[++i];
    else
      args.emplace_back(argv[i]);
  }
  if (!Has(args, "-hmm")) {
    args.insert(args.end(),
                {"-hmm", std::string(kModelDir) + "/en-us", "-dict", std::string(kModelDir) + "/cmudict-en-us.dict"});
  }
  if (!Has(args, "-logfn")) args.insert(args.end(), {"-logfn", "/dev/null"});
  std::vector<char*> cargv;
  for (auto& a : args) cargv.push_back(a.data());
  cmd_ln_t* config = cmd_ln_parse_r(nullptr, ps_args(), static_cast<int32>(cargv.size()), cargv.data(), TRUE);
  if (config == nullptr) {
    std::fprintf(stderr, "jb-docqa-asr: bad arguments\n");
    return 2;
  }
  ps_decoder_t* ps = ps_init(config);
  if (ps == nullptr) {
    std::fprintf(stderr, "jb-docqa-asr: cannot load the model\n");
    cmd_ln_free_r(config);
    return 1;
  }
  int rc =
      jb::exec::ServeModel("{\"ready\":true,\"model\":\"pocketsphinx\",\"framing\":2}",
                           [&](const jb::exec::Request& req) -> jb::StatusOr<std::string> {
                             const jb::exec::Part* in = jb::exec::InputPart(req, input);
                             if (in == nullptr) return jb::Status::InvalidArgument("no part named " + input);
                             const std::string_view pcm = PcmOf(in->data);
                             // Copied so the samples are aligned for int16 access.
                             std::vector<int16> samples(pcm.size() / 2);
                             if (!samples.empty()) std::memcpy(samples.data(), pcm.data(), samples.size() * 2);
                             if (ps_start_utt(ps) != 0) return jb::Status::Internal("ps_start_utt failed");
                             ps_process_raw(ps, samples.data(), samples.size(), /*no_search=*/FALSE, /*full_utt=*/TRUE);
                             ps_end_utt(ps);
                             int32 score = 0;
                             const char* hyp = ps_get_hyp(ps, &score);
                             return std::string(hyp != nullptr ? hyp : "");
                           });
  ps_free(ps);
  cmd_ln_free_r(config);
  return rc;
}
