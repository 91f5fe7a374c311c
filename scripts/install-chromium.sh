#!/usr/bin/env bash
# Installs headless Chromium for the dashboard's browser test
# (node/dashboard_test.go). Idempotent: does nothing when chromium (or
# another Chromium/Chrome binary the test finds) is already on PATH.
# Debian/Ubuntu only; elsewhere install Chromium yourself, or set
# DIVOC_SKIP_BROWSER=1 to skip the browser test.
set -euo pipefail

for b in chromium chromium-browser google-chrome google-chrome-stable; do
	if command -v "$b" >/dev/null 2>&1; then
		exit 0
	fi
done
if [ "${DIVOC_SKIP_BROWSER:-}" = 1 ]; then
	echo "install-chromium: DIVOC_SKIP_BROWSER=1, not installing" >&2
	exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
	echo "install-chromium: no apt-get here; install Chromium yourself or set DIVOC_SKIP_BROWSER=1" >&2
	exit 1
fi
sudo=""
if [ "$(id -u)" != 0 ]; then
	sudo="sudo"
fi
echo "install-chromium: installing chromium (apt-get)" >&2
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends chromium fonts-dejavu-core >/dev/null
command -v chromium >/dev/null
