#!/usr/bin/env bash
# Downloads the paper's trigger set (100 images and labels-cifar.txt, MIT licence) from the original
# repository, github.com/adiyoss/WatermarkNN, into DIR, for the tests that use it:
#   scripts/get-paper-trigger-set.sh DIR && export WMNN_PAPER_TRIGGER_SET=DIR
# (or use DIR = ../shared/trigger_set beside this repository, where the tests look by default).
# Needs curl or wget, tar and sha256sum. DIR must not exist yet (or be empty); nothing is left in
# it unless every check passes.
set -euo pipefail

REPO=adiyoss/WatermarkNN
# A fixed commit, so the content is fixed: the digest below is that of its data/trigger_set.
COMMIT=448bf51384dc29f779325323ac1041b59e099bc5
URL="https://codeload.github.com/$REPO/tar.gz/$COMMIT"
IMAGES=100
# sha256 over `sha256sum` of pics/* and labels-cifar.txt, sorted by path (see digest() below).
DIGEST=ad624771f36c14347e68190c7f24ff71fd184ac2e78efcc176e037dabcfe5d8f

fail() { echo "get-paper-trigger-set: $*" >&2; exit 1; }

[ $# -eq 1 ] && [ -n "$1" ] || fail "usage: $0 DIR (the folder to create, e.g. ../shared/trigger_set)"
dest=$1
if [ -e "$dest" ] && [ -n "$(ls -A "$dest" 2>/dev/null || echo x)" ]; then
  fail "$dest already exists and is not an empty folder"
fi
parent=$(dirname "$dest")
mkdir -p "$parent"
# The work folder sits beside DIR, so the last step is a rename on one file system.
work=$(mktemp -d "$parent/.paper-trigger-set.XXXXXX")
trap 'rm -rf "$work"' EXIT

echo "Downloading $URL"
if command -v curl >/dev/null; then
  curl --fail --location --silent --show-error --retry 2 --output "$work/repo.tar.gz" "$URL"
elif command -v wget >/dev/null; then
  wget --quiet --output-document="$work/repo.tar.gz" "$URL"
else
  fail "neither curl nor wget is installed"
fi

mkdir "$work/repo"
tar -xzf "$work/repo.tar.gz" -C "$work/repo" --strip-components=1 || fail "$URL: not a readable tar.gz"
set_dir="$work/repo/data/trigger_set"
[ -d "$set_dir/pics" ] && [ -f "$set_dir/labels-cifar.txt" ] || fail "$URL: no data/trigger_set/pics or labels-cifar.txt in the archive"

count=$(find "$set_dir/pics" -type f | wc -l)
[ "$count" -eq "$IMAGES" ] || fail "$set_dir/pics: $count files, expected $IMAGES"
labels=$(grep -c '[^[:space:]]' "$set_dir/labels-cifar.txt" || true)
[ "$labels" -eq "$IMAGES" ] || fail "$set_dir/labels-cifar.txt: $labels labels, expected $IMAGES"

digest() { (cd "$1" && find pics labels-cifar.txt -type f | LC_ALL=C sort | xargs sha256sum | sha256sum | cut -d' ' -f1); }
got=$(digest "$set_dir")
[ "$got" = "$DIGEST" ] || fail "the downloaded set's digest is $got, expected $DIGEST (not the files of commit $COMMIT)"

# The MIT licence travels with the images.
cp "$work/repo/LICENSE" "$set_dir/LICENSE-original.txt"
rmdir "$dest" 2>/dev/null || true
mv "$set_dir" "$dest"
echo "The paper's trigger set ($IMAGES images, labels-cifar.txt) is in $dest"
echo "For the tests: export WMNN_PAPER_TRIGGER_SET=$(cd "$dest" && pwd)"
