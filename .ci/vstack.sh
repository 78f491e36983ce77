#!/usr/bin/env bash
# Virtual card stack for tests: pcscd + vpcd (Debian 12 packages), no systemd.
#
#   .ci/vstack.sh install   install the Debian packages (skipped when all are present)
#   .ci/vstack.sh up        start pcscd (or reuse a ready one); prints "STARTED=0|1 PID=N"
#   .ci/vstack.sh down      release this user's claim; stop the pcscd that `up` started once
#                           no other user is left (a pcscd vstack did not start is never stopped)
#   .ci/vstack.sh status    print "READY PID=N" or "NOT-READY" (exit 0 / 1)
#
# Environment: VSTACK_DIR (default /tmp/vstack-run: pcscd.pid, pcscd.log, users/),
#              VPCD_PORT (default 35963 = 0x8C7B from /etc/reader.conf.d/vpcd),
#              VSTACK_USER (default: the caller's PID) names the claim `up` takes and `down`
#              releases, so concurrent test runs sharing the one pcscd do not stop it under
#              each other; VSTACK_FORCE=1 makes `down` ignore other users.
#
# Readiness = /run/pcscd/pcscd.comm exists AND the vpcd port is in LISTEN (ss -ltnH).  We never
# probe by connecting to the vpcd port: vpcd would take the connection for a card insertion.
# See the team's virtual-card-stack reference, §2-§3 and §10 (stale PID file, zombie pcscd).
set -euo pipefail

VSTACK_DIR=${VSTACK_DIR:-/tmp/vstack-run}
VPCD_PORT=${VPCD_PORT:-35963}
PIDFILE=$VSTACK_DIR/pcscd.pid
LOGFILE=$VSTACK_DIR/pcscd.log
USERS_DIR=$VSTACK_DIR/users
VSTACK_USER=${VSTACK_USER:-$PPID}
RUNDIR=/run/pcscd
PACKAGES=(pcscd libpcsclite-dev vsmartcard-vpcd opensc opensc-pkcs11 softhsm2 pcsc-tools swig poppler-utils)

log() { echo "vstack: $*" >&2; }

# A PID is "alive" if it exists and is not a zombie (state Z in /proc/PID/stat): PID 1 on
# these machines reaps orphans late, and a zombie pcscd would still pass `kill -0`.
alive() {
    local pid=$1 stat
    [[ -n "$pid" && "$pid" =~ ^[0-9]+$ ]] || return 1
    stat=$(cat "/proc/$pid/stat" 2>/dev/null) || return 1
    stat=${stat##*) }          # drop "pid (comm) "; what is left starts with the state letter
    [[ "${stat:0:1}" != "Z" ]]
}

is_pcscd() { [[ "$(cat "/proc/$1/comm" 2>/dev/null)" == "pcscd" ]]; }

# LISTEN check from the socket table; never by connecting (vpcd would see a card insertion).
port_listening() {
    if command -v ss >/dev/null 2>&1; then
        [[ -n "$(ss -ltnH "sport = :$VPCD_PORT" 2>/dev/null)" ]]
        return
    fi
    local hex
    printf -v hex '%04X' "$VPCD_PORT"    # /proc/net/tcp: local address :PORT, state 0A = LISTEN
    grep -qE "^ *[0-9]+: [0-9A-F]+:$hex [0-9A-F]+:[0-9A-F]{4} 0A " /proc/net/tcp /proc/net/tcp6 \
        2>/dev/null
}

ready() { [[ -S "$RUNDIR/pcscd.comm" ]] && port_listening; }

# Every live pcscd on the machine (not zombies).
live_pcscds() {
    local pid
    for pid in $(pgrep -x pcscd || true); do
        alive "$pid" && echo "$pid"
    done
    return 0
}

wait_ready() {   # wait_ready PID SECONDS
    local pid=$1 tries=$(( $2 * 20 ))
    while (( tries-- > 0 )); do
        ready && return 0
        if [[ -n "$pid" ]] && ! alive "$pid"; then
            log "pcscd (pid $pid) exited during start-up; last log lines:"
            tail -n 20 "$LOGFILE" >&2 2>/dev/null || true
            return 1
        fi
        sleep 0.05
    done
    log "pcscd not ready after $2 s (socket $RUNDIR/pcscd.comm, port $VPCD_PORT)"
    tail -n 20 "$LOGFILE" >&2 2>/dev/null || true
    return 1
}

cmd_install() {
    local missing=() p st
    for p in "${PACKAGES[@]}"; do
        st=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
        [[ "$st" == "install ok installed" ]] || missing+=("$p")
    done
    command -v pgrep >/dev/null 2>&1 || missing+=(procps)
    command -v setsid >/dev/null 2>&1 || missing+=(util-linux)
    if (( ${#missing[@]} == 0 )); then
        log "packages already installed"
        return 0
    fi
    log "installing: ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q
    apt-get install -y -q --no-install-recommends "${PACKAGES[@]}" "${missing[@]}"
}

# Serialise up/down of concurrent callers.
lock() {
    mkdir -p "$VSTACK_DIR" "$USERS_DIR"
    if command -v flock >/dev/null 2>&1; then
        exec 9>"$VSTACK_DIR/lock"
        flock -w 60 9 || { log "could not lock $VSTACK_DIR/lock"; return 1; }
    fi
}

claim() { : >"$USERS_DIR/$VSTACK_USER"; }

# Release our claim, forget dead users; succeed if somebody else still uses the stack.
others_still_using() {
    local f user found=1
    rm -f "$USERS_DIR/$VSTACK_USER"
    for f in "$USERS_DIR"/*; do
        [[ -e "$f" ]] || continue
        user=${f##*/}
        if alive "$user"; then
            found=0
        else
            rm -f "$f"
        fi
    done
    return $found
}

cmd_up() {
    lock
    command -v pcscd >/dev/null || { log "pcscd is not installed (run: $0 install)"; return 1; }
    [[ -e /usr/lib/pcsc/drivers/serial/libifdvpcd.so ]] \
        || { log "vpcd driver missing (package vsmartcard-vpcd)"; return 1; }

    # 1. A pcscd we started earlier (PID file in VSTACK_DIR) and still running: reuse it.
    local pid=""
    [[ -f "$PIDFILE" ]] && pid=$(cat "$PIDFILE" 2>/dev/null || true)
    if alive "$pid" && is_pcscd "$pid"; then
        wait_ready "$pid" 10
        log "pcscd already running (pid $pid, started by an earlier 'up')"
        claim
        echo "STARTED=0 PID=$pid"
        return 0
    fi
    rm -f "$PIDFILE"

    # 2. Someone else's pcscd: reuse it only if it is ready with vpcd; never stop it.
    local others
    others=$(live_pcscds)
    if [[ -n "$others" ]]; then
        pid=$(echo "$others" | head -n 1)
        if wait_ready "$pid" 3; then
            log "reusing a pcscd not started by vstack (pid $pid); it will not be stopped"
            claim
            echo "STARTED=0 PID=$pid"
            return 0
        fi
        log "a pcscd not started by vstack (pid $pid) is running without vpcd on port $VPCD_PORT"
        return 1
    fi

    # 3. Stale files of a dead (or zombie) pcscd make a new one refuse to start.
    local old=""
    [[ -f "$RUNDIR/pcscd.pid" ]] && old=$(tr -cd '0-9' <"$RUNDIR/pcscd.pid" 2>/dev/null || true)
    if [[ -e "$RUNDIR/pcscd.pid" || -e "$RUNDIR/pcscd.comm" ]] && ! alive "$old"; then
        log "removing stale $RUNDIR/pcscd.{pid,comm} (old pid ${old:-?})"
        rm -f "$RUNDIR/pcscd.pid" "$RUNDIR/pcscd.comm"
    fi
    if port_listening; then
        log "port $VPCD_PORT is already in use by another program"
        return 1
    fi

    # 4. Start: -f foreground (logs to stdout), -i info level; never -x (auto-exit).
    setsid pcscd -f -i >"$LOGFILE" 2>&1 </dev/null 9>&- &   # 9>&-: not our lock
    pid=$!
    echo "$pid" >"$PIDFILE"
    if ! wait_ready "$pid" 15; then
        stop_ours || true
        return 1
    fi
    claim
    log "pcscd started (pid $pid, log $LOGFILE, PID file $PIDFILE)"
    echo "STARTED=1 PID=$pid"
}

cmd_down() {
    lock
    if others_still_using && [[ "${VSTACK_FORCE:-0}" != 1 ]]; then
        log "pcscd still in use by other runs ($(ls "$USERS_DIR" | tr '\n' ' ')); leaving it"
        return 0
    fi
    stop_ours
}

stop_ours() {
    local pid=""
    [[ -f "$PIDFILE" ]] && pid=$(cat "$PIDFILE" 2>/dev/null || true)
    if [[ -z "$pid" ]]; then
        log "nothing to stop (no $PIDFILE)"
        return 0
    fi
    if ! alive "$pid" || ! is_pcscd "$pid"; then
        log "pcscd pid $pid from $PIDFILE is gone"
        rm -f "$PIDFILE"
        return 0
    fi
    kill -TERM "$pid" 2>/dev/null || true
    local tries=200   # 10 s
    while (( tries-- > 0 )) && alive "$pid"; do sleep 0.05; done
    if alive "$pid"; then
        log "pcscd (pid $pid) ignored TERM for 10 s, sending KILL"
        kill -KILL "$pid" 2>/dev/null || true
        tries=100
        while (( tries-- > 0 )) && alive "$pid"; do sleep 0.05; done
        rm -f "$RUNDIR/pcscd.pid" "$RUNDIR/pcscd.comm"
    fi
    rm -f "$PIDFILE"
    log "pcscd (pid $pid) stopped"
}

cmd_status() {
    if ready; then
        echo "READY PID=$(live_pcscds | head -n 1)"
        return 0
    fi
    echo "NOT-READY"
    return 1
}

case "${1:-}" in
    install) cmd_install ;;
    up) cmd_up ;;
    down) cmd_down ;;
    status) cmd_status ;;
    *) echo "usage: $0 install|up|down|status" >&2; exit 2 ;;
esac
