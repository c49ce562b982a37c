#!/usr/bin/env bash
# Desktop end-to-end test: builds the Tauri app (debug), starts it under
# Xvfb through tauri-driver, and drives the real window over W3C WebDriver
# (e2e-desktop/drive.mjs): first start on a fresh data folder, a CSV import
# with two bad rows through the wizard, a job's progress and cancellation,
# a menu accelerator, then warm relaunches, timed from process start to the
# Sources page. Writes e2e-desktop/artifacts/ (screenshot, report text,
# launch-times.json). Last line: `desktop-e2e: N passed, M failed`.
#
# Needs (Debian 12): libwebkit2gtk-4.1-dev build-essential libxdo-dev
# libssl-dev libayatana-appindicator3-dev librsvg2-dev pkg-config, and for
# this test xvfb xauth webkit2gtk-driver xdotool; node 20. Installs
# tauri-driver with cargo when missing.
#
#   e2e-desktop/run.sh                 # E2E_LAUNCHES=3 warm relaunches by default
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
export PATH="$HOME/.cargo/bin:$PATH"

# The UI is embedded at compile time (tauri::generate_context!).
[ -f ui/dist/index.html ] || npm run build
cargo build -p cohort-desktop
APP="$ROOT/target/debug/cohort-desktop"
command -v tauri-driver >/dev/null || cargo install tauri-driver --locked

WORK=$(mktemp -d "${TMPDIR:-/tmp}/cohort-desktop-e2e.XXXXXX")
XVFB_PID=""
DRIVER_PID=""
cleanup() {
  # Stop exactly what this script started, by PID: tauri-driver does not end
  # its WebKitWebDriver child when killed, so that one is stopped by PID too.
  if [ -n "$DRIVER_PID" ]; then
    local children
    children=$(pgrep -P "$DRIVER_PID" || true)
    kill "$DRIVER_PID" 2>/dev/null && wait "$DRIVER_PID" 2>/dev/null || true
    for pid in $children; do kill "$pid" 2>/dev/null || true; done
  fi
  [ -n "$XVFB_PID" ] && kill "$XVFB_PID" 2>/dev/null && wait "$XVFB_PID" 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT

# A display and ports nobody else is using (another test may be running).
display=${E2E_DISPLAY:-99}
while [ -e "/tmp/.X${display}-lock" ]; do display=$((display + 1)); done
port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
port=${E2E_PORT:-4444}
while ! port_free "$port" || ! port_free "$((port + 1))"; do port=$((port + 2)); done

Xvfb ":$display" -screen 0 1280x800x24 -nolisten tcp >"$WORK/xvfb.log" 2>&1 &
XVFB_PID=$!
for _ in $(seq 50); do [ -e "/tmp/.X11-unix/X$display" ] && break; sleep 0.1; done
export DISPLAY=":$display"

# The app inherits these through tauri-driver and WebKitWebDriver.
mkdir -p "$WORK/data"
export COHORT_DATA_DIR="$WORK/data"
export COHORT_E2E_PICK="$WORK/people.csv"
export COHORT_E2E_SAVE_DIR="$WORK/saved"
mkdir -p "$COHORT_E2E_SAVE_DIR"
cat >"$COHORT_E2E_PICK" <<'CSV'
email,first name,last name,phone,country,city
ann@example.com,Ann,Lee,+1 415 555 0100,US,San Francisco
bob@example.com,Bob,Stone,+44 20 7946 0000,GB,London
,Nobody,Known,,US,Boston
carol@example.com,Carol,King,,DE,Berlin
,,Ghost,,,
dave@example.com,Dave,Moss,,FR,Paris
CSV

tauri-driver --port "$port" --native-port "$((port + 1))" >"$WORK/tauri-driver.log" 2>&1 &
DRIVER_PID=$!
for _ in $(seq 100); do
  curl -fsS "http://127.0.0.1:$port/status" >/dev/null 2>&1 && break
  sleep 0.1
done

mkdir -p e2e-desktop/artifacts
status=0
node e2e-desktop/drive.mjs --app "$APP" --driver "http://127.0.0.1:$port" --data "$COHORT_DATA_DIR" \
  --artifacts e2e-desktop/artifacts --launches "${E2E_LAUNCHES:-3}" \
  | tee "$WORK/drive.log" || status=$?
if [ "$status" -ne 0 ]; then
  echo "--- tauri-driver log (last 40 lines)" >&2
  tail -n 40 "$WORK/tauri-driver.log" >&2 || true
  # Keep the summary the last line.
  tail -n 1 "$WORK/drive.log" | grep '^desktop-e2e:' || echo "desktop-e2e: 0 passed, 1 failed"
fi
exit "$status"
