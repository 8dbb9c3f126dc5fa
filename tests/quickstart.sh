#!/usr/bin/env bash
# Quickstart (make run): a whole cloud in a scratch EUCA_HOME, in a few commands.
# Uses $EUCA_BIN (default: build/euca). Exits non-zero on the first failure.
set -euo pipefail

EUCA_BIN="${EUCA_BIN:-build/euca}"
if [[ ! -x "$EUCA_BIN" ]]; then
  echo "quickstart: no euca binary at '$EUCA_BIN'; build first (make) or set EUCA_BIN" >&2
  exit 1
fi

export EUCA_HOME
EUCA_HOME="$(mktemp -d "${TMPDIR:-/tmp}/euca-quickstart.XXXXXX")"
# The scratch home only: never a cloud the user already has.
unset EC2_URL S3_URL EC2_ACCESS_KEY EC2_SECRET_KEY AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY \
  AWS_ACCESS_KEY AWS_SECRET_KEY

euca() {
  echo "\$ euca $*"
  "$EUCA_BIN" "$@"
}

heading() { printf '\n== %s\n' "$*"; }

heading "Create a cloud in $EUCA_HOME"
euca admin init

heading "An account and a user"
euca admin create-account acme
euca admin create-user alice --account acme

heading "Disable and enable the user"
euca admin disable-user alice --account acme
euca admin enable-user alice --account acme

heading "Change a property"
euca admin modify-property cloud.region=quickstart-1

heading "Accounts"
euca admin describe-accounts

heading "Users"
euca admin describe-users

heading "Properties"
euca admin describe-properties

heading "History: one commit per change"
euca admin history

heading "Done"
echo "The cloud is in $EUCA_HOME. To keep using it:"
echo "  export EUCA_HOME=$EUCA_HOME"
echo "  source $EUCA_HOME/eucarc"
echo "Remove it with: rm -rf $EUCA_HOME"
