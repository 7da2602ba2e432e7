# Shared by scripts/run and scripts/test: where things are, and the idempotent
# set-up steps both need. Sourced, never executed.

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
VAR="$REPO/var"
ODOO_HOME=${ODOO_HOME:-/opt/odoo18}
ODOO_PY="$ODOO_HOME/venv/bin/python"
ODOO_BIN="$ODOO_HOME/src/odoo-bin"
TOOL_VENV="$REPO/.venv"

# The PostgreSQL role this project uses (Odoo refuses the postgres superuser).
PG_CLUSTER_VERSION=${PG_CLUSTER_VERSION:-15}
DB_HOST=${OBB_DB_HOST:-127.0.0.1}
DB_USER=${OBB_DB_USER:-openbanking}
DB_PASSWORD=${OBB_DB_PASSWORD:-openbanking}

say() { printf '==> %s\n' "$*" >&2; }

as_root() {
    if [ "$(id -u)" = 0 ]; then "$@"; else sudo -n "$@"; fi
}

as_postgres() {
    if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else sudo -n -u postgres "$@"; fi
}

# Why Odoo 18 cannot be used from ODOO_HOME, or nothing when it can.
odoo_missing_reason() {
    if [ ! -f "$ODOO_BIN" ]; then
        echo "no Odoo 18 source at $ODOO_HOME/src (odoo-bin missing; set ODOO_HOME)"
    elif [ ! -x "$ODOO_PY" ]; then
        echo "no Python venv at $ODOO_HOME/venv for the Odoo 18 source in $ODOO_HOME/src"
    elif ! PYTHONPATH="$ODOO_HOME/src" "$ODOO_PY" -c \
        'import odoo.release as r, sys; sys.exit(r.version_info[0] != 18)' >/dev/null 2>&1; then
        echo "$ODOO_HOME/venv/bin/python cannot import Odoo 18 from $ODOO_HOME/src"
    fi
}

# The tool venv: repo-level tests, the emulator and the linters. Reinstalled
# only when requirements-dev.txt changed.
ensure_tool_venv() {
    local stamp="$TOOL_VENV/.requirements-dev.sha256" want
    want=$(sha256sum "$REPO/requirements-dev.txt" | cut -d' ' -f1)
    if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
        return 0
    fi
    say "installing the tool environment in .venv"
    [ -x "$TOOL_VENV/bin/python" ] || python3 -m venv "$TOOL_VENV" || return 1
    "$TOOL_VENV/bin/python" -m pip install --quiet --disable-pip-version-check \
        -r "$REPO/requirements-dev.txt" || return 1
    echo "$want" >"$stamp"
}

# Packages of a requirements file inside Odoo's own venv, under the constraint
# of everything that venv already holds, so that no Odoo pin moves but the
# packages named as free to (they and their own dependencies). Reinstalled only
# when the requirements file changed.
ensure_odoo_venv_packages() { # requirements file, "name|name|..." free to move
    local requirements="$REPO/$1" free=$2 stamp want constraints
    stamp="$ODOO_HOME/venv/.openbanking-$(basename "$1" .txt).sha256"
    want=$(sha256sum "$requirements" | cut -d' ' -f1)
    if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
        return 0
    fi
    say "installing $1 into $ODOO_HOME/venv"
    mkdir -p "$VAR"
    constraints="$VAR/odoo-venv-constraints.txt"
    "$ODOO_PY" -m pip freeze --disable-pip-version-check 2>/dev/null \
        | grep -v -i -E "^(pip|setuptools|wheel|$free)==" >"$constraints"
    "$ODOO_PY" -m pip install --quiet --disable-pip-version-check \
        -c "$constraints" -r "$requirements" || return 1
    echo "$want" >"$stamp"
}

# pytest-odoo and the browser-test client.
ensure_odoo_test_packages() {
    ensure_odoo_venv_packages requirements-odoo-test.txt \
        "pytest|pytest-odoo|websocket-client|pluggy|iniconfig|packaging"
}

ensure_chromium() {
    command -v chromium >/dev/null 2>&1 && return 0
    say "installing Debian's chromium for the browser tests"
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null \
        || { as_root apt-get update -qq >/dev/null \
            && as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; }
}

# PostgreSQL started, and this project's role able to create databases.
ensure_postgres() {
    if ! command -v pg_ctlcluster >/dev/null 2>&1; then
        echo "PostgreSQL is not installed (pg_ctlcluster missing)" >&2
        return 1
    fi
    if ! pg_lsclusters -h 2>/dev/null | awk -v v="$PG_CLUSTER_VERSION" \
        '$1 == v && $2 == "main" && $4 == "online" {found=1} END {exit !found}'; then
        say "starting PostgreSQL $PG_CLUSTER_VERSION"
        as_root pg_ctlcluster "$PG_CLUSTER_VERSION" main start || return 1
    fi
    local i
    for i in $(seq 1 30); do
        pg_isready -q -h "$DB_HOST" && break
        sleep 1
    done
    if ! as_postgres psql -XtAc "SELECT 1 FROM pg_roles WHERE rolname = '$DB_USER'" \
        | grep -q 1; then
        say "creating the PostgreSQL role $DB_USER"
        as_postgres psql -Xqc \
            "CREATE ROLE \"$DB_USER\" LOGIN CREATEDB PASSWORD '$DB_PASSWORD'" || return 1
    fi
}

db_exists() {
    PGPASSWORD="$DB_PASSWORD" psql -XtAq -h "$DB_HOST" -U "$DB_USER" -d postgres \
        -c "SELECT 1 FROM pg_database WHERE datname = '$1'" | grep -q 1
}

# The state of openbanking_bridge in database $1 ("installed", "uninstalled"...),
# or nothing when the database holds no Odoo module table yet.
addon_state() {
    PGPASSWORD="$DB_PASSWORD" psql -XtAq -h "$DB_HOST" -U "$DB_USER" -d "$1" \
        -c "SELECT state FROM ir_module_module WHERE name = 'openbanking_bridge'" 2>/dev/null
}

# An Odoo configuration file for this project: addons path, database access,
# a data directory under var/.
write_odoo_config() {
    local path=$1 data_dir=$2
    shift 2
    mkdir -p "$(dirname "$path")" "$data_dir"
    {
        echo "[options]"
        echo "addons_path = $ODOO_HOME/src/addons,$ODOO_HOME/src/odoo/addons,$REPO"
        echo "data_dir = $data_dir"
        echo "db_host = $DB_HOST"
        echo "db_user = $DB_USER"
        echo "db_password = $DB_PASSWORD"
        echo "list_db = False"
        for line in "$@"; do echo "$line"; done
    } >"$path"
}

odoo() {
    PYTHONPATH="$ODOO_HOME/src${PYTHONPATH:+:$PYTHONPATH}" "$ODOO_PY" "$ODOO_BIN" "$@"
}

# Odoo's Python with the Odoo source importable.
odoo_python() {
    PYTHONPATH="$ODOO_HOME/src${PYTHONPATH:+:$PYTHONPATH}" "$ODOO_PY" "$@"
}

# Whether something accepts connections on 127.0.0.1:$1.
port_in_use() {
    (: <"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# Whether process $1 runs (a zombie, exited but not yet reaped, does not).
process_alive() {
    local stat
    stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
    stat=${stat##*) }
    [ "${stat%% *}" != Z ]
}

# Wait until URL $1 answers 2xx, for at most $2 seconds, while process $3
# lives. Fails otherwise.
wait_for_http() {
    local url=$1 seconds=$2 pid=$3 i
    for i in $(seq 1 $((seconds * 5))); do
        process_alive "$pid" || return 1
        "$ODOO_PY" -c 'import sys, urllib.request; urllib.request.urlopen(sys.argv[1], timeout=2)' \
            "$url" >/dev/null 2>&1 && return 0
        sleep 0.2
    done
    return 1
}

# Stop the process group led by $1 (a child started with setsid): SIGTERM,
# then SIGKILL after $2 seconds (default 20). Reaps it.
stop_process_group() {
    local pid=$1 seconds=${2:-20} i
    kill -TERM -- "-$pid" 2>/dev/null
    for i in $(seq 1 $((seconds * 10))); do
        process_alive "$pid" || break
        sleep 0.1
    done
    if process_alive "$pid"; then
        kill -KILL -- "-$pid" 2>/dev/null
    fi
    wait "$pid" 2>/dev/null
    return 0
}
