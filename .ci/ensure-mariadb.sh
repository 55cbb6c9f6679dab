#!/usr/bin/env bash
# Make sure a MariaDB/MySQL server answers before the app or the tests need it.
#  * DATABASE_SUPERUSER_URL or DATABASE_URL set: a server of yours; we only check nothing here.
#  * otherwise the local server at 127.0.0.1:3306: start Debian's mariadbd if it is installed but not
#    running, and let root in over TCP from 127.0.0.1 if a fresh install only allows socket logins.
set -euo pipefail

if [ -n "${DATABASE_SUPERUSER_URL:-}${DATABASE_URL:-}" ]; then
  exit 0
fi

tcp_ok() { mariadb --protocol=TCP -h 127.0.0.1 -P 3306 -u root -e 'SELECT 1' >/dev/null 2>&1; }

if ! command -v mariadb >/dev/null 2>&1; then
  cat >&2 <<'MSG'
No MariaDB/MySQL client or server found on this machine.
Install one:   sudo apt-get install -y mariadb-server mariadb-client
or point the box office at your own server: export DATABASE_SUPERUSER_URL=mysql+pymysql://USER:PASS@HOST:3306/
MSG
  exit 1
fi

if tcp_ok; then
  exit 0
fi

if ! mariadb-admin ping --silent >/dev/null 2>&1; then
  if [ ! -x /usr/sbin/mariadbd ]; then
    echo "MariaDB is not running at 127.0.0.1:3306 and /usr/sbin/mariadbd is not installed: sudo apt-get install -y mariadb-server" >&2
    exit 1
  fi
  if [ "$(id -u)" -ne 0 ]; then
    echo "MariaDB is not running. Start it (as root): sudo service mariadb start" >&2
    exit 1
  fi
  echo "Starting MariaDB..."
  mkdir -p /run/mysqld && chown mysql:mysql /run/mysqld
  start-stop-daemon --start --oknodo --background --exec /usr/sbin/mariadbd -- --user=mysql
  for _ in $(seq 1 60); do
    mariadb-admin ping --silent >/dev/null 2>&1 && break
    sleep 0.5
  done
fi

if ! tcp_ok; then
  # A fresh Debian install lets root in through the socket only; the set-up connects over TCP.
  if [ "$(id -u)" -eq 0 ] && mariadb -u root -e 'SELECT 1' >/dev/null 2>&1; then
    echo "Allowing root@127.0.0.1 (no password, this machine only) for the box-office set-up."
    mariadb -u root -e "CREATE USER IF NOT EXISTS 'root'@'127.0.0.1' IDENTIFIED BY ''; GRANT ALL PRIVILEGES ON *.* TO 'root'@'127.0.0.1' WITH GRANT OPTION;"
  fi
fi

if ! tcp_ok; then
  echo "MariaDB runs but root cannot log in over TCP at 127.0.0.1:3306. Set DATABASE_SUPERUSER_URL to an account that may create databases and users." >&2
  exit 1
fi
