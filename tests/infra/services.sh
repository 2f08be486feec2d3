#!/usr/bin/env bash
# Make sure the real MariaDB (127.0.0.1:3306, root, no password), PostgreSQL
# (127.0.0.1:5432, trust) and RabbitMQ (127.0.0.1:5672, guest/guest) that the
# tests use are installed and listening. Idempotent. Exits non-zero when one
# cannot be brought up: CI must fail, never skip.
set -euo pipefail

WAIT_SECONDS=${GLINT_SERVICES_WAIT:-60}

listening() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

missing=()
[ -x /usr/sbin/mariadbd ] || missing+=(mariadb-server)
compgen -G '/etc/postgresql/*/main' >/dev/null || missing+=(postgresql)
[ -x /usr/sbin/rabbitmq-server ] || missing+=(rabbitmq-server)
command -v mysql >/dev/null || missing+=(mariadb-client)
command -v psql >/dev/null || missing+=(postgresql-client)
if ((${#missing[@]})); then
  echo "services.sh: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q
  apt-get install -y -q "${missing[@]}"
fi

pg_cluster() { pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql)" main "$@"; }
mariadb_ok() { mysql -h127.0.0.1 -uroot -e 'SELECT 1' >/dev/null; }
postgres_ok() { psql -h 127.0.0.1 -U postgres -w -d postgres -c 'SELECT 1' >/dev/null; }

if ! listening 5432; then
  echo "services.sh: starting PostgreSQL"
  pg_cluster start
fi
if ! listening 5672; then
  echo "services.sh: starting RabbitMQ"
  rabbitmq-server -detached
fi
if ! listening 3306; then
  echo "services.sh: starting MariaDB"
  # Without systemd nothing creates the socket directory, and mariadbd won't;
  # it also refuses to run as root unless told which user to become (Debian's
  # own my.cnf doesn't say).
  install -d -o mysql -g mysql /run/mysqld
  start-stop-daemon --start --oknodo --background --exec /usr/sbin/mariadbd -- --user=mysql
fi

deadline=$((SECONDS + WAIT_SECONDS))
for service in 3306:MariaDB 5432:PostgreSQL 5672:RabbitMQ; do
  until listening "${service%%:*}"; do
    if ((SECONDS >= deadline)); then
      echo "services.sh: ${service#*:} is not listening on 127.0.0.1:${service%%:*} after ${WAIT_SECONDS}s" >&2
      exit 1
    fi
    sleep 1
  done
done

# Fresh Debian packages let root/postgres in over the unix socket only; the
# tests connect over TCP without a password, as on the project's machines.
if ! mariadb_ok 2>/dev/null; then
  echo "services.sh: letting root into MariaDB over TCP without a password"
  mysql -uroot -e "ALTER USER root@localhost IDENTIFIED VIA unix_socket OR mysql_native_password USING PASSWORD('');
    CREATE USER IF NOT EXISTS root@'127.0.0.1' IDENTIFIED BY '';
    GRANT ALL ON *.* TO root@'127.0.0.1' WITH GRANT OPTION;"
fi
if ! postgres_ok 2>/dev/null; then
  echo "services.sh: trusting local TCP connections to PostgreSQL"
  hba=$(ls /etc/postgresql/*/main/pg_hba.conf)
  sed -i '1i host all all 127.0.0.1/32 trust' "$hba"  # first match wins
  pg_cluster reload
fi
mariadb_ok
postgres_ok
echo "services.sh: MariaDB, PostgreSQL and RabbitMQ are up"
