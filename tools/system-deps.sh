#!/bin/sh
# Install the Debian/Ubuntu packages broadcaster needs, if any are missing.
# Usage: tools/system-deps.sh PACKAGE...
# As root (or with password-less sudo) it installs them; otherwise it prints the command to run.
missing=""
for pkg in "$@"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing="$missing $pkg"
done
[ -z "$missing" ] && exit 0
if ! command -v apt-get >/dev/null 2>&1; then
    echo "broadcaster needs these system packages (or your system's equivalents):$missing" >&2
    echo "Install them with your package manager, then run make again." >&2
    exit 0
fi
if [ "$(id -u)" = 0 ]; then
    sudo=""
elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    sudo="sudo"
else
    echo "broadcaster needs these packages:$missing" >&2
    echo "Ask an administrator to run:  sudo apt-get install -y$missing" >&2
    exit 0
fi
echo "Installing system packages:$missing"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get install -y -q --no-install-recommends $missing >/dev/null 2>&1 || {
    $sudo apt-get update -q >/dev/null && $sudo apt-get install -y -q --no-install-recommends $missing >/dev/null
} || { echo "could not install:$missing (see apt-get's messages above)" >&2; exit 1; }
