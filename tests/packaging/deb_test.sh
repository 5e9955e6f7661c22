#!/usr/bin/env bash
# The Debian package (debian/, `make deb`) on this machine: dpkg -i, the programs run, man pages
# and the conffile are there, the units verify, the system user and /var/lib/jellybean exist; then
# dpkg --purge leaves none of its files, its state or its directories behind. Prints the units'
# `systemd-analyze security --offline=yes` exposure and the test's time.
#   tests/packaging/deb_test.sh build-deb/jellybean_VERSION_ARCH.deb   (or the directory build-deb)
# Exit 77 (skipped) without root, without a package, or when jellybean is already installed here
# (the test does not touch an installation it did not make).
set -uo pipefail
deb=${1:-}
if [ -d "$deb" ]; then deb=$(ls "$deb"/jellybean_*.deb 2>/dev/null | head -1); fi
if [ "$(id -u)" != 0 ]; then echo "SKIP: needs root (dpkg -i / --purge)"; exit 77; fi
if [ -z "$deb" ] || [ ! -f "$deb" ]; then echo "SKIP: no package '$deb' (make deb builds build-deb/jellybean_*.deb)"; exit 77; fi
if dpkg-query -W -f='${Status}' jellybean 2>/dev/null | grep -q "ok installed"; then
  echo "SKIP: jellybean is already installed on this machine"; exit 77
fi
start=$(date +%s.%N)
failures=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }
installed=0
cleanup() { if [ $installed = 1 ]; then dpkg --purge jellybean >/dev/null 2>&1; fi; }
trap cleanup EXIT

dpkg -i "$deb" || { echo "FAIL: dpkg -i $deb"; exit 1; }
installed=1
mapfile -t files < <(dpkg -L jellybean)
echo "installed: ${#files[@]} paths"

# The programs run from PATH: each prints its usage for --help and exits 0.
for p in "jellybeand:Usage: jellybeand" "jbctl:jbctl: JellyBean control tool" \
         "jellybean-worker:usage: jellybean-worker" "jellybean-agent:usage: jellybean-agent"; do
  prog=${p%%:*} want=${p#*:}
  out=$("/usr/bin/$prog" --help 2>&1); rc=$?
  [ $rc = 0 ] || fail "$prog --help exited $rc"
  grep -qF "$want" <<<"$out" || fail "$prog --help does not print '$want': $out"
done
for m in /usr/share/man/man8/jellybeand.8.gz /usr/share/man/man1/jbctl.1.gz \
         /usr/share/man/man8/jellybean-worker.8.gz /usr/share/man/man8/jellybean-agent.8.gz; do
  [ -s "$m" ] || fail "no man page $m"
done
dpkg-query -W -f='${Conffiles}\n' jellybean | grep -q "^ /etc/jellybean/jellybeand.yaml " ||
  fail "/etc/jellybean/jellybeand.yaml is not a conffile"

# The units as installed (their ExecStart binaries now exist): no errors, no warnings.
for u in jellybeand jellybean-agent; do
  unit=/lib/systemd/system/$u.service
  [ -f "$unit" ] || { fail "no $unit"; continue; }
  out=$(systemd-analyze verify "$unit" 2>&1); rc=$?
  [ $rc = 0 ] && [ -z "$out" ] || fail "systemd-analyze verify $unit: exit $rc: $out"
  systemd-analyze security --offline=yes "$unit" 2>&1 | tail -1
done

# The system user, and the daemon's state directory owned by it (0700).
getent passwd jellybean >/dev/null || fail "no user jellybean"
[ "$(getent passwd jellybean | cut -d: -f6)" = /var/lib/jellybean ] || fail "jellybean's home is not /var/lib/jellybean"
[ "$(stat -c '%U:%G %a' /var/lib/jellybean 2>/dev/null)" = "jellybean:jellybean 700" ] ||
  fail "/var/lib/jellybean: $(stat -c '%U:%G %a' /var/lib/jellybean 2>&1)"

# The REST token the unit hands over as a credential (LoadCredential=token:/etc/jellybean/token).
[ "$(stat -c '%U:%G %a' /etc/jellybean/token 2>/dev/null)" = "root:root 600" ] ||
  fail "/etc/jellybean/token: $(stat -c '%U:%G %a' /etc/jellybean/token 2>&1)"
[ "$(tr -d '\n' </etc/jellybean/token | wc -c)" = 64 ] || fail "/etc/jellybean/token does not hold 64 hex digits"

# The daemon runs as that user with the packaged config: it writes its state there.
if command -v setpriv >/dev/null; then
  setpriv --reuid=jellybean --regid=jellybean --init-groups -- /usr/bin/jellybeand --config /etc/jellybean/jellybeand.yaml --listen 127.0.0.1:0 \
    --driver fake >/tmp/jellybean-deb-test.log 2>&1 &
  dpid=$!
  for _ in $(seq 1 200); do [ -s /var/lib/jellybean/endpoint ] && break; sleep 0.1; done
  [ -s /var/lib/jellybean/endpoint ] || fail "jellybeand (user jellybean) wrote no endpoint: $(cat /tmp/jellybean-deb-test.log)"
  kill -TERM $dpid; wait $dpid || fail "jellybeand exited $? on SIGTERM: $(cat /tmp/jellybean-deb-test.log)"
  rm -f /tmp/jellybean-deb-test.log
fi

dpkg --purge jellybean >/dev/null || fail "dpkg --purge"
installed=0
left=()
for f in "${files[@]}"; do
  [ -d "$f" ] && continue  # shared directories (/usr/bin, /lib -> usr/lib, ...) stay
  [ -e "$f" ] || [ -L "$f" ] && left+=("$f")
done
for d in /etc/jellybean /usr/share/doc/jellybean /var/lib/jellybean \
         /etc/systemd/system/multi-user.target.wants/jellybeand.service \
         /etc/systemd/system/multi-user.target.wants/jellybean-agent.service; do [ -e "$d" ] && left+=("$d"); done
[ ${#left[@]} = 0 ] || fail "left after dpkg --purge: ${left[*]}"

printf 'deb_test: %s in %.1f s\n' "$([ $failures = 0 ] && echo ok || echo "$failures failure(s)")" \
  "$(awk -v a="$start" -v b="$(date +%s.%N)" 'BEGIN { print b - a }')"
[ $failures = 0 ]
