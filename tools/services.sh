#!/usr/bin/env bash
# Start or stop the local services ddbload's demo and tests run against, on loopback only:
#   s3rver   (S3; accepts access key S3RVER, secret S3RVER: it checks the key id, not V4 signatures)
#   dynalite (DynamoDB's API on an in-memory LevelDB)
# usage: tools/services.sh start STATE_DIR   -> writes STATE_DIR/env (sourceable) and pid files
#        tools/services.sh stop  STATE_DIR
#        tools/services.sh status STATE_DIR
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
cmd=${1:-}
state=${2:-}
[ -n "$cmd" ] && [ -n "$state" ] || { echo "usage: $0 start|stop|status STATE_DIR" >&2; exit 2; }
mods="$here/services/node_modules"

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

wait_http() { # url, name, pidfile: poll until the service answers (bounded: 30 s)
    local url=$1 name=$2 pid
    pid=$(cat "$3")
    for _ in $(seq 1 300); do
        if curl -s -o /dev/null --max-time 1 "$url"; then return 0; fi
        if ! kill -0 "$pid" 2>/dev/null; then
            echo "services: $name exited during start-up; its log:" >&2
            cat "$state/$name.log" >&2
            return 1
        fi
        sleep 0.1
    done
    echo "services: $name did not answer at $url within 30 s" >&2
    return 1
}

stop_one() {
    local f="$state/$1.pid"
    [ -f "$f" ] || return 0
    local pid
    pid=$(cat "$f")
    if kill -0 "$pid" 2>/dev/null; then
        kill "$pid" 2>/dev/null || true
        for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        kill -9 "$pid" 2>/dev/null || true
    fi
    rm -f "$f"
}

case "$cmd" in
start)
    [ -x "$mods/.bin/s3rver" ] && [ -x "$mods/.bin/dynalite" ] ||
        { echo "services: npm packages missing; run tools/setup.sh first" >&2; exit 1; }
    mkdir -p "$state"
    state=$(cd "$state" && pwd)
    stop_one s3rver
    stop_one dynalite
    rm -rf "$state/s3data"
    mkdir -p "$state/s3data"
    s3port=$(free_port)
    ddbport=$(free_port)
    # s3rver's continuation tokens use DES, which Node 17+ only offers with the legacy provider.
    setsid node --openssl-legacy-provider "$mods/s3rver/bin/s3rver.js" -a 127.0.0.1 -p "$s3port" \
        -d "$state/s3data" --silent >"$state/s3rver.log" 2>&1 < /dev/null &
    echo $! >"$state/s3rver.pid"
    setsid node "$mods/dynalite/cli.js" --host 127.0.0.1 --port "$ddbport" --createTableMs 0 \
        --deleteTableMs 0 --updateTableMs 0 >"$state/dynalite.log" 2>&1 < /dev/null &
    echo $! >"$state/dynalite.pid"
    wait_http "http://127.0.0.1:$s3port/" s3rver "$state/s3rver.pid"
    wait_http "http://127.0.0.1:$ddbport/" dynalite "$state/dynalite.pid"
    cat >"$state/env" <<ENV
export DDBLOAD_TEST_S3_ENDPOINT=http://127.0.0.1:$s3port
export DDBLOAD_TEST_DYNAMODB_ENDPOINT=http://127.0.0.1:$ddbport
export AWS_ACCESS_KEY_ID=S3RVER
export AWS_SECRET_ACCESS_KEY=S3RVER
export AWS_REGION=us-east-1
export AWS_DEFAULT_REGION=us-east-1
ENV
    ;;
stop)
    stop_one s3rver
    stop_one dynalite
    ;;
status)
    for s in s3rver dynalite; do
        if [ -f "$state/$s.pid" ] && kill -0 "$(cat "$state/$s.pid")" 2>/dev/null; then
            echo "$s: running (pid $(cat "$state/$s.pid"))"
        else
            echo "$s: stopped"
        fi
    done
    ;;
*)
    echo "usage: $0 start|stop|status STATE_DIR" >&2; exit 2 ;;
esac
