#!/usr/bin/env bash
# Debian's busybox packages have no tftpd applet, yet busybox tftpd is one of
# the TFTP servers wirebox's client must work with. This builds a minimal
# busybox (tftpd and udpsvd only) from Debian's source package and installs
# it as /usr/local/bin/busybox-tftpd, beside the packaged busybox. ~15 s.
set -euo pipefail

if command -v busybox-tftpd >/dev/null 2>&1; then exit 0; fi
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/lists/partial" "$work/cache/archives/partial" "$work/parts"
cat > "$work/parts/source.sources" <<SOURCES
Types: deb-src
URIs: http://deb.debian.org/debian
Suites: $(. /etc/os-release && echo "$VERSION_CODENAME")
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SOURCES
apt_options=(-o Dir::Etc::SourceList=/dev/null -o "Dir::Etc::SourceParts=$work/parts"
  -o "Dir::State::Lists=$work/lists" -o "Dir::Cache=$work/cache" -q)
apt-get "${apt_options[@]}" update >/dev/null
(cd "$work" && apt-get "${apt_options[@]}" --download-only source busybox >/dev/null 2>&1)

mkdir "$work/build"
tar xjf "$work"/busybox_*.orig.tar.bz2 -C "$work/build" --strip-components=1
cd "$work/build"
make allnoconfig >/dev/null
for option in TFTPD FEATURE_TFTP_GET FEATURE_TFTP_PUT FEATURE_TFTP_BLOCKSIZE UDPSVD; do
  sed -i "s/^# CONFIG_$option is not set/CONFIG_$option=y/" .config
done
(yes "" || true) | make oldconfig >/dev/null  # yes dies of SIGPIPE when make is done
make -j"$(nproc)" busybox >/dev/null
$SUDO install -m 0755 busybox /usr/local/bin/busybox-tftpd
echo "built /usr/local/bin/busybox-tftpd"
