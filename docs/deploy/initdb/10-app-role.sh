#!/bin/sh
# Runs once, when the PostgreSQL volume is first initialised: the login role the app
# replicas use. It owns nothing; `python -m review migrate --app-role signoff_app` grants
# it what it needs.
set -eu
password="$(cat "$SIGNOFF_APP_PASSWORD_FILE")"
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" \
  -v password="$password" <<'SQL'
CREATE ROLE signoff_app LOGIN PASSWORD :'password';
REVOKE CREATE ON SCHEMA public FROM PUBLIC;
SQL
