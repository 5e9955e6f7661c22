#!/bin/sh
# Builds the docqa data set (288 labelled items, 5.4 MiB) into OUT_DIR from Debian packages and
# checks it byte for byte against the SHA256SUMS beside this script. Does nothing when OUT_DIR
# already holds a set that passes the check. About 4 s on a 2-core machine. Then writes the
# dataset-source indices documents.jsonl and questions.jsonl (make_index.py) beside it.
#   models/docqa/data/build_data.sh OUT_DIR
# Needs python3-pil python3-numpy espeak-ng sox fonts-dejavu-core (`make setup` installs them).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
out=${1:?usage: build_data.sh OUT_DIR}
check() { (cd "$out" && sha256sum --quiet -c "$here/SHA256SUMS") ; }
index() { /usr/bin/python3 "$here/make_index.py" "$out"; }  # documents.jsonl, questions.jsonl
if [ -f "$out/SHA256SUMS" ] && check >/dev/null 2>&1; then
  index  # cheap; rewritten so that a set built by an older make_index.py gets today's order
  exit 0
fi
# Debian's interpreter: a python3 earlier on PATH may not see python3-pil / python3-numpy.
py=/usr/bin/python3
if ! "$py" -c 'import PIL, numpy' 2>/dev/null || ! command -v espeak-ng >/dev/null || ! command -v sox >/dev/null; then
  echo "build_data.sh: needs python3-pil python3-numpy espeak-ng sox fonts-dejavu-core (run make setup)" >&2
  exit 1
fi
mkdir -p "$out"
"$py" "$here/generate.py" "$out"
if ! check; then
  echo "build_data.sh: the generated set differs from $here/SHA256SUMS (other package versions than" >&2
  echo "  Debian bookworm's espeak-ng 1.51, sox 14.4.2, python3-pil 9.4.0, fonts-dejavu-core 2.37?)" >&2
  exit 1
fi
index
echo "build_data.sh: docqa data set in $out, checked against SHA256SUMS"
