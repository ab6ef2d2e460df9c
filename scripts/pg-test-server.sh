#!/bin/sh
# PostgreSQL from Debian's packages for the tests that need a real server (the service's
# shared journal): install it if missing, start the cluster, make a superuser role for this
# user, and print a URL to reach it. Prints nothing (and says why on stderr) when no server can
# be had; the tests that need one are then skipped with that reason.
set -u
say() { echo "pg-test-server: $*" >&2; }
if ! command -v pg_lsclusters >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
  say "installing postgresql"
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql) \
    >/dev/null 2>&1 || say "apt-get install postgresql failed"
fi
command -v pg_lsclusters >/dev/null 2>&1 || { say "postgresql is not installed"; exit 0; }
line=$(pg_lsclusters -h | head -n 1)
if [ -z "$line" ] && [ "$(id -u)" = 0 ]; then
  ver=$(ls /usr/lib/postgresql | sort -n | tail -n 1)
  pg_createcluster "$ver" main >/dev/null 2>&1
  line=$(pg_lsclusters -h | head -n 1)
fi
set -- $line
[ "${4:-}" = online ] || pg_ctlcluster "$1" "$2" start >/dev/null 2>&1 || say "cannot start cluster $1/$2"
me=$(id -un)
if [ "$(id -u)" = 0 ]; then
  su postgres -c "psql -tAc \"SELECT 1 FROM pg_roles WHERE rolname = '$me'\"" 2>/dev/null | grep -q 1 \
    || su postgres -c "createuser -s $me" >/dev/null 2>&1
fi
url="postgresql:///postgres?host=/var/run/postgresql"
if psql "$url" -tAc 'SELECT 1' >/dev/null 2>&1; then echo "$url"; else say "no server answers"; fi
