#!/usr/bin/env bash
# Starts the services the integration tests use, when they are not already running:
#   PostgreSQL on 127.0.0.1:5432 (the local cluster, trust auth, database "test")
#   versitygw (S3-compatible) on 127.0.0.1:7070, access key K, secret S
# The tests' defaults match (PIXMILL_TEST_POSTGRES_DSN, PIXMILL_TEST_S3_* override
# them), so nothing is exported. Safe to run again: running services are left alone.
# versitygw is built once into $(go env GOPATH)/bin and reused.
#
# Environment: VERSITYGW_VERSION (v1.8.0), VERSITYGW_ADDR (127.0.0.1:7070),
# VERSITYGW_DIR (${TMPDIR:-/tmp}/pixmill-versitygw), PIXMILL_TEST_S3_ACCESS_KEY (K),
# PIXMILL_TEST_S3_SECRET_KEY (S), SERVICE_TIMEOUT seconds to wait for each (30).
set -euo pipefail

VERSITYGW_VERSION=${VERSITYGW_VERSION:-v1.8.0}
VERSITYGW_ADDR=${VERSITYGW_ADDR:-127.0.0.1:7070}
VERSITYGW_DIR=${VERSITYGW_DIR:-${TMPDIR:-/tmp}/pixmill-versitygw}
S3_ACCESS=${PIXMILL_TEST_S3_ACCESS_KEY:-K}
S3_SECRET=${PIXMILL_TEST_S3_SECRET_KEY:-S}
SERVICE_TIMEOUT=${SERVICE_TIMEOUT:-30}
PG_HOST=127.0.0.1
PG_PORT=5432

log() { printf 'integration-services: %s\n' "$*"; }
die() { printf 'integration-services: error: %s\n' "$*" >&2; exit 1; }

# wait_for DESCRIPTION COMMAND...: runs COMMAND until it succeeds or the deadline passes.
wait_for() {
	local what=$1; shift
	local deadline=$((SECONDS + SERVICE_TIMEOUT))
	until "$@" >/dev/null 2>&1; do
		if ((SECONDS >= deadline)); then
			return 1
		fi
		sleep 0.2
	done
	log "$what is ready"
}

# tcp_open HOST:PORT: whether something accepts connections there.
tcp_open() {
	local host=${1%:*} port=${1##*:}
	(exec 3<>"/dev/tcp/$host/$port") 2>/dev/null
}

pg_ready() { pg_isready -q -h "$PG_HOST" -p "$PG_PORT"; }

start_postgres() {
	command -v pg_isready >/dev/null || die "pg_isready not found: install PostgreSQL (apt-get install postgresql)"
	if pg_ready; then
		log "PostgreSQL already accepting connections on $PG_HOST:$PG_PORT"
		return
	fi
	command -v pg_ctlcluster >/dev/null || die "PostgreSQL is not running on $PG_HOST:$PG_PORT and pg_ctlcluster is missing"
	local version
	version=$(ls /etc/postgresql 2>/dev/null | sort -V | tail -n1)
	[[ -n $version ]] || die "no PostgreSQL cluster under /etc/postgresql"
	log "starting PostgreSQL $version (cluster main)"
	pg_ctlcluster --skip-systemctl-redirect "$version" main start ||
		die "pg_ctlcluster $version main start failed"
	wait_for "PostgreSQL on $PG_HOST:$PG_PORT" pg_ready ||
		die "PostgreSQL did not accept connections within ${SERVICE_TIMEOUT}s"
}

start_versitygw() {
	command -v go >/dev/null || die "go not found: needed to install versitygw"
	local gobin bin
	gobin=$(go env GOBIN)
	[[ -n $gobin ]] || gobin=$(go env GOPATH)/bin
	bin=$gobin/versitygw

	if tcp_open "$VERSITYGW_ADDR"; then
		log "S3 server already listening on $VERSITYGW_ADDR"
		return
	fi
	if [[ ! -x $bin ]]; then
		log "installing versitygw $VERSITYGW_VERSION into $gobin (about 1.5 min, once per machine)"
		local start=$SECONDS
		GOBIN=$gobin GOFLAGS= go install "github.com/versity/versitygw/cmd/versitygw@$VERSITYGW_VERSION" ||
			die "go install versitygw@$VERSITYGW_VERSION failed"
		log "installed versitygw in $((SECONDS - start))s"
	else
		log "using cached $bin"
	fi

	mkdir -p "$VERSITYGW_DIR/data"
	local logfile=$VERSITYGW_DIR/versitygw.log
	log "starting versitygw on $VERSITYGW_ADDR, data in $VERSITYGW_DIR/data, log $logfile"
	# setsid: the server outlives this script and the CI step that ran it.
	setsid "$bin" --port "$VERSITYGW_ADDR" --access "$S3_ACCESS" --secret "$S3_SECRET" --quiet \
		posix "$VERSITYGW_DIR/data" >"$logfile" 2>&1 </dev/null &
	echo $! >"$VERSITYGW_DIR/versitygw.pid"
	if ! wait_for "versitygw on $VERSITYGW_ADDR (pid $(cat "$VERSITYGW_DIR/versitygw.pid"))" tcp_open "$VERSITYGW_ADDR"; then
		tail -n 20 "$logfile" >&2 || true
		die "versitygw did not listen on $VERSITYGW_ADDR within ${SERVICE_TIMEOUT}s"
	fi
}

start_postgres
start_versitygw
log "done"
