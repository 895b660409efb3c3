#!/usr/bin/env bash
# Builds stripped release binaries of the wordspot CLI and the examples for a
# Raspberry Pi target with Debian's cross toolchains.
#
#   cross/build.sh aarch64-unknown-linux-gnu        # Pi 3/4/5, 64-bit OS
#   cross/build.sh armv7-unknown-linux-gnueabihf    # 32-bit Raspberry Pi OS
#   cross/build.sh TARGET --no-mic                  # without ALSA/cpal
#   cross/build.sh TARGET --test [-- ARGS]          # also run the test suite
#                                                   # under qemu-user (ARGS go
#                                                   # to the test harness)
#   cross/build.sh TARGET --test --no-demo           # without the demo run
#   cross/build.sh TARGET --test --only lib,embedding
#                                                   # only these test targets
#                                                   # (`lib` = unit tests, else
#                                                   # files of tests/)
#   cross/build.sh TARGET --profile dev             # another cargo profile
#                                                   # (default: dist)
#
# Output: dist/TARGET/{wordspot,listen,enroll,search,field_recorder}, stripped.
# With `--profile dev --test` the binaries and the tests share one build of
# the dependencies (CI does this; `dist` is a second, fat-LTO build).
# Prerequisites (Debian/Ubuntu): see cross/README.md; as root,
#   cross/build.sh --install-deps TARGET
# installs the apt packages first (the Rust target is added with rustup).
set -euo pipefail
cd "$(dirname "$0")/.."

install_deps() {
    local arch=$1 gcc=$2
    dpkg --add-architecture "$arch"
    apt-get update || true # a foreign-architecture index may be mid-sync; install decides
    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
        "gcc-$gcc" "libc6-dev-$arch-cross" "libasound2-dev:$arch" pkg-config qemu-user
}

if [ "${1:-}" = "--install-deps" ]; then INSTALL=1; shift; else INSTALL=0; fi
USAGE="usage: cross/build.sh [--install-deps] TARGET [--no-mic] [--profile NAME] [--test [--no-demo] [--only T1,T2...] [-- TEST-ARGS]]"
TARGET=${1:?$USAGE}
shift
MIC=1
TEST=0
PROFILE=dist
TEST_ARGS=()
ONLY=()
DEMO=1
while [ $# -gt 0 ]; do
    case $1 in
    --no-mic) MIC=0 ;;
    --test) TEST=1 ;;
    --no-demo) DEMO=0 ;;
    --only)
        IFS=, read -ra names <<<"${2:?$USAGE}"
        for n in "${names[@]}"; do
            if [ "$n" = lib ]; then ONLY+=(--lib); else ONLY+=(--test "$n"); fi
        done
        shift
        ;;
    --profile)
        PROFILE=${2:?$USAGE}
        shift
        ;;
    --)
        shift
        TEST_ARGS=("$@")
        break
        ;;
    *) echo "cross/build.sh: unknown option $1; $USAGE" >&2; exit 2 ;;
    esac
    shift
done

case $TARGET in
aarch64-unknown-linux-gnu) ARCH=arm64 TRIPLE=aarch64-linux-gnu ;;
armv7-unknown-linux-gnueabihf) ARCH=armhf TRIPLE=arm-linux-gnueabihf ;;
*) echo "cross/build.sh: unsupported target $TARGET (aarch64-unknown-linux-gnu or armv7-unknown-linux-gnueabihf)" >&2; exit 2 ;;
esac
if [ $INSTALL = 1 ]; then install_deps "$ARCH" "$TRIPLE"; fi

for tool in "$TRIPLE-gcc" "$TRIPLE-strip"; do
    command -v "$tool" >/dev/null || { echo "cross/build.sh: $tool not found: apt-get install gcc-$TRIPLE (see cross/README.md)" >&2; exit 1; }
done
if ! rustup target list --installed 2>/dev/null | grep -qx "$TARGET"; then
    rustup target add "$TARGET" ||
        { echo "cross/build.sh: the Rust standard library for $TARGET is missing and 'rustup target add $TARGET' failed" >&2; exit 1; }
fi

# pkg-config finds the target's ALSA (multiarch, installed into /) and not the host's.
export PKG_CONFIG_ALLOW_CROSS=1
export PKG_CONFIG_SYSROOT_DIR=/
export PKG_CONFIG_LIBDIR=/usr/lib/$TRIPLE/pkgconfig:/usr/share/pkgconfig
# The C compiler for build scripts' target code (tract's ARM assembly kernels).
TU=$(echo "$TARGET" | tr '-' '_')
export "CC_$TU=$TRIPLE-gcc" "AR_$TU=$TRIPLE-ar"

FEATURES=()
if [ $MIC = 0 ]; then FEATURES=(--no-default-features --features wav2vec2); fi
if [ $MIC = 1 ] && ! [ -e "/usr/lib/$TRIPLE/pkgconfig/alsa.pc" ]; then
    echo "cross/build.sh: ALSA for $ARCH missing: dpkg --add-architecture $ARCH; apt-get install libasound2-dev:$ARCH (or pass --no-mic)" >&2
    exit 1
fi

# The shipped examples (not the developer tools among them, e.g. mfcc_config_sweep):
# each is a separate link, and a fat-LTO link of a binary with tract takes minutes.
BINS=(--bin wordspot --example search)
if [ $MIC = 1 ]; then BINS+=(--example listen --example enroll --example field_recorder); fi

CARGO=(cargo --config cross/config.toml)
"${CARGO[@]}" build --profile "$PROFILE" --target "$TARGET" "${FEATURES[@]}" "${BINS[@]}"

OUT=dist/$TARGET
rm -rf "$OUT" # only what this build made (a --no-mic build has no listen/enroll)
mkdir -p "$OUT"
case $PROFILE in dev) DIR=debug ;; *) DIR=$PROFILE ;; esac
SRC=${CARGO_TARGET_DIR:-target}/$TARGET/$DIR
for b in wordspot examples/listen examples/enroll examples/search examples/field_recorder; do
    if [ -f "$SRC/$b" ]; then
        "$TRIPLE-strip" -o "$OUT/$(basename "$b")" "$SRC/$b"
    fi
done
ls -l "$OUT"
file "$OUT"/* 2>/dev/null || true

if [ $TEST = 1 ]; then
    # The whole test suite, built for TARGET and run under qemu-user (the
    # runner in cross/config.toml); tests that start the CLI start it through
    # $WORDSPOT_TEST_RUNNER.
    QEMU=qemu-${TRIPLE%%-*} # qemu-aarch64, qemu-arm
    command -v "$QEMU" >/dev/null ||
        { echo "cross/build.sh: $QEMU missing (apt-get install qemu-user)" >&2; exit 1; }
    if ! [ -e "/lib/$TRIPLE/libc.so.6" ] && ! [ -e "/usr/lib/$TRIPLE/libc.so.6" ]; then
        # No multiarch libc6:$ARCH: use the cross toolchain's loader and libc.
        export QEMU_LD_PREFIX=/usr/$TRIPLE
    fi
    # The stripped CLI as shipped: the bundled demo (enroll, listen, search;
    # over 20 minutes under qemu with the dev profile).
    if [ $DEMO = 1 ]; then
        echo "cross/build.sh: $OUT/wordspot demo under $QEMU" >&2
        "$QEMU" "$OUT/wordspot" demo
    else
        "$QEMU" "$OUT/wordspot" --version
    fi
    export WORDSPOT_TEST_RUNNER=$QEMU
    "${CARGO[@]}" test --target "$TARGET" "${FEATURES[@]}" "${ONLY[@]}" -- "${TEST_ARGS[@]}"
fi
