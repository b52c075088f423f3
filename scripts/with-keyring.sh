#!/usr/bin/env bash
# Runs a command against a real, headless Secret Service: a private D-Bus session bus (dbus-run-session)
# with its own gnome-keyring-daemon whose "login" collection is created and unlocked with a random
# throwaway password, so writes need no prompt. Keyring files live in a temporary folder, never in $HOME.
# Exits with the command's exit code; the daemon, the bus and the folder are gone when it returns.
#
#   bash scripts/with-keyring.sh npx vitest run --project unit test/unit/src-main/app/credentials
#
# Needs (Debian 12): apt-get install --no-install-recommends gnome-keyring dbus-bin dbus-daemon
# (gnome-keyring also needs a dbus-session-bus provider: dbus-user-session, or the lighter dbus-x11.
# libsecret is not needed: @napi-rs/keyring speaks D-Bus itself.)
set -euo pipefail

if [ "$#" -eq 0 ]; then
  echo "usage: $0 <command> [args...]" >&2
  exit 2
fi

for tool in dbus-run-session dbus-send gnome-keyring-daemon; do
  if ! command -v "$tool" >/dev/null; then
    echo "with-keyring.sh: '$tool' not found; install: apt-get install --no-install-recommends gnome-keyring dbus-bin dbus-daemon" >&2
    exit 127
  fi
done

# Signals a shell must pass on itself: bash runs traps only between commands, so each half runs its child in
# the background (`<&0` keeps stdin, which a background job would otherwise lose) and waits for it.
wait_for() {
  local pid="$1" status
  while :; do
    signalled=''
    status=0
    wait "$pid" || status=$?
    # A trapped signal interrupts `wait` early (status > 128): wait again for the child's own exit code.
    [ -n "$signalled" ] && [ "$status" -gt 128 ] || return "$status"
  done
}

# Outer half: start the private bus and run this same script inside it. dbus-run-session stops the bus
# when the inner half exits and passes its exit code on, but dies alone on SIGTERM, so a signal goes to
# the inner half (its pid is in the state folder), which stops the command and the daemon first.
if [ -z "${WITH_KEYRING_STATE:-}" ]; then
  state="$(mktemp -d "${TMPDIR:-/tmp}/with-keyring.XXXXXX")"
  trap 'rm -rf "$state"' EXIT
  inner_pid() { cat "$state/inner.pid" 2>/dev/null || true; }
  forward() {
    signalled=1
    local inner
    for _ in $(seq 1 40); do
      inner="$(inner_pid)"
      [ -z "$inner" ] || break
      sleep 0.05
    done
    kill -TERM "${inner:-$runner}" 2>/dev/null || true
  }
  WITH_KEYRING_STATE="$state" dbus-run-session -- bash "$0" "$@" <&0 &
  runner=$!
  trap forward TERM INT HUP
  status=0
  wait_for "$runner" || status=$?
  # If dbus-run-session itself was killed (Ctrl-C reaches the whole process group), let the inner half
  # finish its cleanup before the state folder goes.
  inner="$(inner_pid)"
  for _ in $(seq 1 50); do
    [ -n "$inner" ] && kill -0 "$inner" 2>/dev/null || break
    sleep 0.1
  done
  exit "$status"
fi

state="$WITH_KEYRING_STATE"
unset WITH_KEYRING_STATE
echo "$$" >"$state/inner.pid"
daemon_pid=''
cleanup() {
  if [ -n "$daemon_pid" ]; then
    kill "$daemon_pid" 2>/dev/null || true
    wait "$daemon_pid" 2>/dev/null || true
  fi
  rm -rf "$state/data" "$state/control"
}
trap cleanup EXIT
# Until the command runs, a signal just ends this half (the EXIT trap still stops the daemon).
trap 'exit 143' TERM
trap 'exit 130' INT
trap 'exit 129' HUP
mkdir -m 700 "$state/data" "$state/control"

# Foreground mode keeps the daemon our child, so cleanup can kill and reap it (a --daemonize'd daemon is
# re-parented and would outlive us as a zombie or worse). --unlock reads the password from stdin and
# creates the "login" collection with it; gnome-keyring makes that collection the "default" alias, which
# is where the Secret Service API (and @napi-rs/keyring) writes new items.
password="$(head -c 32 /dev/urandom | base64)"
XDG_DATA_HOME="$state/data" gnome-keyring-daemon --foreground --unlock --components=secrets \
  --control-directory="$state/control" >"$state/daemon.log" 2>&1 < <(printf '%s' "$password") &
daemon_pid=$!
unset password

bus_call() {
  dbus-send --session --print-reply --reply-timeout=2000 "$@" 2>/dev/null || true
}
# Ready means: the daemon owns org.freedesktop.secrets (checked first: calling the name before would make
# the bus D-Bus-activate a second, locked daemon) and the default alias names an unlocked collection.
ready() {
  local reply collection
  reply="$(bus_call --dest=org.freedesktop.DBus /org/freedesktop/DBus org.freedesktop.DBus.NameHasOwner \
    string:org.freedesktop.secrets)"
  [[ "$reply" == *'boolean true'* ]] || return 1
  reply="$(bus_call --dest=org.freedesktop.secrets /org/freedesktop/secrets \
    org.freedesktop.Secret.Service.ReadAlias string:default)"
  collection="$(sed -n 's/.*object path "\(.*\)".*/\1/p' <<<"$reply")"
  [ -n "$collection" ] && [ "$collection" != / ] || return 1
  reply="$(bus_call --dest=org.freedesktop.secrets "$collection" org.freedesktop.DBus.Properties.Get \
    string:org.freedesktop.Secret.Collection string:Locked)"
  [[ "$reply" == *'boolean false'* ]]
}
for _ in $(seq 1 100); do
  ready && break
  if ! kill -0 "$daemon_pid" 2>/dev/null; then
    echo "with-keyring.sh: gnome-keyring-daemon exited during startup:" >&2
    cat "$state/daemon.log" >&2
    daemon_pid=''
    exit 1
  fi
  sleep 0.1
done
if ! ready; then
  echo "with-keyring.sh: gnome-keyring did not offer an unlocked default collection within 10 s:" >&2
  cat "$state/daemon.log" >&2
  exit 1
fi

"$@" <&0 &
child_pid=$!
trap 'signalled=1; kill -TERM "$child_pid" 2>/dev/null || true' TERM INT HUP
status=0
wait_for "$child_pid" || status=$?
exit "$status"
