#!/usr/bin/env bash
# Installs the real programs wirebox is tested and benchmarked against, from
# Debian: tftp-hpa, tftpd-hpa, atftp, atftpd, curl, busybox, ncat, socat,
# netcat-openbsd, python3, chromium, iperf3 (the bench's UDP ceiling). Needs root (or sudo). Safe to re-run.
#
# atftpd conflicts with tftpd-hpa as a package, so its .deb is unpacked into
# /opt/atftpd and linked as /usr/local/sbin/atftpd instead of installed.
set -euo pipefail

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive

packages=(tftp-hpa tftpd-hpa atftp curl busybox ncat socat netcat-openbsd python3 chromium procps iperf3
  gcc make libc6-dev bzip2)  # the last four build busybox-tftpd
missing=()
for package in "${packages[@]}"; do
  dpkg -s "$package" >/dev/null 2>&1 || missing+=("$package")
done
# atftpd's runtime libraries, for the unpacked binary.
for package in libwrap0 libpcre2-8-0; do
  dpkg -s "$package" >/dev/null 2>&1 || missing+=("$package")
done

if [ "${#missing[@]}" -gt 0 ]; then
  echo "installing: ${missing[*]}"
  $SUDO apt-get update -q
  $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

if ! command -v atftpd >/dev/null 2>&1; then
  work=$(mktemp -d)
  (cd "$work" && apt-get download atftpd)
  $SUDO mkdir -p /opt/atftpd
  $SUDO dpkg -x "$work"/atftpd_*.deb /opt/atftpd
  $SUDO ln -sf /opt/atftpd/usr/sbin/atftpd /usr/local/sbin/atftpd
  rm -rf "$work"
fi

"$(dirname "$0")/build_busybox_tftpd.sh"

# tftpd-hpa's package may start a daemon on port 69; wirebox's tests start their own peers.
if command -v service >/dev/null 2>&1; then $SUDO service tftpd-hpa stop >/dev/null 2>&1 || true; fi

for program in tftp in.tftpd atftp atftpd busybox-tftpd curl busybox ncat socat nc python3 chromium; do
  command -v "$program" >/dev/null 2>&1 || { echo "missing after install: $program" >&2; exit 1; }
done
echo "peers ready"
