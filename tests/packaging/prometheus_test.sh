#!/bin/sh
# Checks packaging/prometheus/ with promtool: the sample scrape config (with its token and CA files
# present, as promtool requires), the alerting rules, and the rules' unit tests.
# Exit 77 (skipped) when promtool is not installed (Debian package prometheus; `make setup`).
set -eu
src=$(cd "$(dirname "$0")/../.." && pwd)/packaging/prometheus
if ! command -v promtool >/dev/null 2>&1; then
  echo "SKIP: promtool not installed (Debian package prometheus; make setup installs it)"
  exit 77
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# The config names /etc/prometheus/...; point it at files in the temporary directory.
sed "s|/etc/prometheus/|$tmp/|g" "$src/prometheus.yml" >"$tmp/prometheus.yml"
cp "$src/jellybean-rules.yml" "$src/jellybean-rules.test.yml" "$tmp/"
echo "0123456789abcdef0123456789abcdef" >"$tmp/jellybean.token"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout "$tmp/ca.key" \
  -out "$tmp/jellybean-ca.crt" -days 1 -subj "/CN=test CA" 2>/dev/null
promtool check config "$tmp/prometheus.yml"
promtool check rules "$src/jellybean-rules.yml"
promtool test rules "$tmp/jellybean-rules.test.yml"
# A broken rule file must fail (the check is not a no-op).
printf 'groups:\n  - name: x\n    rules:\n      - alert: Bad\n        expr: rate(\n' >"$tmp/bad.yml"
if promtool check rules "$tmp/bad.yml" >/dev/null 2>&1; then
  echo "FAIL: promtool accepted a broken rule file"
  exit 1
fi
echo "PASS"
