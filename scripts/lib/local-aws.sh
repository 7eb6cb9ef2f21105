# Sourced by scripts/test and scripts/bench: installs moto's server (locked in
# scripts/requirements-test.txt) into .venv, starts it on a free loopback
# port, exports its address as ACCUEIL_TEST_AWS_ENDPOINT, and stops it when
# the calling script exits.

source scripts/lib/venv.sh

start_local_aws() {
    local venv=.venv
    install_venv "$venv" test

    mkdir -p target
    local port
    port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    # The recorder (used by the template test to see which AWS actions the
    # functions call) writes under target/, not in the working tree.
    MOTO_RECORDER_FILEPATH="$PWD/target/moto-recording.jsonl" \
        "$venv/bin/moto_server" -H 127.0.0.1 -p "$port" > target/moto.log 2>&1 &
    LOCAL_AWS_PID=$!
    trap 'kill "$LOCAL_AWS_PID" 2>/dev/null || true' EXIT
    for _ in $(seq 1 100); do
        if python3 -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:$port/moto-api/data.json')" 2>/dev/null; then
            export ACCUEIL_TEST_AWS_ENDPOINT="http://127.0.0.1:$port"
            return 0
        fi
        if ! kill -0 "$LOCAL_AWS_PID" 2>/dev/null; then
            break
        fi
        sleep 0.1
    done
    echo "moto's server did not start:" >&2
    cat target/moto.log >&2
    exit 1
}
