#!/usr/bin/env bash
# A throw-away, single-node Ceph cluster serving S3 (the RADOS Gateway) on loopback, for Lifeboat's
# integration tests: one monitor, one OSD, no manager, no cephx, radosgw with the beast frontend, on
# free ports, with all state under one directory. Debian 12's ceph-mon, ceph-osd and radosgw (Ceph 16).
#
#   ceph-rgw.sh start DIR [--owner PID]   create DIR (absent or empty), start the cluster, create an S3
#                                         user with random keys; print KEY=VALUE lines (also DIR/s3.env).
#                                         With --owner, a watchdog stops the cluster and deletes DIR once
#                                         PID is gone, so a test run that is killed leaks nothing.
#   ceph-rgw.sh stop DIR                  stop the daemons started from DIR and delete DIR
#   ceph-rgw.sh admin DIR ARGS...         radosgw-admin on this cluster (users, keys, buckets)
#
# Environment: CEPH_RGW_STORE = memstore (default: object data in the OSD's RAM, fastest to create) or
# bluestore (a sparse file in DIR); CEPH_RGW_SIZE_MB = the OSD's capacity (default 4096).
# Exit status: 0 ready, 1 failed (the daemons' log tails on stderr), 3 Ceph is not installed here.
#
# Pitfalls handled (see ../shared/peers.md): radosgw hangs unless `ms_mon_client_mode = crc` with
# auth off; pools are created up front (radosgw would otherwise create them lazily, making the first
# requests take seconds); beast needs tcp_nodelay (else ~45 ms per small GET); this machine's PID 1
# does not reap zombies, so a zombie counts as stopped.
set -euo pipefail

usage() {
  sed -n '2,16p' "$0" >&2
  exit 2
}
[[ $# -ge 2 ]] || usage
CMD=$1
DIR=$2
shift 2
HOST=127.0.0.1
MARKER=".lifeboat-ceph-rgw"
STARTED=$(date +%s%N)

log() { printf '[ceph-rgw +%ss] %s\n' "$((($(date +%s%N) - STARTED) / 1000000000))" "$*" >&2; }

die() {
  log "ERROR: $*"
  local f
  for f in "$DIR"/log/*; do
    [[ -f $f ]] && { echo "--- tail $f" >&2; tail -n 20 "$f" >&2; }
  done
  stop_daemons
  exit 1
}

# The pid of NAME's daemon if it is alive (not a zombie) and really runs BINARY with our config.
live_pid() {
  local pidf="$DIR/run/$1.pid" pid state
  [[ -s $pidf ]] || return 0
  pid=$(<"$pidf")
  state=$(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null) || return 0
  [[ $state != Z ]] || return 0
  grep -qa -- "$2" "/proc/$pid/cmdline" 2>/dev/null && grep -qa -- "$DIR/ceph.conf" "/proc/$pid/cmdline" &&
    echo "$pid"
  return 0
}

stop_one() {
  local pid
  pid=$(live_pid "$1" "$2")
  [[ -n $pid ]] || return 0
  kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 1 100); do
    [[ -z $(live_pid "$1" "$2") ]] && return 0
    sleep 0.1
  done
  kill -KILL "$pid" 2>/dev/null || true
}

# radosgw first, the monitor last: the OSD reports its shutdown to the monitor.
stop_daemons() {
  [[ -d $DIR/run ]] || return 0
  stop_one client.rgw.a radosgw
  stop_one osd.0 ceph-osd
  stop_one mon.a ceph-mon
}

# Deletes DIR only if this script made it, so a wrong argument can never wipe someone's data.
purge() {
  if [[ -f $DIR/$MARKER ]]; then
    rm -rf "$DIR"
  elif [[ -e $DIR ]]; then
    echo "ceph-rgw: $DIR was not created by ceph-rgw.sh; not deleting it" >&2
    return 1
  fi
}

free_port() {
  node -e 'const s = require("node:net").createServer(); s.listen(0, "127.0.0.1", () => { console.log(s.address().port); s.close(); });'
}

random_hex() { od -An -N"$1" -tx1 /dev/urandom | tr -d ' \n'; }

# True once radosgw answers an anonymous GET / with 200 (bash's /dev/tcp: no curl needed).
rgw_ready() {
  local status
  status=$(
    exec 2>/dev/null
    exec 3<>"/dev/tcp/$HOST/$RGW_PORT" || exit 1
    printf 'GET / HTTP/1.0\r\nHost: %s\r\n\r\n' "$HOST" >&3
    timeout 2 head -n 1 <&3
  ) || return 1
  [[ $status == *" 200 "* ]]
}

write_config() {
  local fsid store size_bytes
  fsid=$(cat /proc/sys/kernel/random/uuid)
  store=${CEPH_RGW_STORE:-memstore}
  [[ $store == memstore || $store == bluestore ]] || die "CEPH_RGW_STORE must be memstore or bluestore"
  size_bytes=$((${CEPH_RGW_SIZE_MB:-4096} * 1024 * 1024))
  cat >"$DIR/ceph.conf" <<EOF
# Written by Lifeboat's test/peers/ceph-rgw.sh: single node, loopback only, no redundancy, no auth.
[global]
fsid = $fsid
mon_host = [v2:$HOST:$MON_PORT]
public_addr = $HOST
ms_bind_msgr1 = false
ms_bind_ipv6 = false
run_dir = $DIR/run
admin_socket = $DIR/run/\$name.asok
pid_file = $DIR/run/\$name.pid
log_file = $DIR/log/\$name.log
crash_dir = $DIR/crash
keyring = $DIR/keyring
auth_cluster_required = none
auth_service_required = none
auth_client_required = none
osd_pool_default_size = 1
osd_pool_default_min_size = 1
osd_pool_default_pg_num = 8
osd_pool_default_pgp_num = 8
osd_pool_default_pg_autoscale_mode = off
osd_crush_chooseleaf_type = 0
mon_allow_pool_size_one = true
mon_max_pg_per_osd = 1000
mon_warn_on_pool_no_redundancy = false
mon_data_avail_warn = 1
mon_data_avail_crit = 0
# commit monitor changes quickly: pool creation is most of the start-up otherwise
paxos_propose_interval = 0.05
paxos_min_wait = 0.01
debug_ms = 0/0

[mon]
mon_data = $DIR/mon/\$id

[osd]
osd_data = $DIR/osd/\$id
osd_objectstore = $store
# bluestore: the block file sits outside the OSD directory, which mkfs wants empty
bluestore_block_path = $DIR/osd/\$id.block
bluestore_block_create = true
bluestore_block_size = $size_bytes
bluestore_fsck_on_mkfs = false
memstore_device_bytes = $size_bytes
osd_memory_target = 939524096

[client.rgw.a]
rgw_data = $DIR/rgw
rgw_frontends = beast endpoint=$HOST:$RGW_PORT tcp_nodelay=1
ms_mon_client_mode = crc
rgw_init_timeout = 60
rgw_enable_usage_log = false
EOF
}

start() {
  local owner=""
  if [[ ${1:-} == --owner ]]; then
    owner=${2:?--owner needs a pid}
  fi
  local bin
  for bin in ceph-mon ceph-osd radosgw radosgw-admin ceph ceph-authtool monmaptool node; do
    command -v "$bin" >/dev/null || {
      echo "ceph-rgw: $bin is not installed (apt-get install ceph-mon ceph-osd radosgw)" >&2
      exit 3
    }
  done
  if [[ -e $DIR && -n $(ls -A "$DIR") ]]; then
    echo "ceph-rgw: $DIR is not empty; give a new directory" >&2
    exit 2
  fi
  mkdir -p "$DIR"/{mon/a,osd/0,log,run,rgw,crash}
  touch "$DIR/$MARKER"
  MON_PORT=$(free_port)
  RGW_PORT=$(free_port)
  write_config
  local ceph=(ceph -c "$DIR/ceph.conf" --connect-timeout 20)

  # The monitor wants a keyring at mkfs time even with auth disabled.
  ceph-authtool --create-keyring "$DIR/keyring" --gen-key -n mon. --cap mon 'allow *' >/dev/null
  ceph-authtool "$DIR/keyring" --gen-key -n client.admin --cap mon 'allow *' --cap osd 'allow *' >/dev/null
  monmaptool --create --addv a "[v2:$HOST:$MON_PORT]" --fsid "$(awk '/^fsid/ {print $3}' "$DIR/ceph.conf")" \
    "$DIR/monmap" >/dev/null
  ceph-mon -c "$DIR/ceph.conf" --mkfs -i a --monmap "$DIR/monmap" --keyring "$DIR/keyring" \
    >"$DIR/log/mon-mkfs.out" 2>&1 || die "ceph-mon --mkfs failed"
  ceph-mon -c "$DIR/ceph.conf" -i a >"$DIR/log/mon-start.out" 2>&1 || die "ceph-mon did not start"
  timeout 30 "${ceph[@]}" mon stat >/dev/null 2>&1 || die "the monitor does not answer on $HOST:$MON_PORT"
  log "monitor up on $HOST:$MON_PORT"

  local osd_uuid osd_id
  osd_uuid=$(cat /proc/sys/kernel/random/uuid)
  osd_id=$("${ceph[@]}" osd new "$osd_uuid" 2>"$DIR/log/osd-new.out") || die "ceph osd new failed"
  [[ $osd_id == 0 ]] || die "expected OSD id 0, got $osd_id"
  ceph-osd -c "$DIR/ceph.conf" -i 0 --mkfs --osd-uuid "$osd_uuid" >"$DIR/log/osd-mkfs.out" 2>&1 ||
    die "ceph-osd --mkfs failed"
  ceph-osd -c "$DIR/ceph.conf" -i 0 >"$DIR/log/osd-start.out" 2>&1 || die "ceph-osd did not start"

  # Pools while the OSD boots: the monitor accepts them before any OSD is up.
  local pool commands=""
  for pool in .rgw.root default.rgw.log default.rgw.control default.rgw.meta \
    default.rgw.buckets.index default.rgw.buckets.data default.rgw.buckets.non-ec; do
    "${ceph[@]}" osd pool create "$pool" 8 8 replicated >>"$DIR/log/pools.out" 2>&1 ||
      die "creating pool $pool failed"
    commands+="$pool "
  done
  for pool in $commands; do
    "${ceph[@]}" osd pool application enable "$pool" rgw >>"$DIR/log/pools.out" 2>&1 ||
      die "enabling rgw on pool $pool failed"
  done
  log "pools created"
  for _ in $(seq 1 240); do
    "${ceph[@]}" osd dump 2>/dev/null | grep -q '^osd.0 up' && break
    sleep 0.25
  done
  "${ceph[@]}" osd dump | grep -q '^osd.0 up' || die "osd.0 did not come up"
  log "osd.0 up (${CEPH_RGW_STORE:-memstore})"

  radosgw -c "$DIR/ceph.conf" -n client.rgw.a >"$DIR/log/rgw-start.out" 2>&1 || die "radosgw did not start"
  for _ in $(seq 1 240); do
    rgw_ready && break
    [[ -n $(live_pid client.rgw.a radosgw) ]] || { sleep 0.5; [[ -n $(live_pid client.rgw.a radosgw) ]] || die "radosgw exited"; }
    sleep 0.25
  done
  rgw_ready || die "radosgw does not answer on http://$HOST:$RGW_PORT"
  log "radosgw answering on http://$HOST:$RGW_PORT"

  local access secret
  access=$(random_hex 10)
  secret=$(random_hex 20)
  radosgw-admin -c "$DIR/ceph.conf" -n client.admin user create --uid=lifeboat --display-name="Lifeboat tests" \
    --access-key="$access" --secret-key="$secret" >"$DIR/log/user.out" 2>&1 || die "creating the S3 user failed"

  if [[ -n $owner ]]; then
    # Detached from our stdout/stderr so whoever reads them sees EOF when this script ends.
    nohup bash "$0" watch "$DIR" "$owner" </dev/null >/dev/null 2>&1 &
  fi
  cat >"$DIR/s3.env" <<EOF
S3_ENDPOINT=http://$HOST:$RGW_PORT
AWS_ACCESS_KEY_ID=$access
AWS_SECRET_ACCESS_KEY=$secret
AWS_REGION=us-east-1
EOF
  log "ready"
  cat "$DIR/s3.env"
}

# The watchdog: waits for the owner to exit (or the directory to go), then stops and deletes.
watch_owner() {
  local owner=$1
  while [[ -f $DIR/$MARKER ]] && kill -0 "$owner" 2>/dev/null &&
    [[ $(awk '{print $3}' "/proc/$owner/stat" 2>/dev/null) != Z ]]; do
    sleep 2
  done
  stop_daemons
  purge || true
}

case $CMD in
start) start "$@" ;;
stop)
  stop_daemons
  purge
  ;;
watch) watch_owner "$@" ;;
admin) exec radosgw-admin -c "$DIR/ceph.conf" -n client.admin "$@" ;;
*) usage ;;
esac
