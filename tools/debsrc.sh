#!/bin/sh
# Fetch one file of a Debian source package from trixie through a private apt
# configuration, check its sha256 and leave it in DEST.
#   tools/debsrc.sh PACKAGE FILE SHA256 DEST
# The mirror is the one this machine's own apt configuration uses; the system's
# apt sources and state are never touched.  No root needed.
set -eu
pkg=$1 file=$2 sha=$3 dest=$4
mkdir -p "$dest"
if [ -f "$dest/$file" ] && echo "$sha  $dest/$file" | sha256sum -c --status; then
    exit 0
fi

mirror=$(
    { cat /etc/apt/sources.list.d/*.sources 2>/dev/null; } |
        awk '/^URIs:/ {u=$2} /^Suites:/ {if ($0 !~ /security/ && u != "") {print u; exit}}'
)
if [ -z "$mirror" ]; then
    mirror=$(awk '$1 == "deb" && $0 !~ /security/ {for (i = 2; i <= NF; i++) if ($i ~ /^[a-z]+:\/\//) {print $i; exit}}' \
        /etc/apt/sources.list 2>/dev/null || true)
fi
if [ -z "$mirror" ]; then
    echo "debsrc: no Debian mirror found in /etc/apt/sources.list{,.d}" >&2
    exit 1
fi

apt_dir=$(cd "$dest" && pwd)/apt
mkdir -p "$apt_dir/lists/partial" "$apt_dir/cache/archives/partial"
echo "deb-src $mirror trixie main" > "$apt_dir/sources.list"
apt_opts="-o Dir::Etc::SourceList=$apt_dir/sources.list -o Dir::Etc::SourceParts=/dev/null
          -o Dir::State::Lists=$apt_dir/lists -o Dir::Cache=$apt_dir/cache
          -o Debug::NoLocking=1 -o APT::Sandbox::User=root -q"
if ! ls "$apt_dir/lists/"*Sources* >/dev/null 2>&1; then
    # shellcheck disable=SC2086
    apt-get $apt_opts update >&2
fi
tmp=$(mktemp -d)
# shellcheck disable=SC2086
(cd "$tmp" && apt-get $apt_opts source --download-only "$pkg" >&2)
if ! echo "$sha  $tmp/$file" | sha256sum -c --status; then
    echo "debsrc: $file: missing or sha256 mismatch (want $sha)" >&2
    ls -l "$tmp" >&2
    rm -rf "$tmp"
    exit 1
fi
mv "$tmp/$file" "$dest/$file"
rm -rf "$tmp"
