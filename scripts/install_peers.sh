#!/usr/bin/env bash
# Installs the real programs wirebox is tested and benchmarked against, from
# Debian: tftp-hpa, tftpd-hpa, atftp, atftpd, curl, busybox, ncat, socat,
# netcat-openbsd, python3, chromium, iperf3 (the bench's UDP ceiling), ngircd
# (the bench's IRC server). Needs root (or sudo). Safe to re-run.
#
# atftpd conflicts with tftpd-hpa as a package, so its .deb is unpacked into
# /opt/atftpd and linked as /usr/local/sbin/atftpd instead of installed.
set -euo pipefail

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive

packages=(tftp-hpa tftpd-hpa atftp curl busybox ncat socat netcat-openbsd python3 chromium procps iperf3 ngircd
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
  # Packages with a daemon (ngircd on port 6667, tftpd-hpa on 69) would start it
  # on install; the tests and the bench start their own. A policy-rc.d that
  # exits 101 forbids that; one we put there is removed afterwards.
  policy=/usr/sbin/policy-rc.d
  own_policy=""
  if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\nexit 101\n' | $SUDO tee "$policy" >/dev/null
    $SUDO chmod 755 "$policy"
    own_policy=1
  fi
  status=0
  $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}" || status=$?
  if [ -n "$own_policy" ]; then $SUDO rm -f "$policy"; fi
  if [ "$status" -ne 0 ]; then exit "$status"; fi
fi

# Should an ngircd daemon run all the same (a policy-rc.d that allows it), stop
# that one process, by the PID its package's config has it write.
for pidfile in /run/ngircd/ngircd.pid /var/run/ngircd/ngircd.pid; do
  pid=$(cat "$pidfile" 2>/dev/null || true)
  if [ -n "$pid" ] && [ "$(cat "/proc/$pid/comm" 2>/dev/null || true)" = ngircd ]; then
    echo "stopping the ngircd daemon its package started (PID $pid)"
    $SUDO kill "$pid"
    break
  fi
done

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

for program in tftp in.tftpd atftp atftpd busybox-tftpd curl busybox ncat socat nc python3 chromium ngircd; do
  command -v "$program" >/dev/null 2>&1 || { echo "missing after install: $program" >&2; exit 1; }
done
echo "peers ready"
