#!/usr/bin/env bash
# Screenshot of an inspection report (or any page of it) in headless
# Chromium, to check how it looks without a desktop. Debian/Ubuntu:
# apt-get install chromium. --no-sandbox lets it run as root in a container.
#
#   tools/screenshot_report.sh work_dirs/infer/index.html report.png
#   tools/screenshot_report.sh 'work_dirs/infer/photos/IMG_1.html#crack-3' \
#       crack.png 1400,1200
set -euo pipefail
if [ $# -lt 1 ]; then
    echo "usage: $0 PAGE.html[#fragment] [OUT.png] [WIDTH,HEIGHT]" >&2
    exit 2
fi
page=${1%%#*}
fragment=${1#"$page"}
out=$(realpath -m "${2:-report.png}")
size=${3:-1400,2000}
[ -f "$page" ] || { echo "no such page: $page" >&2; exit 1; }
profile=$(mktemp -d)
trap 'rm -rf "$profile"' EXIT
chromium --headless --no-sandbox --disable-gpu --disable-quic \
    --no-first-run --disable-background-networking \
    --disable-component-update --disable-sync --user-data-dir="$profile" \
    --screenshot="$out" --window-size="$size" \
    "file://$(realpath "$page")$fragment"
echo "$out"
