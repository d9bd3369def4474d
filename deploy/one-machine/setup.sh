#!/usr/bin/env bash
# One machine, one command: JupyterHub for a class, from a fresh Debian or Ubuntu, as root.
#
#   deploy/one-machine/setup.sh roster.csv
#
# Safe to run again (after editing the roster, updating the checkout, renewing a certificate):
# it keeps existing accounts and their passwords, an existing certificate, the hub's database,
# the exchange and everyone's work. docs/instructors.md section 2 says what it does and why.
#
# Every system path comes from a variable (defaults in brackets), so that a test can run the
# whole script in a throw-away folder:
#   PREFIX [/opt/nn-python]  the environment (PREFIX/venv) and the class's copies of the course:
#                            PREFIX/course (what learners need: notebooks, course_utils, data
#                            loader, requirements; everyone reads it) and PREFIX/instructors
#                            (the whole checkout: masters, grader, tests; root and the
#                            instructors' group only, mode 0750)
#   ETC [/etc]               ETC/jupyterhub, ETC/jupyter, ETC/systemd/system
#   SRV [/srv]               SRV/nbgrader/exchange (shared) and SRV/jupyterhub (the hub's state)
#   HOMES [/home]            where new accounts get their home folder
#   VENV [PREFIX/venv]       the Python environment everyone's server runs in
#   BIND_URL [https://:443]  where the hub listens
#   SSL_CERT, SSL_KEY        your certificate and key (PEM); without them a self-signed pair is
#                            made in ETC/jupyterhub/ssl, for a trial (browsers will warn)
#   HUB_HOSTNAME [hostname -f] the name the self-signed certificate is for
#   MNIST_PATH               an mnist.npz every user can read (else the course downloads it)
#   INSTRUCTORS_GROUP [nn-instructors]  the Unix group that may read PREFIX/instructors
#   SKIP_PACKAGES [0]        1: do not apt-get or npm install (they are there already)
#   SKIP_PIP [0]             1: do not pip install: VENV must already hold the course,
#                            nbgrader, jupyterhub and jupyterhub-idle-culler (checked)
#   START [1]                0: do not enable and start the systemd unit
set -euo pipefail
umask 022

NN_PYTHON="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
HERE="$NN_PYTHON/deploy/one-machine"
PREFIX="${PREFIX:-/opt/nn-python}"
ETC="${ETC:-/etc}"
SRV="${SRV:-/srv}"
HOMES="${HOMES:-/home}"
VENV="${VENV:-$PREFIX/venv}"
BIND_URL="${BIND_URL:-https://:443}"
SSL_CERT="${SSL_CERT:-}"
SSL_KEY="${SSL_KEY:-}"
MNIST_PATH="${MNIST_PATH:-}"
INSTRUCTORS_GROUP="${INSTRUCTORS_GROUP:-nn-instructors}"
SKIP_PACKAGES="${SKIP_PACKAGES:-0}"
SKIP_PIP="${SKIP_PIP:-0}"
START="${START:-1}"

say() { printf '\n== %s\n' "$*"; }
die() { printf 'setup.sh: %s\n' "$*" >&2; exit 1; }

[ "$(id -u)" = 0 ] || die "run me as root (I create accounts, /etc and /srv files)"
[ $# -eq 1 ] || die "usage: $0 ROSTER.csv   (see deploy/one-machine/roster.example.csv)"
ROSTER="$(cd "$(dirname "$1")" && pwd)/$(basename "$1")"
[ -f "$ROSTER" ] || die "no roster at $1"

# --- the roster: username,role[,name] --------------------------------------------------------
# Checked before anything is changed, so a typo stops the script with nothing half done. Read by
# roster.py, the same code jupyterhub_config.py reads it with (a header line is required), so
# the accounts made here and the users the hub lets in are the same.
command -v python3 >/dev/null || die "python3 is missing (it reads the roster)"
declare -a USERS=() ROLES=()
people="$(python3 "$HERE/roster.py" "$ROSTER" 2>&1)" || die "$people"
while read -r user role; do
  USERS+=("$user"); ROLES+=("$role")
done <<< "$people"

# --- the course's folder in the exchange: checked before anything is changed ----------------
# The exchange is writable by everyone (1777), so a student could make the course's folder in it
# before the first release and own it: the release would fail, or the student would control
# what is released and handed in. The script makes it (below: root's, then, once the accounts
# exist, the first instructor's) and refuses one that someone else made.
EXCHANGE="$SRV/nbgrader/exchange"
COURSE_ID="$(sed -n 's/^c\.CourseDirectory\.course_id = "\([A-Za-z0-9_.-]*\)"$/\1/p' \
  "$HERE/nbgrader_config.py")"
[ -n "$COURSE_ID" ] || die "no course id in $HERE/nbgrader_config.py"
COURSE_EXCHANGE="$EXCHANGE/$COURSE_ID"
declare -a INSTRUCTORS=()
for i in "${!USERS[@]}"; do [ "${ROLES[$i]}" = instructor ] && INSTRUCTORS+=("${USERS[$i]}"); done
owned_by_an_instructor() {  # PATH: a folder (not a link) of root or an instructor of the roster
  [ -d "$1" ] && [ ! -L "$1" ] || return 1
  printf '%s\n' root "${INSTRUCTORS[@]}" | grep -qxF -- "$(stat -c %U -- "$1")"
}
check_course_exchange() {  # every part of the course's exchange folder that exists is theirs
  local path
  for path in "$COURSE_EXCHANGE" "$COURSE_EXCHANGE/outbound" "$COURSE_EXCHANGE/inbound" \
      "$COURSE_EXCHANGE/feedback"; do
    if [ -e "$path" ] || [ -L "$path" ]; then
      owned_by_an_instructor "$path" || die "$path exists and is not a folder of root or an \
instructor of the roster ($(stat -c '%F owned by %U:%G, mode %a' -- "$path")): someone may have made it \
to take the course's exchange over. Look at it, move it out of $EXCHANGE, and run me again."
    fi
  done
}
check_course_exchange

# --- system packages -------------------------------------------------------------------------
if [ "$SKIP_PACKAGES" != 1 ]; then
  packages="python3-venv python3-pip bubblewrap openssl"
  # Node and npm only if npm is missing: NodeSource's nodejs package brings its own npm and
  # conflicts with Debian's, so asking apt for both would fail on such a machine.
  command -v npm >/dev/null || packages="$packages nodejs npm"
  say "system packages: $packages"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  # shellcheck disable=SC2086 # one word per package
  apt-get install -y -qq $packages >/dev/null
  command -v configurable-http-proxy >/dev/null || npm install -g --silent configurable-http-proxy
fi
for tool in bwrap configurable-http-proxy openssl useradd chpasswd; do
  command -v "$tool" >/dev/null || die "$tool is missing (SKIP_PACKAGES=$SKIP_PACKAGES)"
done

# --- the class's copies of the course ---------------------------------------------------------
say "course copies in $PREFIX (learners: course/, instructors only: instructors/)"
getent group "$INSTRUCTORS_GROUP" >/dev/null || groupadd --system "$INSTRUCTORS_GROUP"
mkdir -p "$PREFIX"
chmod 0755 "$PREFIX"
copy_tree() {  # copy_tree DEST PATH...: a fresh copy of the checkout's PATHs, never a build
  local dest="$1" tmp; shift
  tmp="$(mktemp -d "$PREFIX/.copy.XXXXXX")"
  tar -C "$NN_PYTHON" --exclude=./build --exclude=./grader/build --exclude=./.venv \
    --exclude=./.git --exclude='__pycache__' --exclude='*.egg-info' \
    --exclude='.ipynb_checkpoints' -cf - "$@" | tar -C "$tmp" -xf -
  rm -rf "$dest.old"
  [ -e "$dest" ] && mv "$dest" "$dest.old"
  mv "$tmp" "$dest"
  rm -rf "$dest.old"
}
copy_tree "$PREFIX/course" ./notebooks ./course_utils ./pyproject.toml ./requirements.txt \
  ./README.md
chown -R root:root "$PREFIX/course"
chmod -R u=rwX,go=rX "$PREFIX/course"
copy_tree "$PREFIX/instructors" .
chown -R root:"$INSTRUCTORS_GROUP" "$PREFIX/instructors"
chmod -R u=rwX,g=rX,o= "$PREFIX/instructors"

# --- the Python environment ------------------------------------------------------------------
if [ "$SKIP_PIP" != 1 ]; then
  say "Python environment in $VENV"
  [ -x "$VENV/bin/python" ] || python3 -m venv "$VENV"
  "$VENV/bin/python" -m pip install --quiet --upgrade pip
  # requirements.txt installs the course's own package with `-e .`, resolved against the
  # current folder: run it from the learners' copy, so the environment imports course_utils
  # from there (and never from the instructors' folder, which students cannot read).
  (cd "$PREFIX/course" && "$VENV/bin/python" -m pip install --quiet -r requirements.txt \
    "jupyterhub>=5,<7" jupyterhub-idle-culler)
  # The grading side, from the instructors' folder: installed in the same environment, but its
  # source is readable only by the instructors' group, so a student cannot import it.
  mapfile -t grading < <(grep -E '^[a-zA-Z]' "$PREFIX/instructors/requirements-grading.txt")
  (cd "$PREFIX/instructors" && "$VENV/bin/python" -m pip install --quiet -e ./grader \
    "${grading[@]}")
fi
"$VENV/bin/python" -c "import course_utils, nbgrader, jupyterhub, jupyterhub_idle_culler" \
  || die "$VENV lacks the course, nbgrader or JupyterHub"
[ -x "$VENV/bin/jupyterhub-singleuser" ] || die "$VENV has no jupyterhub-singleuser"

# --- shared folders and settings -------------------------------------------------------------
say "exchange $EXCHANGE, settings in $ETC/jupyter and $ETC/jupyterhub"
STATE="$SRV/jupyterhub"
mkdir -p "$EXCHANGE" "$STATE" "$ETC/jupyter/students" "$ETC/jupyterhub/jupyterhub_config.d" \
  "$ETC/jupyterhub/ssl" "$ETC/systemd/system"
chmod 1777 "$EXCHANGE"
# The course's folder, root's until the accounts exist (then an instructor's, below). mkdir is
# atomic: if someone made it since the check above, it fails and the check refuses theirs; in
# the sticky exchange nobody else may rename or remove root's.
mkdir "$COURSE_EXCHANGE" 2>/dev/null || true
check_course_exchange
chmod 0700 "$STATE" "$ETC/jupyterhub/ssl"
chmod 0755 "$ETC/jupyter" "$ETC/jupyter/students" "$ETC/jupyterhub"
sed "s|/srv/nbgrader/exchange|$EXCHANGE|g" "$HERE/nbgrader_config.py" \
  > "$ETC/jupyter/nbgrader_config.py"
sed "s|/srv/nbgrader/exchange|$EXCHANGE|g" "$HERE/course_nbgrader_config.py" \
  > "$PREFIX/instructors/deploy/one-machine/course_nbgrader_config.py"
cp "$HERE/students/jupyter_server_config.json" "$ETC/jupyter/students/"
cp "$HERE/jupyterhub_config.py" "$HERE/roster.py" "$ETC/jupyterhub/"
install -m 0600 "$ROSTER" "$ETC/jupyterhub/roster.csv"  # names: root only (the hub reads it)

# --- HTTPS ----------------------------------------------------------------------------------
if [ -n "$SSL_CERT$SSL_KEY" ]; then
  [ -f "$SSL_CERT" ] && [ -f "$SSL_KEY" ] || die "SSL_CERT and SSL_KEY must both be files"
  say "HTTPS with $SSL_CERT"
else
  SSL_CERT="$ETC/jupyterhub/ssl/cert.pem"
  SSL_KEY="$ETC/jupyterhub/ssl/key.pem"
  if [ ! -f "$SSL_CERT" ] || [ ! -f "$SSL_KEY" ]; then
    host="${HUB_HOSTNAME:-$(hostname -f 2>/dev/null || hostname)}"
    say "HTTPS: a self-signed certificate for $host, localhost and 127.0.0.1 (a trial only)"
    openssl req -x509 -newkey rsa:2048 -nodes -days 365 -subj "/CN=$host" \
      -addext "subjectAltName=DNS:$host,DNS:localhost,IP:127.0.0.1" \
      -keyout "$SSL_KEY" -out "$SSL_CERT" 2>/dev/null
    chmod 0600 "$SSL_KEY"; chmod 0644 "$SSL_CERT"
  fi
fi
[ -z "$MNIST_PATH" ] || [ -f "$MNIST_PATH" ] || die "MNIST_PATH=$MNIST_PATH is not a file"

# What jupyterhub_config.py reads: every path above, in one file beside it.
"$VENV/bin/python" - "$ETC/jupyterhub/nn_python.json" <<EOF
import json, sys
json.dump({"venv": "$VENV", "course": "$PREFIX/course", "instructors": "$PREFIX/instructors",
           "jupyter_config": "$ETC/jupyter", "students_config": "$ETC/jupyter/students",
           "exchange": "$EXCHANGE", "state": "$STATE", "roster": "$ETC/jupyterhub/roster.csv",
           "bind_url": "$BIND_URL", "ssl_cert": "$SSL_CERT", "ssl_key": "$SSL_KEY",
           "mnist_path": "$MNIST_PATH"}, open(sys.argv[1], "w"), indent=2)
EOF

# --- accounts --------------------------------------------------------------------------------
say "accounts from $1"
PASSWORDS="$ETC/jupyterhub/initial-passwords.csv"
[ -f "$PASSWORDS" ] || { install -m 0600 /dev/null "$PASSWORDS"; echo "username,password" > "$PASSWORDS"; }
chmod 0600 "$PASSWORDS"
new=()
for i in "${!USERS[@]}"; do
  user="${USERS[$i]}"; role="${ROLES[$i]}"
  if id "$user" >/dev/null 2>&1; then
    echo "  $user ($role): exists, password unchanged"
  else
    mkdir -p "$HOMES"
    useradd --create-home --base-dir "$HOMES" --shell /bin/bash "$user"
    password="$(openssl rand -base64 12 | tr -d '/+=' | cut -c1-12)"
    echo "$user:$password" | chpasswd
    echo "$user,$password" >> "$PASSWORDS"
    new+=("$user,$password")
  fi
  home="$(getent passwd "$user" | cut -d: -f6)"
  chmod 0700 "$home"  # nobody reads another's work, or the instructor's course folder
  if [ "$role" = instructor ]; then
    usermod -a -G "$INSTRUCTORS_GROUP" "$user"
  elif id -nG "$user" | tr ' ' '\n' | grep -qx "$INSTRUCTORS_GROUP"; then
    gpasswd -d "$user" "$INSTRUCTORS_GROUP" >/dev/null  # a former instructor, now a student
  fi
done
if [ ${#new[@]} -gt 0 ]; then
  echo "  initial passwords of the new accounts (shown once; also in $PASSWORDS, root only):"
  printf '    %s\n' "${new[@]}"
fi

# --- the course's folder in the exchange -----------------------------------------------------
# Made (above, as root, before any account) and now given to the roster's first instructor, as
# nbgrader's release_assignment would make it (exchange/default/release_assignment.py,
# release_feedback.py): the course folder and outbound/ 0755, inbound/ 2733 (students hand in,
# only the instructor lists it), feedback/ 0711; nbgrader's release needs its releaser to own
# them. One an instructor already owns (an earlier run, a release) is kept as it is.
if [ "$(stat -c %u -- "$COURSE_EXCHANGE")" = 0 ]; then
  chown "${INSTRUCTORS[0]}:$(id -gn "${INSTRUCTORS[0]}")" "$COURSE_EXCHANGE"
  chmod 0755 "$COURSE_EXCHANGE"
fi
owner="$(stat -c %U -- "$COURSE_EXCHANGE")"
for part in outbound:0755 inbound:2733 feedback:0711; do
  folder="$COURSE_EXCHANGE/${part%%:*}"
  mkdir "$folder" 2>/dev/null || true  # only root and the owner may write in the course folder
  if [ "$(stat -c %u -- "$folder")" = 0 ]; then
    chown "$owner:$(id -gn "$owner")" "$folder"
    chmod "${part#*:}" "$folder"
  fi
done
check_course_exchange
echo "  $COURSE_EXCHANGE: $owner's, with outbound/, inbound/ and feedback/"

# --- the service -----------------------------------------------------------------------------
UNIT="$ETC/systemd/system/jupyterhub.service"
sed -e "s|@VENV@|$VENV|g" -e "s|@ETC@|$ETC|g" -e "s|@STATE@|$STATE|g" \
  "$HERE/jupyterhub.service" > "$UNIT"
if [ "$START" = 1 ] && [ -d /run/systemd/system ]; then
  say "starting the hub: systemctl enable --now jupyterhub"
  systemctl daemon-reload
  systemctl enable jupyterhub >/dev/null
  systemctl restart jupyterhub
  echo "  logs: journalctl -u jupyterhub -f"
else
  say "the hub's unit is $UNIT (not started: START=$START, systemd $( [ -d /run/systemd/system ] && echo running || echo absent))"
fi
echo "done: the hub listens at $BIND_URL"
