#!/bin/sh
# Render a nightly report page in headless Chromium and save a screenshot.
#
#   bench/render_report.sh artifacts/reports/2024-05-31/index.html [out.png]
#
# Default out: screenshot.png beside the page. Needs Debian's chromium
# (apt-get install -y chromium). Every network feature is off: the page
# must render from its own bytes. Exit status: chromium's, or 2 for usage.
set -eu

if [ $# -lt 1 ] || [ $# -gt 2 ] || [ ! -f "$1" ]; then
    echo "usage: $0 REPORT_HTML [OUT_PNG]" >&2
    exit 2
fi
page=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
out=${2:-$(dirname "$page")/screenshot.png}
browser=${CHROMIUM:-chromium}
profile=$(mktemp -d)
trap 'rm -rf "$profile"' EXIT

rm -f "$out"
"$browser" --headless --no-sandbox --disable-gpu --disable-quic \
    --no-first-run --disable-background-networking --disable-component-update \
    --disable-sync --user-data-dir="$profile" --hide-scrollbars \
    --screenshot="$out" --window-size=1400,1800 "file://$page" \
    >/dev/null 2>&1 </dev/null
test -s "$out"
echo "$out"
