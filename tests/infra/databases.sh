#!/usr/bin/env bash
# databases.sh create|drop NAME
# create: a new, empty database NAME on both MariaDB (utf8mb4) and PostgreSQL
# (one left over from an earlier run is dropped first), then print its two
# SQLAlchemy URLs, MariaDB first. drop: drop both if they exist.
set -euo pipefail

usage() { echo "usage: $0 create|drop NAME   (NAME: lower-case letters, digits, _)" >&2; exit 2; }
[ $# -eq 2 ] || usage
action=$1 name=$2
# Lower case only: PostgreSQL folds unquoted names, so anything else is a trap.
[[ $name =~ ^[a-z_][a-z0-9_]{0,62}$ ]] || usage

mariadb() { mysql -h127.0.0.1 -P3306 -uroot -e "$1"; }
postgres() {  # client_min_messages: no NOTICE when IF EXISTS finds nothing
  PGOPTIONS='-c client_min_messages=warning' \
    psql -h 127.0.0.1 -p 5432 -U postgres -w -d postgres -q -v ON_ERROR_STOP=1 -c "$1"
}
drop() {
  mariadb "DROP DATABASE IF EXISTS \`$name\`"
  # FORCE ends sessions a killed test run may have left open.
  postgres "DROP DATABASE IF EXISTS \"$name\" WITH (FORCE)"
}

case $action in
  create)
    drop
    mariadb "CREATE DATABASE \`$name\` CHARACTER SET utf8mb4"
    postgres "CREATE DATABASE \"$name\""
    echo "mysql+pymysql://root@127.0.0.1:3306/$name?charset=utf8mb4"
    echo "postgresql+psycopg://postgres@127.0.0.1:5432/$name"
    ;;
  drop) drop ;;
  *) usage ;;
esac
