#!/usr/bin/env bash
# Written for the lab image; the environment contract of the official mysql image:
#   MYSQL_ROOT_PASSWORD[_FILE] | MYSQL_ALLOW_EMPTY_PASSWORD | MYSQL_RANDOM_ROOT_PASSWORD (one required)
#   MYSQL_ROOT_HOST (%)  MYSQL_DATABASE  MYSQL_USER  MYSQL_PASSWORD[_FILE]
#   /docker-entrypoint-initdb.d/*.sh (executed if executable, else sourced), *.sql, *.sql.gz
# run once, on an empty data directory, against a server without networking.
# Runs as the container's user (the plan sets 999:999); as root it re-executes itself as mysql.
set -Eeuo pipefail

DATADIR=/var/lib/mysql
SOCKET=/var/run/mysqld/mysqld.sock

log() { printf '%s [entrypoint] %s\n' "$(date -u +%FT%TZ)" "$*" >&2; }

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

# SQL string literal: quotes and backslashes escaped
sql_string() { local s="${1//\\/\\\\}"; printf "'%s'" "${s//\'/\\\'}"; }
# shellcheck disable=SC2016  # backticks are the literal SQL identifier quotes
sql_ident() { printf '`%s`' "${1//\`/\`\`}"; }

mysql_root() { mariadb --protocol=socket --socket="$SOCKET" -uroot --database=mysql "$@"; }

run_init_files() {
	local f
	for f in /docker-entrypoint-initdb.d/*; do
		case "$f" in
			*.sh)
				# shellcheck disable=SC1090  # init scripts are the user's
				if [ -x "$f" ]; then log "running $f"; "$f"; else log "sourcing $f"; . "$f"; fi ;;
			*.sql) log "running $f"; mysql_root --database="${MYSQL_DATABASE:-mysql}" <"$f" ;;
			*.sql.gz) log "running $f"; gzip -dc "$f" | mysql_root --database="${MYSQL_DATABASE:-mysql}" ;;
			*) if [ -e "$f" ]; then log "ignoring $f"; fi ;;
		esac
	done
}

initialize() {
	file_env MYSQL_ROOT_PASSWORD
	file_env MYSQL_DATABASE
	file_env MYSQL_USER
	file_env MYSQL_PASSWORD
	: "${MYSQL_ROOT_HOST:=%}"
	if [ -z "$MYSQL_ROOT_PASSWORD" ] && [ -z "${MYSQL_ALLOW_EMPTY_PASSWORD:-}" ] && [ -z "${MYSQL_RANDOM_ROOT_PASSWORD:-}" ]; then
		log "error: database is uninitialized and password option is not specified;"
		log "set one of MYSQL_ROOT_PASSWORD[_FILE], MYSQL_ALLOW_EMPTY_PASSWORD, MYSQL_RANDOM_ROOT_PASSWORD"
		exit 1
	fi
	if [ -n "${MYSQL_RANDOM_ROOT_PASSWORD:-}" ]; then
		MYSQL_ROOT_PASSWORD="$(head -c 24 /dev/urandom | base64 | tr -d '/+=')"
		log "GENERATED ROOT PASSWORD set (not printed)"
	fi
	if [ "$MYSQL_USER" = root ]; then
		log "error: MYSQL_USER=root is not allowed (the root user is set up by MYSQL_ROOT_PASSWORD)"
		exit 1
	fi
	log "initializing $DATADIR"
	mariadb-install-db --datadir="$DATADIR" --auth-root-authentication-method=normal \
		--skip-test-db --skip-name-resolve --skip-log-bin >/dev/null
	mariadbd --skip-networking --socket="$SOCKET" --datadir="$DATADIR" --skip-log-bin &
	local pid=$!
	for _ in $(seq 60); do
		mariadb-admin --socket="$SOCKET" -uroot ping --silent >/dev/null 2>&1 && break
		kill -0 "$pid" 2>/dev/null || { log "error: temporary server died"; exit 1; }
		sleep 0.5
	done
	local root_pw
	root_pw="$(sql_string "$MYSQL_ROOT_PASSWORD")"
	{
		echo "SET @@SESSION.SQL_LOG_BIN=0;"
		echo "DELETE FROM mysql.user WHERE user NOT IN ('mysql.sys', 'mariadb.sys', 'root') OR host NOT IN ('localhost');"
		echo "ALTER USER 'root'@'localhost' IDENTIFIED BY $root_pw;"
		if [ "$MYSQL_ROOT_HOST" != localhost ]; then
			echo "CREATE USER 'root'@$(sql_string "$MYSQL_ROOT_HOST") IDENTIFIED BY $root_pw;"
			echo "GRANT ALL ON *.* TO 'root'@$(sql_string "$MYSQL_ROOT_HOST") WITH GRANT OPTION;"
		fi
		if [ -n "$MYSQL_DATABASE" ]; then
			echo "CREATE DATABASE IF NOT EXISTS $(sql_ident "$MYSQL_DATABASE");"
		fi
		if [ -n "$MYSQL_USER" ] && [ -n "$MYSQL_PASSWORD" ]; then
			echo "CREATE USER $(sql_string "$MYSQL_USER")@'%' IDENTIFIED BY $(sql_string "$MYSQL_PASSWORD");"
			if [ -n "$MYSQL_DATABASE" ]; then
				echo "GRANT ALL ON $(sql_ident "$MYSQL_DATABASE").* TO $(sql_string "$MYSQL_USER")@'%';"
			fi
		fi
		echo "FLUSH PRIVILEGES;"
	} | mysql_root
	export MYSQL_PWD="$MYSQL_ROOT_PASSWORD"
	run_init_files
	mariadb-admin --socket="$SOCKET" -uroot shutdown
	unset MYSQL_PWD
	wait "$pid" || true
	log "initialization complete"
}

if [ "${1:0:1}" = '-' ]; then
	set -- mysqld "$@"
fi

if [ "$1" = mysqld ] || [ "$1" = mariadbd ]; then
	if [ "$(id -u)" = 0 ]; then
		chown -R mysql:mysql "$DATADIR" /var/run/mysqld
		exec setpriv --reuid=mysql --regid=mysql --init-groups "$0" "$@"
	fi
	if [ ! -d "$DATADIR/mysql" ]; then
		initialize
	fi
fi

exec "$@"
