#!/usr/bin/env bash
# A private PulseAudio sound server with a virtual sound card, for the live
# microphone tests (tests/mic_live.rs) and for trying `wordspot listen`
# without a microphone:
#
#   .ci/sound-server.sh start [DIR]   start it (does nothing if it already runs)
#   .ci/sound-server.sh stop [DIR]    stop it (does nothing if it is not running)
#   .ci/sound-server.sh kill [DIR]    SIGKILL it, as a crash would (no clean-up)
#   .ci/sound-server.sh status [DIR]  say whether it runs (exit 0 if it does)
#   .ci/sound-server.sh env [DIR]     print the variables a client needs, for
#                                      eval "$(.ci/sound-server.sh env)"
#
# DIR (default $WORDSPOT_SOUND_DIR, else /tmp/wordspot-sound) holds
# everything: the socket DIR/native, the pid file, the log, a client.conf
# with autospawn off, and DIR/xdg/alsa/asoundrc, which routes ALSA's
# `default` device to this server (ALSA reads it when XDG_CONFIG_HOME=DIR/xdg,
# so nothing outside DIR is touched and root is not needed).
#
# The server has one device: a null sink `wordspot_null` (48 kHz stereo)
# whose monitor `wordspot_null.monitor` is the default source. Whatever is
# played into the sink (`paplay --device=wordspot_null FILE`) is what a
# program capturing from ALSA's default device hears.
#
# Needs Debian's pulseaudio, pulseaudio-utils (pactl, paplay) and
# libasound2-plugins (ALSA's pulse plugin).
set -euo pipefail

cmd=${1:-}
DIR=${2:-${WORDSPOT_SOUND_DIR:-/tmp/wordspot-sound}}
SOCKET="$DIR/native"
PIDFILE="$DIR/pid"
LOG="$DIR/server.log"

say() { echo "sound-server: $*"; }

server_env() {
    export PULSE_SERVER="unix:$SOCKET"
    export PULSE_CLIENTCONFIG="$DIR/client.conf"
    export PULSE_RUNTIME_PATH="$DIR/runtime"
    export PULSE_STATE_PATH="$DIR/state"
}

pid_alive() {
    [ -f "$PIDFILE" ] && kill -0 "$(cat "$PIDFILE")" 2>/dev/null
}

answers() {
    (server_env && timeout 5 pactl info >/dev/null 2>&1)
}

write_config() {
    mkdir -p "$DIR/runtime" "$DIR/state" "$DIR/xdg/alsa"
    chmod 700 "$DIR/runtime"
    cat >"$DIR/client.conf" <<EOF
autospawn = no
default-server = unix:$SOCKET
EOF
    cat >"$DIR/xdg/alsa/asoundrc" <<EOF
# ALSA's default device is the private PulseAudio server in $DIR.
pcm.!default { type pulse }
ctl.!default { type pulse }
EOF
    cat >"$DIR/default.pa" <<EOF
load-module module-null-sink sink_name=wordspot_null rate=48000 channels=2 sink_properties=device.description=wordspot-null
load-module module-native-protocol-unix socket=$SOCKET auth-anonymous=1
set-default-sink wordspot_null
set-default-source wordspot_null.monitor
EOF
}

start() {
    if pid_alive && answers; then
        say "already running (pid $(cat "$PIDFILE"), socket $SOCKET)"
        return 0
    fi
    local missing=""
    command -v pulseaudio >/dev/null || missing="$missing pulseaudio"
    command -v pactl >/dev/null && command -v paplay >/dev/null || missing="$missing pulseaudio-utils"
    # ALSA's pulse plugin, which programs capturing from ALSA's default device go through.
    compgen -G "/usr/lib/*/alsa-lib/libasound_module_pcm_pulse.so" >/dev/null ||
        compgen -G "/usr/lib*/alsa-lib/libasound_module_pcm_pulse.so" >/dev/null ||
        missing="$missing libasound2-plugins"
    if [ -n "$missing" ]; then
        say "cannot start: not installed:$missing (apt-get install pulseaudio pulseaudio-utils libasound2-plugins)" >&2
        return 1
    fi
    if pid_alive; then
        kill -KILL "$(cat "$PIDFILE")" 2>/dev/null || true
    fi
    rm -f "$PIDFILE" "$SOCKET"
    write_config
    (
        server_env
        # -n: no default.pa from /etc; the private one loads the device and the socket.
        # Root gets a warning, not a refusal; there is no session bus (warnings too).
        setsid pulseaudio --daemonize=no --exit-idle-time=-1 --use-pid-file=no \
            --system=no --disallow-module-loading=no -n -F "$DIR/default.pa" \
            --log-target=file:"$LOG" </dev/null >>"$LOG" 2>&1 &
        echo $! >"$PIDFILE"
    )
    for _ in $(seq 1 100); do
        if answers; then
            say "started (pid $(cat "$PIDFILE"), socket $SOCKET, null sink wordspot_null, default source wordspot_null.monitor)"
            return 0
        fi
        if ! pid_alive; then break; fi
        sleep 0.1
    done
    say "cannot start: the server did not answer within 10 s; last lines of $LOG:" >&2
    tail -n 20 "$LOG" >&2 || true
    stop_quietly
    return 1
}

stop_quietly() {
    if pid_alive; then
        local pid
        pid=$(cat "$PIDFILE")
        kill -TERM "$pid" 2>/dev/null || true
        for _ in $(seq 1 50); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.1
        done
        kill -KILL "$pid" 2>/dev/null || true
    fi
    rm -f "$PIDFILE" "$SOCKET"
}

stop() {
    if pid_alive; then
        local pid
        pid=$(cat "$PIDFILE")
        stop_quietly
        say "stopped (pid $pid)"
    else
        rm -f "$PIDFILE" "$SOCKET"
        say "not running"
    fi
}

case "$cmd" in
start) start ;;
stop) stop ;;
kill)
    if pid_alive; then
        pid=$(cat "$PIDFILE")
        kill -KILL "$pid"
        while kill -0 "$pid" 2>/dev/null; do sleep 0.05; done
        rm -f "$PIDFILE"
        say "killed (pid $pid)"
    else
        say "not running"
    fi
    ;;
status)
    if pid_alive && answers; then
        say "running (pid $(cat "$PIDFILE"), socket $SOCKET)"
    else
        say "not running"
        exit 1
    fi
    ;;
env)
    echo "export PULSE_SERVER='unix:$SOCKET'"
    echo "export PULSE_CLIENTCONFIG='$DIR/client.conf'"
    echo "export XDG_CONFIG_HOME='$DIR/xdg'"
    ;;
*)
    echo "usage: $0 start|stop|kill|status|env [DIR]" >&2
    exit 2
    ;;
esac
