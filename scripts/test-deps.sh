#!/usr/bin/env bash
# Makes sure the Debian packages the tests use are present; installs the missing ones when run as root
# (CI, a fresh machine), otherwise says what to install. Run by `npm test` (pretest) and by .ci/run.
#
# - postgresql-15: a real PostgreSQL 15 server producing real WAL (integration and end-to-end tests)
# - lz4, zstd, brotli, xz-utils: the command-line tools that write archive objects as WAL-G's compressors do
# - chromium: the dashboard's browser tests (driven by playwright-core; never `npx playwright install`)
# - openssl: a throw-away TLS certificate for the hosted dashboard's local Cognito endpoint
# - prometheus: promtool checks /metrics and unit-tests deploy/prometheus/walwatch-rules.yml
# - patroni, etcd-server: the Patroni HA test bed (test/support/patroni/): three PostgreSQL nodes run by a
#   real Patroni 3 with one etcd member, failing over, switching over and rewinding as in production
set -euo pipefail

need=()
[ -x /usr/lib/postgresql/15/bin/initdb ] || need+=(postgresql-15)
command -v lz4 >/dev/null || need+=(lz4)
command -v zstd >/dev/null || need+=(zstd)
command -v brotli >/dev/null || need+=(brotli)
command -v xz >/dev/null || need+=(xz-utils)
[ -x /usr/bin/chromium ] || need+=(chromium)
command -v openssl >/dev/null || need+=(openssl)
command -v promtool >/dev/null || need+=(prometheus)
[ -x /usr/bin/patroni ] && [ -x /usr/bin/patronictl ] || need+=(patroni)
[ -x /usr/bin/etcd ] || need+=(etcd-server)

if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "walwatch tests: installing ${need[*]}…" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
  else
    echo "walwatch tests need these Debian packages: ${need[*]}" >&2
    echo "install them with: sudo apt-get install ${need[*]}" >&2
    exit 1
  fi
fi

# moto_server (S3 + SQS with real bucket notifications) comes with the machine image's Python and is not
# installable from the package registries here; without it the S3 → SQS tests are skipped, loudly.
command -v moto_server >/dev/null || echo "!!! moto_server not on PATH: the S3 -> SQS integration tests will be SKIPPED !!!" >&2
exit 0
