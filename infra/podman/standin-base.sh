#!/usr/bin/env bash
# Build a LOCAL STAND-IN for the Dockerfile's base image and tag it with the base image's name.
#
# Why: no container registry is reachable from these machines, so the real
# python:3.12-slim-bookworm cannot be pulled. The stand-in is built the way that image is:
# Debian 12 "minbase" + the shared-library runtime of CPython + CPython 3.12 installed under
# /usr/local (binary /usr/local/bin/python3.12, libpython in /usr/local/lib, registered with
# ldconfig), PATH/LANG/PYTHON_VERSION/CMD as upstream, test suites and *.pyc removed as
# upstream does. CPython comes from a pyenv build on this host (3.12.1, --enable-shared).
# Known differences from the real image: CPython patch level (3.12.1 here), Debian packages at
# the point-release level (no bookworm-security updates), no C headers.
#
# Usage: standin-base.sh IMAGE_NAME WORK_DIR   (IMAGE_NAME may carry @sha256:..., which is dropped)
#   env PYTHON_SRC     CPython 3.12 prefix to copy (default: $(pyenv root)/versions/3.12.1)
#   env DEBIAN_MIRROR  Debian mirror (default: the first one configured for apt on this host)
# The caller exports CONTAINERS_CONF / CONTAINERS_STORAGE_CONF (mk/image.mk does).
set -euo pipefail

image=${1:?usage: standin-base.sh IMAGE_NAME WORK_DIR}
work=${2:?usage: standin-base.sh IMAGE_NAME WORK_DIR}
# The Dockerfile names its base by digest (name:tag@sha256:...). A digest is the hash of the
# published manifest, so no locally built image can carry it: the stand-in is tagged with the
# name alone, and a build that uses it has to name it so (it can never pass for the real base).
image=${image%@sha256:*}
suite=bookworm
py_ver=3.12
py_src=${PYTHON_SRC:-$(pyenv root 2>/dev/null)/versions/3.12.1}

say() { printf '\033[1;33m[standin-base]\033[0m %s\n' "$*"; }
die() { printf '\033[1;31m[standin-base] ERROR:\033[0m %s\n' "$*" >&2; exit 1; }

[[ $(id -u) == 0 ]] || die "debootstrap needs root"
command -v debootstrap >/dev/null || die "debootstrap is not installed (make image installs it)"
[[ -x $py_src/bin/python$py_ver ]] || die "no CPython $py_ver at $py_src (set PYTHON_SRC)"
"$py_src/bin/python$py_ver" -c 'import sys; assert sys.version_info[:2] == (3, 12)' \
  || die "$py_src is not CPython 3.12"

if [[ -z ${DEBIAN_MIRROR:-} ]]; then
  # Use whatever mirror apt on this host already uses (deb822 first, then one-line format).
  DEBIAN_MIRROR=$(awk '/^URIs:/ {print $2; exit}' /etc/apt/sources.list.d/debian.sources 2>/dev/null || true)
  [[ -n $DEBIAN_MIRROR ]] || DEBIAN_MIRROR=$(awk '/^deb / && $0 !~ /security/ {print $2; exit}' /etc/apt/sources.list 2>/dev/null || true)
  [[ -n $DEBIAN_MIRROR ]] || die "cannot find a Debian mirror in /etc/apt; set DEBIAN_MIRROR"
fi

cat >&2 <<EOF

  ##########################################################################################
  #  $image is NOT in podman storage and no registry is reachable.
  #  Building a LOCAL STAND-IN (debootstrap --variant=minbase $suite + CPython from
  #  $py_src) and tagging it as $image.
  #  Images built on it are for local smoke tests and benchmarks only: rebuild on the real
  #  base (pulled and pinned by digest) before anything is pushed.
  ##########################################################################################

EOF

rootfs=$work/rootfs
rm -rf "$rootfs"
mkdir -p "$work"

# Runtime libraries of python:3.12-slim-bookworm (its Dockerfile keeps exactly what the
# compiled CPython links against, plus ca-certificates, netbase and tzdata).
include=ca-certificates,netbase,tzdata,libbz2-1.0,libexpat1,libffi8,libgdbm6,liblzma5,libncursesw6
include=$include,libnsl2,libreadline8,libsqlite3-0,libssl3,libtirpc3,libuuid1,zlib1g

say "debootstrap --variant=minbase $suite from $DEBIAN_MIRROR"
t0=$SECONDS
debootstrap --variant=minbase --include="$include" "$suite" "$rootfs" "$DEBIAN_MIRROR" \
  >"$work/debootstrap.log" 2>&1 || { tail -n 30 "$work/debootstrap.log" >&2; die "debootstrap failed (log: $work/debootstrap.log)"; }
say "debootstrap done in $((SECONDS - t0)) s"

say "installing CPython $("$py_src/bin/python$py_ver" -c 'import platform; print(platform.python_version())') into /usr/local"
install -d "$rootfs/usr/local/bin" "$rootfs/usr/local/lib"
cp -a "$py_src/bin/python$py_ver" "$rootfs/usr/local/bin/"
cp -a "$py_src"/lib/libpython3*.so* "$rootfs/usr/local/lib/"
# The stdlib without what the slim image leaves out: test suites, Tk, bytecode caches, and any
# third-party package or .pth file that this host's build may carry (only pip is kept).
tar -C "$py_src/lib" \
  --exclude="python$py_ver/test" --exclude='*/tests' --exclude='*/idle_test' \
  --exclude="python$py_ver/idlelib" --exclude="python$py_ver/tkinter" \
  --exclude="python$py_ver/turtledemo" --exclude='_tkinter.*' \
  --exclude='__pycache__' --exclude='*.pyc' --exclude='libpython*.a' \
  --exclude="python$py_ver/site-packages/*" \
  -cf - "python$py_ver" | tar -C "$rootfs/usr/local/lib" -xf -
for d in "$py_src/lib/python$py_ver/site-packages"/pip "$py_src/lib/python$py_ver/site-packages"/pip-*.dist-info; do
  tar -C "$(dirname "$d")" --exclude='__pycache__' -cf - "$(basename "$d")" \
    | tar -C "$rootfs/usr/local/lib/python$py_ver/site-packages" -xf -
done
ln -s "python$py_ver" "$rootfs/usr/local/bin/python3"
ln -s python3 "$rootfs/usr/local/bin/python"
for name in pip pip3 "pip$py_ver"; do
  printf '#!/usr/local/bin/python%s\nimport sys\nfrom pip._internal.cli.main import main\nsys.exit(main())\n' \
    "$py_ver" >"$rootfs/usr/local/bin/$name"
  chmod 755 "$rootfs/usr/local/bin/$name"
done
# Upstream links with --strip-all; pyenv keeps debug info (libpython 30 MB -> 8 MB).
find "$rootfs/usr/local" -name '*.so*' -type f -exec strip --strip-debug {} +
strip --strip-debug "$rootfs/usr/local/bin/python$py_ver"
# pyenv's rpath points at its own prefix, absent here: the loader falls back to ld.so.cache.
chroot "$rootfs" /sbin/ldconfig

# Trim like debian:bookworm-slim (docs, man pages and translations excluded; copyright kept)
# and like any Docker base image (no apt lists or caches, no logs).
find "$rootfs/usr/share/doc" -mindepth 1 -not -name copyright -not -type d -delete
find "$rootfs/usr/share/doc" -mindepth 1 -type d -empty -delete
rm -rf "$rootfs"/usr/share/man/* "$rootfs"/usr/share/info/* "$rootfs"/usr/share/locale/* \
  "$rootfs"/var/lib/apt/lists/* "$rootfs"/var/cache/apt/*.bin "$rootfs"/var/cache/apt/archives/*.deb \
  "$rootfs"/var/log/* "$rootfs"/debootstrap

say "importing rootfs as $image"
tar -C "$rootfs" --numeric-owner -cf - . | podman import --quiet \
  --change 'ENV PATH=/usr/local/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
  --change 'ENV LANG=C.UTF-8' \
  --change "ENV PYTHON_VERSION=$("$py_src/bin/python$py_ver" -c 'import platform; print(platform.python_version())')" \
  --change 'LABEL org.twinserve.standin=true' \
  --change "LABEL org.twinserve.standin.note=debootstrap-minbase-$suite+pyenv-cpython" \
  --change 'CMD ["python3"]' \
  - "$image" >/dev/null
rm -rf "$rootfs"

say "checking the stand-in's interpreter"
podman run --rm --network host --pull=never "$image" python3 -c \
  'import ctypes, hashlib, lzma, bz2, sqlite3, ssl, sys, uuid, zlib; print(sys.executable, sys.version.split()[0], ssl.OPENSSL_VERSION)'
say "stand-in ready: $image ($((SECONDS - t0)) s in all)"
