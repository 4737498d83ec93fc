#!/usr/bin/env bash
# Send throughput: `dawnpost send` of the demo digest to N recipients through a local SMTP
# server on 127.0.0.1 with STARTTLS and AUTH, over `smtp.connections` connections of its own,
# each delivery recorded in the SQLite ledger.
#   usage: benches/send_throughput.sh [N] [exim|aiosmtpd]      (default 1000 exim)
# exim: Debian's Exim (exim4-daemon-light) with the tests' config, delivering every message
#   into a Maildir; the figure counts until the last message is in it. With
#   DAWNPOST_BENCH_EXIM_QUEUE=1 Exim only accepts and queues (a relay's part).
# aiosmtpd: the tests' Python server counting messages without storing them; needs a
#   Python with aiosmtpd (DAWNPOST_TEST_PYTHON, else target/ci-venv).
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-1000}
kind=${2:-exim}
py=${DAWNPOST_TEST_PYTHON:-$PWD/target/ci-venv/bin/python}
work=$(mktemp -d)
chmod 755 "$work"
server=
trap '[ -n "$server" ] && kill "$server" 2>/dev/null; rm -rf "$work"' EXIT
# DAWNPOST_BENCH_BIN runs another build (an earlier release, side by side) on the same setup.
if [ -z "${DAWNPOST_BENCH_BIN:-}" ]; then
    cargo build --release --quiet
fi
bin=${DAWNPOST_BENCH_BIN:-$PWD/target/release/dawnpost}

# A throwaway CA and a server certificate for 127.0.0.1 signed by it.
(
    cd "$work"
    openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.pem -days 2 -subj /CN=bench-ca 2>/dev/null
    openssl req -newkey rsa:2048 -nodes -keyout leaf.key -out leaf.csr -subj /CN=localhost 2>/dev/null
    printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=critical,CA:FALSE\nextendedKeyUsage=serverAuth\n' > ext
    openssl x509 -req -in leaf.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out leaf.pem -days 2 -extfile ext 2>/dev/null
)
chmod 644 "$work/leaf.key"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
case $kind in
exim)
    mkdir -m 777 "$work/spool" "$work/log" "$work/maildir"
    user=$([ "$(id -u)" = 0 ] && echo Debian-exim || id -un)
    sed -e "s|@D@|$work|g; s|@PORT@|$port|; s|@CERT@|$work/leaf.pem|; s|@KEY@|$work/leaf.key|" \
        -e "s|@REJECTED@|nobody@bench.example|; s|@USER@|$user|; s|@AUTH_USER@|bench|g; s|@PASSWORD@|bench-pw|g" \
        tests/it/exim.conf.in > "$work/exim.conf"
    # exim-queue: accept and queue only, as a relay in front of the internet does; the
    # deliveries (here, a process forked per message) are left for later.
    [ "${DAWNPOST_BENCH_EXIM_QUEUE:-0}" = 1 ] && sed -i '1i queue_only = true' "$work/exim.conf"
    /usr/sbin/exim4 -C "$work/exim.conf" -bdf &
    server=$!
    until (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; do sleep 0.1; done
    ;;
aiosmtpd)
    "$py" -c "import aiosmtpd" || { echo "aiosmtpd is not installed for $py" >&2; exit 1; }
    "$py" tests/it/smtp_server.py --port "$port" --maildir "$work/maildir" --sink \
        --cert "$work/leaf.pem" --key "$work/leaf.key" --user bench --password bench-pw > "$work/server.out" &
    server=$!
    until grep -q READY "$work/server.out" 2>/dev/null; do sleep 0.1; done
    ;;
*) echo "unknown server $kind (exim or aiosmtpd)" >&2; exit 2 ;;
esac
printf 'bench-pw\n' > "$work/password"

# The demo config with one team of N people and a report for it.
cp fixtures/demo.toml "$work/bench.toml"
{
    printf '\n[[teams]]\nname = "everyone"\nmembers = [\n'
    for i in $(seq 1 "$n"); do printf '  { name = "Reader %d", email = "reader%05d@bench.example" },\n' "$i" "$i"; done
    printf ']\n\n[[reports]]\nname = "bench"\nteams = ["everyone"]\nfrom = "reports@bench.example"\nowner = "owner@bench.example"\n'
    printf '\n[smtp]\nurl = "smtp://127.0.0.1:%s"\nusername = "bench"\npassword_file = "%s"\nca_file = "%s"\nconnections = %s\n' \
        "$port" "$work/password" "$work/ca.pem" "${DAWNPOST_BENCH_CONNECTIONS:-4}"
} >> "$work/bench.toml"
"$bin" --config "$work/bench.toml" --data-dir "$work/data" check > /dev/null

start=$(python3 -c "import time; print(time.time())")
/usr/bin/time -f "dawnpost send: %e s wall, %U s user, %S s sys, %M KB peak RSS" \
    "$bin" --config "$work/bench.toml" --data-dir "$work/data" send --report bench > "$work/send.out"
tail -1 "$work/send.out"
if [ "$kind" = exim ] && [ "${DAWNPOST_BENCH_EXIM_QUEUE:-0}" != 1 ]; then
    until [ "$(ls "$work/maildir/new" 2>/dev/null | wc -l)" -ge "$n" ]; do sleep 0.05; done
    echo "$n messages in Exim's Maildir after $(python3 -c "import time; print(round(time.time() - $start, 2))") s"
fi
