// OCR model for the exec runtime: tesseract 5 (LSTM), one persistent process per variant.
//
//   jb-docqa-ocr [--tessdata DIR] [--lang eng] [--scale S] [--psm N] [--dpi D] [--input NAME]
// Request: the part named NAME (default ReadDocument; the only part when there is one) holds an
// encoded image (JPEG, PNG, PNM, TIFF: anything leptonica reads). Answer: the recognised text,
// UTF-8, lines separated by '\n'. An image leptonica cannot read is an error answer.
// The image is resized by S (leptonica pixScale) before recognition: the variant knob
// (docs/real-models.md: x0.5 / x0.75 / x1 / x1.5).
//
// OpenMP: tesseract runs its LSTM under OpenMP, and on a machine shared by several model
// processes unbounded OpenMP threads make one image 5-7x slower. libgomp reads OMP_THREAD_LIMIT
// once, when it is loaded (before main), so when the variable is unset this process re-executes
// itself once with OMP_THREAD_LIMIT=1. Set it in the environment to choose another bound.
#include <leptonica/allheaders.h>
#include <tesseract/baseapi.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "models/common/exec_model.h"

namespace {

void EnsureOmpThreadLimit(char** argv) {
  const char* limit = std::getenv("OMP_THREAD_LIMIT");
  if (limit != nullptr && *limit != '\0') return;  // empty counts as unset (libgomp ignores it)
  setenv("OMP_THREAD_LIMIT", "1", 1);
  execv("/proc/self/exe", argv);
  std::perror("jb-docqa-ocr: re-exec with OMP_THREAD_LIMIT=1 failed; OpenMP is unbounded");
}

struct Flags {
  std::string tessdata = "/usr/share/tesseract-ocr/5/tessdata";
  std::string lang = "eng";
  std::string input = "ReadDocument";
  float scale = 1.0f;
  float dpi = 150.0f;             // resolution declared for the unscaled input (the JPEGs carry none)
  int psm = tesseract::PSM_AUTO;  // 3: full layout analysis, no OSD
};

bool ParseFlags(int argc, char** argv, Flags* f) {
  for (int i = 1; i < argc; i += 2) {
    const std::string k = argv[i];
    if (i + 1 >= argc) {
      std::fprintf(stderr, "jb-docqa-ocr: flag %s needs a value\n", k.c_str());
      return false;
    }
    const char* v = argv[i + 1];
    if (k == "--tessdata")
      f->tessdata = v;
    else if (k == "--lang")
      f->lang = v;
    else if (k == "--input")
      f->input = v;
    else if (k == "--scale")
      f->scale = std::strtof(v, nullptr);
    else if (k == "--psm")
      f->psm = std::atoi(v);
    else if (k == "--dpi")
      f->dpi = std::strtof(v, nullptr);
    else {
      std::fprintf(stderr, "jb-docqa-ocr: unknown flag %s\n", k.c_str());
      return false;
    }
  }
  if (!(f->scale > 0.0f && f->scale <= 8.0f) || !(f->dpi > 0.0f)) {
    std::fprintf(stderr, "jb-docqa-ocr: --scale must be in (0, 8] and --dpi positive\n");
    return false;
  }
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  EnsureOmpThreadLimit(argv);
  Flags f;
  if (!ParseFlags(argc, argv, &f)) return 2;
  setMsgSeverity(L_SEVERITY_NONE);  // leptonica: no chatter on stderr
  tesseract::TessBaseAPI api;
  if (api.Init(f.tessdata.c_str(), f.lang.c_str(), tesseract::OEM_LSTM_ONLY) != 0) {
    std::fprintf(stderr, "jb-docqa-ocr: cannot load %s/%s.traineddata\n", f.tessdata.c_str(), f.lang.c_str());
    return 1;
  }
  api.SetPageSegMode(static_cast<tesseract::PageSegMode>(f.psm));
  api.SetVariable("debug_file", "/dev/null");  // no "Estimating resolution" chatter
  // Scaling keeps the physical size, so the declared resolution scales too; tesseract rejects
  // anything under 70 dpi.
  const int dpi = std::max(70, static_cast<int>(f.dpi * f.scale + 0.5f));
  const std::string hello =
      "{\"ready\":true,\"model\":\"tesseract-" + f.lang + "\",\"scale\":" + std::to_string(f.scale) + ",\"framing\":2}";
  int rc = jb::exec::ServeModel(hello, [&](const jb::exec::Request& req) -> jb::StatusOr<std::string> {
    const jb::exec::Part* in = jb::exec::InputPart(req, f.input);
    if (in == nullptr) return jb::Status::InvalidArgument("no part named " + f.input);
    Pix* pix = pixReadMem(reinterpret_cast<const l_uint8*>(in->data.data()), in->data.size());
    if (pix == nullptr) return jb::Status::InvalidArgument("part " + f.input + " is not an image leptonica reads");
    if (f.scale != 1.0f) {
      Pix* scaled = pixScale(pix, f.scale, f.scale);
      pixDestroy(&pix);
      if (scaled == nullptr) return jb::Status::Internal("pixScale failed");
      pix = scaled;
    }
    api.SetImage(pix);
    api.SetSourceResolution(dpi);
    char* out = api.GetUTF8Text();
    std::string text = out != nullptr ? out : "";
    delete[] out;
    api.Clear();
    pixDestroy(&pix);
    return text;
  });
  api.End();
  return rc;
}
