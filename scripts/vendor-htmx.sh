#!/usr/bin/env bash
# Fetch the dashboard's htmx from the npm registry into services/api/web/static/ (committed:
# nothing is fetched at build or run time). Needs npm; checks the digest of the version pinned.
set -euo pipefail
VERSION=2.0.11
SHA256=d6fdc75f204e6bdefa99b69bf1e6d4ac69b8a364f77929f45c13476b4000f717
here=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
(cd "$work" && npm pack --silent "htmx.org@$VERSION" >/dev/null && tar xzf "htmx.org-$VERSION.tgz")
echo "$SHA256  $work/package/dist/htmx.min.js" | sha256sum -c --quiet
cp "$work/package/dist/htmx.min.js" "$here/services/api/web/static/htmx.min.js"
cp "$work/package/LICENSE" "$here/services/api/web/static/htmx.LICENSE.txt"
echo "htmx $VERSION vendored"
