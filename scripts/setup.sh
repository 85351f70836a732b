#!/usr/bin/env bash
# Installs what Stratus needs, idempotently: Debian packages (bubblewrap, etcd, the AWS CLI v2 for
# tests), npm packages, and the TypeScript build. Safe to run any number of times.
set -euo pipefail
cd "$(dirname "$0")/.."

need_apt=()
command -v bwrap >/dev/null 2>&1 || need_apt+=(bubblewrap)
[ -x /usr/bin/aws ] || need_apt+=(awscli)
command -v zip >/dev/null 2>&1 || need_apt+=(zip)
command -v cc >/dev/null 2>&1 || need_apt+=(gcc libc6-dev)
# libseccomp, to build the sandboxes' seccomp filter (native/stratus-seccomp.c).
[ -f /usr/include/seccomp.h ] || need_apt+=(libseccomp-dev)
[ -x /usr/bin/python3 ] || need_apt+=(python3)
# Debian's OpenJDK 17 for the java17 runtime (and javac, to build its runtime client).
ls /usr/lib/jvm/java-17-openjdk-*/bin/javac >/dev/null 2>&1 || need_apt+=(openjdk-17-jdk-headless)
# The Prometheus project's own exposition-format parser, for the metrics tests (test/helpers/prometheus.ts).
[ -f /usr/lib/python3/dist-packages/prometheus_client/parser.py ] || need_apt+=(python3-prometheus-client)
[ -x /usr/bin/slirp4netns ] || need_apt+=(slirp4netns)
# gVisor (the `gvisor` sandbox driver, ptrace platform): Debian's runsc.
[ -x /usr/bin/runsc ] || need_apt+=(runsc)
command -v ip >/dev/null 2>&1 || need_apt+=(iproute2)
command -v curl >/dev/null 2>&1 || need_apt+=(curl)
# etcd 3.4 for the cluster journal and its tests (test/helpers/etcd.ts starts real members).
[ -x /usr/bin/etcd ] || need_apt+=(etcd-server)
[ -x /usr/bin/etcdctl ] || need_apt+=(etcd-client)
# The test of etcd over TLS makes its CA and certificates with openssl.
command -v openssl >/dev/null 2>&1 || need_apt+=(openssl)
# Container images: EROFS images (mkfs.erofs), the FUSE image server (fuse3's fusermount; libfuse-dev
# and pkg-config to build @cocalc/fuse-native), and for the image tests a local OCI registry
# (docker-registry), umoci to build images and skopeo to push them.
[ -x /usr/bin/mkfs.erofs ] || need_apt+=(erofs-utils)
[ -x /usr/bin/fusermount3 ] || [ -x /bin/fusermount3 ] || need_apt+=(fuse3)
[ -f /usr/include/fuse/fuse.h ] || need_apt+=(libfuse-dev)
command -v pkg-config >/dev/null 2>&1 || need_apt+=(pkg-config)
[ -x /usr/bin/docker-registry ] || need_apt+=(docker-registry)
[ -x /usr/bin/umoci ] || need_apt+=(umoci)
[ -x /usr/bin/skopeo ] || need_apt+=(skopeo)
# Headless Chromium for the web console's browser tests (driven with puppeteer-core, test/helpers/browser.ts).
[ -x /usr/bin/chromium ] || need_apt+=(chromium)
# The native build of aws-lambda-ric (used by the runtime-compatibility test).
for tool in autoconf automake libtool cmake make g++; do
  command -v "$tool" >/dev/null 2>&1 || dpkg -s "$tool" >/dev/null 2>&1 || need_apt+=("$tool")
done
if [ ${#need_apt[@]} -gt 0 ]; then
  echo "setup: installing Debian packages: ${need_apt[*]}" >&2
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -q >&2
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends "${need_apt[@]}" >&2
fi

# npm packages: install when node_modules is missing or older than the lock file. A symlinked
# node_modules (a git worktree sharing another checkout's) is left alone: `npm ci` would empty
# the directory it points to.
if [ ! -L node_modules ] && { [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; }; then
  echo "setup: installing npm packages" >&2
  npm ci --no-audit --no-fund >&2
fi

# The FUSE binding builds against libfuse-dev; rebuild it if it was installed before libfuse-dev was.
if [ ! -f node_modules/@cocalc/fuse-native/build/Release/fuse.node ]; then
  echo "setup: building @cocalc/fuse-native" >&2
  npm rebuild @cocalc/fuse-native >&2
fi

npx --no-install tsc -b >&2

# The Python runtime client, compiled ahead of time (its directory is read-only in sandboxes).
/usr/bin/python3 -m compileall -q src/runtimes/python >&2 || true

# The java17 runtime client (src/runtimes/java: the com.amazonaws.services.lambda.runtime and org.crac
# APIs and the Runtime API client), compiled into one jar; rebuilt only when a source is newer.
JAVA_JAR=dist/runtimes/java/lib/stratus-java-runtime.jar
if [ ! -f "$JAVA_JAR" ] || [ -n "$(find src/runtimes/java -name '*.java' -newer "$JAVA_JAR" | head -1)" ]; then
  JDK=$(ls -d /usr/lib/jvm/java-17-openjdk-* | head -1)
  JAVA_BUILD=$(mktemp -d)
  "$JDK/bin/javac" --release 17 -Xlint:all -Werror -d "$JAVA_BUILD" $(find src/runtimes/java -name '*.java' | sort) >&2
  mkdir -p "$(dirname "$JAVA_JAR")"
  "$JDK/bin/jar" --create --file "$JAVA_JAR.tmp" --date=2026-01-01T00:00:00Z -C "$JAVA_BUILD" . >&2
  mv "$JAVA_JAR.tmp" "$JAVA_JAR"
  rm -rf "$JAVA_BUILD"
fi

# stratus-init, the sandbox's pid 1 (C, static: no loader, so no LD_PRELOAD or library path of anyone's can reach it).
if [ ! -x dist/native/stratus-init ] || [ native/stratus-init.c -nt dist/native/stratus-init ] || [ native/stratus-init-extensions.h -nt dist/native/stratus-init ]; then
  mkdir -p dist/native
  cc -O2 -Wall -Wextra -static -o dist/native/stratus-init native/stratus-init.c
fi
# stratus-seccomp, which prints the sandboxes' seccomp filter (libseccomp); a worker refuses to start without it.
if [ ! -x dist/native/stratus-seccomp ] || [ native/stratus-seccomp.c -nt dist/native/stratus-seccomp ]; then
  mkdir -p dist/native
  cc -O2 -Wall -Wextra -o dist/native/stratus-seccomp native/stratus-seccomp.c -lseccomp
fi
# criu-exec, how a SnapStart restore starts criu (C, no dependencies beyond libc).
if [ ! -x dist/native/criu-exec ] || [ native/criu-exec.c -nt dist/native/criu-exec ]; then
  mkdir -p dist/native
  cc -O2 -Wall -Wextra -o dist/native/criu-exec native/criu-exec.c
fi

# CRIU for SnapStart: Debian trixie's criu 4.1 in a private prefix (.cache/criu), system untouched.
# A host where it cannot be installed still runs; SnapStart then reports OptimizationStatus Off.
bash scripts/install-criu.sh || echo "setup: criu could not be installed; SnapStart will be unavailable" >&2
