#!/usr/bin/env bash
# Installs a working CRIU into a private prefix (default .cache/criu), idempotently:
# Debian trixie's criu 4.1.1 with its shared-library closure (trixie's libc6 included),
# fetched with apt under a private configuration and unpacked with dpkg-deb -x, so the
# system's packages stay untouched. Run it as  <prefix>/bin/criu  (a wrapper that starts the
# real binary through the prefix's own loader with --library-path; criu's children such as
# ip and iptables-restore keep the host's libc). On Linux >= 6.16 the wrapper also preloads
# a getsockopt shim (criu 4.1 fails to dump inet sockets there; fixed in criu 4.2).
set -euo pipefail
cd "$(dirname "$0")/.."
PREFIX="${1:-$PWD/.cache/criu}"
[ -x "$PREFIX/bin/criu" ] && [ -f "$PREFIX/.complete" ] && [ "$PREFIX/.complete" -nt "$0" ] && exit 0

WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
mkdir -p "$WORK/lists/partial" "$WORK/cache/archives/partial" "$WORK/debs" "$PREFIX.tmp"
rm -rf "$PREFIX.tmp"; mkdir -p "$PREFIX.tmp"
cat > "$WORK/sources.list" <<SRC
deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian trixie main
SRC
APT_OPTS=(-o "Dir::Etc::SourceList=$WORK/sources.list" -o "Dir::Etc::SourceParts=/dev/null"
  -o "Dir::State::Lists=$WORK/lists" -o "Dir::Cache=$WORK/cache" -o "Dir::State::Status=$WORK/status"
  -o "APT::Architecture=$(dpkg --print-architecture)" -o "Debug::NoLocking=1" -o "APT::Sandbox::User=root" -q)
: > "$WORK/status"
echo "setup: fetching criu 4.1 from Debian trixie into $PREFIX" >&2
apt-get "${APT_OPTS[@]}" update >&2
# The closure of criu's dependencies against an empty status file: everything criu needs from trixie.
mapfile -t PKGS < <(apt-cache "${APT_OPTS[@]}" depends --recurse --no-recommends --no-suggests \
  --no-conflicts --no-breaks --no-replaces --no-enhances criu | grep -E '^[a-z0-9]' | grep -v ':' | sort -u)
( cd "$WORK/debs" && apt-get "${APT_OPTS[@]}" download "${PKGS[@]}" >&2 )
for deb in "$WORK"/debs/*.deb; do dpkg-deb -x "$deb" "$PREFIX.tmp"; done

LOADER="$(cd "$PREFIX.tmp" && ls usr/lib64/ld-linux-*.so.* lib64/ld-linux-*.so.* 2>/dev/null | head -1 || true)"
[ -n "$LOADER" ] || { echo "setup: no loader in the criu prefix" >&2; exit 1; }
mkdir -p "$PREFIX.tmp/bin"
cc -O2 -Wall -shared -fPIC -o "$PREFIX.tmp/bin/getsockopt-shim.so" native/criu-getsockopt-shim.c -ldl
LIBS="$PREFIX/usr/lib/x86_64-linux-gnu:$PREFIX/lib/x86_64-linux-gnu"
cat > "$PREFIX.tmp/bin/criu" <<WRAP
#!/bin/sh
# criu 4.1 from Debian trixie, through its own loader and libraries (see scripts/install-criu.sh).
P="$PREFIX"
preload=""
read -r release < /proc/sys/kernel/osrelease
case "\$release" in
  [0-5].*|6.[0-9].*|6.1[0-5].*) ;;
  *) preload="--preload \$P/bin/getsockopt-shim.so" ;;
esac
exec "\$P/$LOADER" --library-path "$LIBS" \$preload "\$P/usr/sbin/criu" "\$@"
WRAP
chmod +x "$PREFIX.tmp/bin/criu"
rm -rf "$PREFIX"; mv "$PREFIX.tmp" "$PREFIX"
touch "$PREFIX/.complete"
"$PREFIX/bin/criu" --version >&2
