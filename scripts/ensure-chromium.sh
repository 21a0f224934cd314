#!/usr/bin/env bash
# The browser suite drives Debian's Chromium (playwright cannot download its own browser here).
# Installs it when missing and we may (root with apt); otherwise says what to do.
set -euo pipefail
CHROMIUM="${CHROMIUM_PATH:-/usr/bin/chromium}"
[ -x "$CHROMIUM" ] && exit 0
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  echo "Installing Debian's chromium for the browser tests (about a minute)…"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
  exit 0
fi
echo "error: the browser tests need Chromium at $CHROMIUM: install your distribution's chromium package," >&2
echo "       or set CHROMIUM_PATH to a Chromium/Chrome binary." >&2
exit 1
