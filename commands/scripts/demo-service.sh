#!/bin/sh
# A tiny stand-in service for the example procedures: a background loop per service/instance
# that appends to its log, tracked by a pidfile. Works on any Linux box with no setup.
#
#   demo-service.sh start|stop|restart|status|drain [--] <service> <instance>
#   demo-service.sh logs [--] <service> <instance> [lines]
#
# Steps get only PATH and LANG, so state lives under a fixed folder:
# $EDGEOPS_DEMO_STATE, else ${TMPDIR:-/tmp}/edgeops-demo. Exit codes: 0 ok, 1 failed,
# 2 bad input, 3 not running (status).
set -eu

usage() {
  echo "usage: demo-service.sh start|stop|restart|status|drain [--] <service> <instance>" >&2
  echo "       demo-service.sh logs [--] <service> <instance> [lines]" >&2
  exit 2
}

[ $# -ge 1 ] || usage
cmd=$1
shift
if [ "${1-}" = "--" ]; then shift; fi
[ $# -ge 2 ] || usage
service=$1
instance=$2
shift 2

# Names become file names: lowercase letters, digits and - only, so no path can be smuggled in.
check_name() {
  case "$2" in
    '' | *[!a-z0-9-]*)
      echo "demo-service: bad $1 name '$2': use 1 to 40 lowercase letters, digits and -" >&2
      exit 2
      ;;
  esac
  if [ ${#2} -gt 40 ]; then
    echo "demo-service: bad $1 name '$2': at most 40 characters" >&2
    exit 2
  fi
}
check_name service "$service"
check_name instance "$instance"

case "$cmd" in
  start | stop | restart | status | drain) [ $# -eq 0 ] || usage ;;
  logs) [ $# -le 1 ] || usage ;;
  *)
    echo "demo-service: unknown command '$cmd'" >&2
    usage
    ;;
esac

state=${EDGEOPS_DEMO_STATE:-${TMPDIR:-/tmp}/edgeops-demo}
mkdir -p -m 700 "$state" 2>/dev/null || true
# /tmp is shared: refuse a folder (or link) someone else put there.
if [ -L "$state" ] || [ ! -d "$state" ] || [ ! -O "$state" ]; then
  echo "demo-service: state folder $state is missing or not owned by $(id -un)" >&2
  exit 1
fi

name="$service-$instance"
label="$service/$instance"
pidfile="$state/$name.pid"
log="$state/$name.log"
drained="$state/$name.drained"

now() { date -u +%Y-%m-%dT%H:%M:%SZ; }

# True when the pidfile names a live process of this instance (not a zombie, not a reused pid).
alive() {
  [ -s "$pidfile" ] || return 1
  pid=$(cat "$pidfile")
  case "$pid" in '' | *[!0-9]*) return 1 ;; esac
  kill -0 "$pid" 2>/dev/null || return 1
  if [ -r "/proc/$pid/stat" ]; then
    st=$(sed 's/.*) //' "/proc/$pid/stat" | cut -d' ' -f1)
    [ "$st" != Z ] || return 1
    tr '\0' ' ' <"/proc/$pid/cmdline" | grep -qF "edgeops-demo-service $pidfile " || return 1
  fi
  return 0
}

start() {
  if alive; then
    echo "$label already running (pid $pid)"
    return 0
  fi
  if ! command -v setsid >/dev/null 2>&1; then
    echo "demo-service: setsid is needed to start the service (util-linux or busybox)" >&2
    exit 1
  fi
  rm -f "$pidfile" "$drained"
  # setsid: the service leaves the step's process group, which is killed when the step ends;
  # its output goes to the log, not to the step's pipes, so the step can finish.
  setsid sh -c '
    echo $$ >"$1.tmp" && mv "$1.tmp" "$1"
    trap "exit 0" TERM
    while :; do
      echo "$(date -u +%Y-%m-%dT%H:%M:%SZ) $2 serving requests" >>"$3"
      sleep 2 &
      wait $!
    done
  ' edgeops-demo-service "$pidfile" "$label" "$log" </dev/null >/dev/null 2>&1 &
  i=0
  while [ ! -s "$pidfile" ] && [ $i -lt 50 ]; do
    sleep 0.1
    i=$((i + 1))
  done
  if ! alive; then
    echo "demo-service: $label did not start" >&2
    exit 1
  fi
  echo "$(now) $label started${REASON:+ (reason: $REASON)}${INCIDENT:+ for $INCIDENT}" >>"$log"
  echo "$label started (pid $pid); log: $log"
}

stop() {
  if ! alive; then
    rm -f "$pidfile"
    echo "$label is not running"
    return 0
  fi
  # The service leads its own process group: stop the loop and its sleep together.
  kill -s TERM -- "-$pid" 2>/dev/null || kill -s TERM "$pid" 2>/dev/null || true
  i=0
  while alive && [ $i -lt 50 ]; do
    sleep 0.1
    i=$((i + 1))
  done
  if alive; then kill -s KILL -- "-$pid" 2>/dev/null || true; fi
  rm -f "$pidfile"
  echo "$(now) $label stopped" >>"$log"
  echo "$label stopped"
}

case "$cmd" in
  start) start ;;
  stop) stop ;;
  restart)
    stop
    start
    ;;
  drain)
    if alive; then
      touch "$drained"
      echo "$(now) $label draining: no new requests" >>"$log"
      echo "$label drained (pid $pid): no new requests are routed to it"
    else
      echo "$label is not running; nothing to drain"
    fi
    ;;
  status)
    if alive; then
      echo "$label is running (pid $pid)$([ -e "$drained" ] && echo ', drained' || true)"
      echo "last log line: $(tail -n 1 "$log" 2>/dev/null || true)"
    else
      echo "$label is not running" >&2
      exit 3
    fi
    ;;
  logs)
    lines=${1:-50}
    case "$lines" in '' | *[!0-9]*)
      echo "demo-service: lines must be a whole number, not '$lines'" >&2
      exit 2
      ;;
    esac
    if [ ! -f "$log" ]; then
      echo "no log for $label yet: the demo service has not been started (run restart-service)" >&2
      exit 1
    fi
    echo "last $lines lines of $log:"
    tail -n "$lines" "$log"
    ;;
esac
