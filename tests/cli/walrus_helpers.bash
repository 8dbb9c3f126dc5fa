# Shared setup of the Walrus bats files: one cloud and one `euca serve walrus` per file, on
# loopback, and the AWS CLI pointed at it. Load after helpers.

AWS=/usr/bin/aws
S3CMD=/usr/bin/s3cmd

# start_walrus [ADDR:PORT]: starts the server on WALRUS_HOME (made by walrus_setup_file), on
# 127.0.0.1 and a free port unless told, and sets WALRUS_URL and WALRUS_HOSTPORT. Its pid goes
# to a file so that any test (or teardown_file) can stop it; the log is appended to.
# WALRUS_DOMAIN, when set, is its --domain (virtual-host-style BUCKET.WALRUS_DOMAIN).
start_walrus() {
  local domain=()
  [[ -z "${WALRUS_DOMAIN:-}" ]] || domain=(--domain "$WALRUS_DOMAIN")
  # Started from a subshell, so that it is no job of this shell's (init reaps it).
  (EUCA_HOME="$WALRUS_HOME" "$EUCA_BIN" serve walrus --listen "${1:-127.0.0.1:0}" "${domain[@]}" \
    >"$WALRUS_LOG.now" 2>&1 3>&- &
    echo $! >"$BATS_FILE_TMPDIR/walrus.pid")
  local i
  for i in $(seq 100); do
    grep -q '^walrus listening on http://' "$WALRUS_LOG.now" && break
    sleep 0.1
  done
  cat "$WALRUS_LOG.now" >>"$WALRUS_LOG"
  export WALRUS_URL
  WALRUS_URL="$(sed -n 's/^walrus listening on \(http:\/\/.*\)$/\1/p' "$WALRUS_LOG.now")"
  [[ -n "$WALRUS_URL" ]] || { cat "$WALRUS_LOG.now" >&2; return 1; }
  export WALRUS_HOSTPORT="${WALRUS_URL#http://}"
}

# stop_walrus [SIGNAL]: stops the server (TERM by default) and waits until it is gone.
stop_walrus() {
  local pid
  pid="$(cat "$BATS_FILE_TMPDIR/walrus.pid" 2>/dev/null)" || return 0
  [[ -n "$pid" ]] || return 0
  kill "-${1:-TERM}" "$pid" 2>/dev/null || true
  local i
  for i in $(seq 100); do
    # Gone, or a zombie (nobody may reap it here): either way it serves no more.
    [[ "$(ps -o stat= -p "$pid" 2>/dev/null)" == [^Z]* ]] || break
    sleep 0.1
  done
  rm -f "$BATS_FILE_TMPDIR/walrus.pid"
}

# restart_walrus [SIGNAL]: stops the server and starts it again on the same address.
restart_walrus() {
  stop_walrus "${1:-TERM}"
  start_walrus "$WALRUS_HOSTPORT"
}

# For setup_file: a fresh cloud in BATS_FILE_TMPDIR/home, its server, the admin's keys.
walrus_setup_file() {
  clean_env
  export WALRUS_HOME="$BATS_FILE_TMPDIR/home"
  EUCA_HOME="$WALRUS_HOME" "$EUCA_BIN" admin init >/dev/null
  export WALRUS_LOG="$BATS_FILE_TMPDIR/walrus.log"
  start_walrus
  export ADMIN_KEY ADMIN_SECRET
  ADMIN_KEY="$(source "$WALRUS_HOME/eucarc" && echo "$AWS_ACCESS_KEY_ID")"
  ADMIN_SECRET="$(source "$WALRUS_HOME/eucarc" && echo "$AWS_SECRET_ACCESS_KEY")"
  export AWS_CONFIG_FILE="$BATS_FILE_TMPDIR/aws-config"
  printf '[default]\ns3 =\n  addressing_style = path\n' >"$AWS_CONFIG_FILE"
}

walrus_teardown_file() { stop_walrus TERM; }

walrus_setup() {
  export EUCA_HOME="$WALRUS_HOME"
  cd "$BATS_TEST_TMPDIR"
}

need_aws() { [[ -x "$AWS" ]] || skip "the AWS CLI ($AWS) is not installed (apt-get install awscli)"; }
need_s3cmd() { [[ -x "$S3CMD" ]] || skip "s3cmd ($S3CMD) is not installed (apt-get install s3cmd)"; }

# aws_as KEY SECRET ARGS...: the AWS CLI against the server with that key.
aws_as() {
  local key="$1" secret="$2"
  shift 2
  AWS_ACCESS_KEY_ID="$key" AWS_SECRET_ACCESS_KEY="$secret" AWS_DEFAULT_REGION=euca \
    AWS_SHARED_CREDENTIALS_FILE=/dev/null AWS_EC2_METADATA_DISABLED=true AWS_PAGER= \
    "$AWS" --endpoint-url "$WALRUS_URL" "$@"
}
aws_admin() { aws_as "$ADMIN_KEY" "$ADMIN_SECRET" "$@"; }

# presign METHOD BUCKET KEY: a SigV4 presigned URL of the admin's (boto3), valid 10 minutes.
presign() {
  /usr/bin/python3 - "$WALRUS_URL" "$ADMIN_KEY" "$ADMIN_SECRET" "$@" <<'PY'
import sys
import boto3
from botocore.client import Config
url, key, secret, method, bucket, obj = sys.argv[1:7]
s3 = boto3.client("s3", endpoint_url=url, aws_access_key_id=key, aws_secret_access_key=secret,
                  region_name="euca", config=Config(signature_version="s3v4", s3={"addressing_style": "path"}))
op = {"PUT": "put_object", "GET": "get_object"}[method]
print(s3.generate_presigned_url(op, Params={"Bucket": bucket, "Key": obj}, ExpiresIn=600))
PY
}

need_boto3() { /usr/bin/python3 -c 'import boto3' 2>/dev/null || skip "python3-boto3 is not installed"; }
