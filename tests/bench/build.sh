#!/bin/bash
# build.sh — builds the benchmark's programs from the objects `make all
# tools` left in build/release (media/, core/, tests/peer/): kamer-load (the
# load client), kamer-floor (the ideal forwarder) and the load client's unit
# test. Same flags as the Makefile; rebuilds only what is older than its
# sources. Usage: tests/bench/build.sh [MODE]   (release or asan)
set -eu
cd "$(dirname "$0")/../.."
MODE=${1:-release}
B=build/$MODE
PKGS="libwebsockets nice glib-2.0 libsrtp2 jansson openssl opus vpx"
CF="-std=c17 -D_GNU_SOURCE -I. $(pkg-config --cflags $PKGS) -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes -Wno-unused-parameter"
if [ "$MODE" = asan ]; then
	CF="$CF -O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all"
else
	CF="$CF -O2 -g -fstack-protector-strong -D_FORTIFY_SOURCE=2"
fi
LIBS="$(pkg-config --libs $PKGS) -lpthread -lm"
MEDIA="$(ls $B/media/*.o $B/core/*.o)"
PEER="$(ls $B/tests/peer/*.o | grep -v '/main\.o$')"
[ -n "$MEDIA" ] && [ -n "$PEER" ] || { echo "build.sh: run make all tools (MODE=$MODE) first" >&2; exit 1; }
LOAD_SRCS="tests/bench/load_src.c tests/bench/load_media.c tests/bench/load_kamer.c tests/bench/load_janus.c tests/bench/bws.c"
mkdir -p $B/tests/bench

stale() { # stale TARGET SOURCES...: true when TARGET is missing or older than one of them
	local t=$1 s
	shift
	[ -e "$t" ] || return 0
	for s in "$@" tests/bench/*.h tests/peer/*.h media/*.h; do [ "$s" -nt "$t" ] && return 0; done
	return 1
}
build() { # build TARGET SOURCES... -- OBJECTS...
	local t=$1
	shift
	echo "  LD      $t"
	cc $CF -o "$t" "$@" $LIBS
}
stale $B/kamer-load tests/bench/load.c $LOAD_SRCS $MEDIA $PEER &&
	build $B/kamer-load tests/bench/load.c $LOAD_SRCS $MEDIA $PEER
stale $B/kamer-floor tests/bench/floor.c $B/media/srtp.o $B/media/srtp_gcm.o &&
	build $B/kamer-floor tests/bench/floor.c $B/media/srtp.o $B/media/srtp_gcm.o $B/core/*.o
if [ -e tests/bench/load_test.c ]; then
	stale $B/tests/bench/load_test tests/bench/load_test.c $LOAD_SRCS &&
		build $B/tests/bench/load_test -Wno-missing-prototypes tests/bench/load_test.c $LOAD_SRCS $MEDIA $PEER \
			$(pkg-config --libs cmocka)
fi
exit 0
