#!/usr/bin/env bash
# Copies a dynamically linked program and everything the dynamic loader maps for it (the shared
# libraries ldd lists and the loader itself) into a root file system directory, each at the path
# ldd reports, so the program runs in an image with nothing else (FROM scratch).
#
# usage: scripts/bundle_binary.sh BINARY ROOT_DIR INSTALL_PATH
#   e.g. scripts/bundle_binary.sh build/triaged /rootfs /usr/local/bin/triaged
#
# Libraries a program loads itself with dlopen() are not listed by ldd; triaged loads none
# (glibc 2.34+ has the files and DNS lookups built into libc.so.6).
set -euo pipefail
if (($# != 3)); then
  echo "usage: $0 BINARY ROOT_DIR INSTALL_PATH" >&2
  exit 2
fi
binary=$1 root=$2 install_path=$3

listing=$(ldd "$binary")
if grep -q 'not found' <<<"$listing"; then
  printf '%s\n' "$listing" >&2
  echo "bundle_binary: $binary needs a library that is not installed" >&2
  exit 1
fi
install -D -m 0755 "$binary" "$root$install_path"
# "libfoo.so.1 => /lib/x86_64-linux-gnu/libfoo.so.1 (0x...)": a library, installed as a file
# (not the symlink) at the path the loader will look for.
for lib in $(awk '$2 == "=>" && $3 ~ /^\// {print $3}' <<<"$listing"); do
  install -D -m 0644 "$(readlink -f "$lib")" "$root$lib"
done
# "/lib64/ld-linux-x86-64.so.2 (0x...)": the program interpreter; the kernel executes it, so it
# keeps its execute bit.
for loader in $(awk '$1 ~ /^\// {print $1}' <<<"$listing"); do
  install -D -m 0755 "$(readlink -f "$loader")" "$root$loader"
done
