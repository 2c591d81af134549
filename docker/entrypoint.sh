#!/bin/sh
# The image's commands:
#   serve (default)  run the roles ROLE names (node dist/src/main.js)
#   migrate          apply pending migrations and exit (node dist/src/migrate.main.js)
#   keys ...         the API key CLI (node dist/src/keys.main.js)
#   anything else    run as given
# DATABASE_URL_FILE and ADMIN_API_KEY_FILE, when set, name files holding those values
# (Compose secrets), so the values need not sit in the environment of the compose file.
set -eu

for var in DATABASE_URL ADMIN_API_KEY; do
  file="$(eval "printf '%s' \"\${${var}_FILE:-}\"")"
  if [ -n "$file" ]; then
    [ -r "$file" ] || { echo "kdm-entrypoint: ${var}_FILE=$file is not readable" >&2; exit 1; }
    value="$(cat "$file")"
    export "$var=$value"
    unset "${var}_FILE"
  fi
done

cmd="${1:-serve}"
[ "$#" -gt 0 ] && shift
case "$cmd" in
  serve) exec node dist/src/main.js "$@" ;;
  migrate) exec node dist/src/migrate.main.js "$@" ;;
  keys) exec node dist/src/keys.main.js "$@" ;;
  *) exec "$cmd" "$@" ;;
esac
