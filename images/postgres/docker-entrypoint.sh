#!/usr/bin/env bash
# Written for the lab image; the environment contract of the official postgres image:
#   POSTGRES_PASSWORD / POSTGRES_PASSWORD_FILE  superuser password (required unless
#                                               POSTGRES_HOST_AUTH_METHOD=trust)
#   POSTGRES_USER (postgres)  POSTGRES_DB ($POSTGRES_USER)  POSTGRES_INITDB_ARGS
#   POSTGRES_HOST_AUTH_METHOD (scram-sha-256)   PGDATA (/var/lib/postgresql/data)
#   /docker-entrypoint-initdb.d/*.sh (executed if executable, else sourced), *.sql, *.sql.gz
# run once, on an empty data directory, against a server listening on the socket only.
# Runs as the container's user (the plan sets 70:70); as root it re-executes itself as postgres.
set -Eeuo pipefail

log() { printf '%s [entrypoint] %s\n' "$(date -u +%FT%TZ)" "$*" >&2; }

# VAR or VAR_FILE (never both), like the official image's file_env
file_env() {
	local var="$1" default="${2:-}" file_var="${1}_FILE"
	if [ -n "${!var:-}" ] && [ -n "${!file_var:-}" ]; then
		log "error: both $var and $file_var are set (but are exclusive)"
		exit 1
	fi
	local value="$default"
	if [ -n "${!var:-}" ]; then
		value="${!var}"
	elif [ -n "${!file_var:-}" ]; then
		value="$(<"${!file_var}")"
	fi
	export "$var"="$value"
	unset "$file_var"
}

psql_init() {
	psql -v ON_ERROR_STOP=1 --no-password --no-psqlrc --username "$POSTGRES_USER" "$@"
}

run_init_files() {
	local f
	for f in /docker-entrypoint-initdb.d/*; do
		case "$f" in
			*.sh)
				# shellcheck disable=SC1090  # init scripts are the user's
				if [ -x "$f" ]; then log "running $f"; "$f"; else log "sourcing $f"; . "$f"; fi ;;
			*.sql) log "running $f"; psql_init --dbname "$POSTGRES_DB" -f "$f" ;;
			*.sql.gz) log "running $f"; gzip -dc "$f" | psql_init --dbname "$POSTGRES_DB" ;;
			*) if [ -e "$f" ]; then log "ignoring $f"; fi ;;
		esac
	done
}

initialize() {
	file_env POSTGRES_PASSWORD
	file_env POSTGRES_USER postgres
	file_env POSTGRES_DB "$POSTGRES_USER"
	file_env POSTGRES_INITDB_ARGS
	: "${POSTGRES_HOST_AUTH_METHOD:=scram-sha-256}"
	if [ -z "$POSTGRES_PASSWORD" ] && [ "$POSTGRES_HOST_AUTH_METHOD" != trust ]; then
		log "error: database is uninitialized and superuser password is not specified;"
		log "set POSTGRES_PASSWORD or POSTGRES_PASSWORD_FILE (or POSTGRES_HOST_AUTH_METHOD=trust)"
		exit 1
	fi
	log "initializing $PGDATA"
	# shellcheck disable=SC2086  # POSTGRES_INITDB_ARGS is a word list, as upstream
	initdb --username="$POSTGRES_USER" --pwfile=<(printf '%s\n' "$POSTGRES_PASSWORD") $POSTGRES_INITDB_ARGS >&2
	printf '\nhost all all all %s\n' "$POSTGRES_HOST_AUTH_METHOD" >>"$PGDATA/pg_hba.conf"
	# the official image's server is built with this socket directory; initdb writes /tmp here
	printf "\nunix_socket_directories = '/var/run/postgresql'\n" >>"$PGDATA/postgresql.conf"

	export PGPASSWORD="$POSTGRES_PASSWORD"
	pg_ctl -D "$PGDATA" -o "-c listen_addresses='' -p 5432" -w start >&2
	if [ "$POSTGRES_DB" != postgres ]; then
		psql_init --dbname postgres --set db="$POSTGRES_DB" <<<'CREATE DATABASE :"db";'
	fi
	run_init_files
	pg_ctl -D "$PGDATA" -m fast -w stop >&2
	unset PGPASSWORD
	log "initialization complete"
}

if [ "${1:0:1}" = '-' ]; then
	set -- postgres "$@"
fi

if [ "$1" = postgres ]; then
	if [ "$(id -u)" = 0 ]; then
		mkdir -p "$PGDATA"
		chown -R postgres:postgres "$PGDATA" /var/run/postgresql
		chmod 0700 "$PGDATA"
		exec setpriv --reuid=postgres --regid=postgres --init-groups "$0" "$@"
	fi
	mkdir -p "$PGDATA"
	chmod 0700 "$PGDATA" 2>/dev/null || true
	if [ ! -s "$PGDATA/PG_VERSION" ]; then
		initialize
	fi
fi

exec "$@"
