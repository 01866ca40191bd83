#!/usr/bin/env bash
# Remote GPU benchmarks (issue 5): JMH RemoteBenchmarks (java/bench) on the simulated driver,
# each remote figure beside its baseline from the same run, then the ratios as Markdown.
#
#   bash bench/remote/run.sh [OUT_DIR] [extra JMH options, e.g. -wi 1 -i 2]
#
#   GPUPOOL_BENCH_ROUNDS          rounds of the native half (default 3): each runs the native
#                                 program in-process, then through the forwarding driver
#   GPUPOOL_BENCH_WARMUP_SECONDS, GPUPOOL_BENCH_ITERATIONS: see native_remote_bench.cc
#
# After the rounds, one more run of the native program goes to a worker over TLS (a
# self-signed certificate made with the openssl command; skipped without it), for what TLS
# costs: no target, reported beside the plain rounds.
#
# Writes OUT_DIR/remote-jmh.json, remote-native-{local,remote,tls}.txt and remote.md (default
# OUT_DIR: bench/results).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$root"
out="${1:-bench/results}"
shift || true
mkdir -p "$out"
rounds="${GPUPOOL_BENCH_ROUNDS:-3}"
if ! [[ $rounds =~ ^[1-9][0-9]*$ ]]; then
  echo "GPUPOOL_BENCH_ROUNDS=$rounds: expected a whole number of rounds, 1 or more" >&2
  exit 2
fi

mvn -B -ntp -q -DskipTests install
cp_file="$(mktemp)"
mvn -B -ntp -q -pl java/bench dependency:build-classpath -Dmdep.outputFile="$cp_file"
classpath="java/bench/target/classes:$(cat "$cp_file")"
rm -f "$cp_file"

native="$root/build/native"
LD_LIBRARY_PATH="$native/lib/sim${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" \
  java -Dgpupool.home="$native" -Dgpupool.kernels.dir="$native/kernels" -cp "$classpath" \
  org.openjdk.jmh.Main RemoteBenchmarks -rf json -rff "$out/remote-jmh.json" "$@"

# The native half: the same program on the sim in-process, then through the forwarding driver
# to a worker (started here directly, without an agent), each with its own loopback baselines;
# several rounds in turn, so that each remote run has an in-process run next to it in time
# (the machine's load changes from minute to minute).
bench_bin="$native/tests/native_remote_bench"
export GPUPOOL_KERNELS_DIR="$native/kernels"

# remote_run OUT ADDRESS [WORKER OPTIONS...]: a worker of its own, the native program attached to
# it at ADDRESS:PORT (with TLS: gpupools://localhost, trusting $tls_dir/cert.pem), its lines
# appended to OUT.
remote_run() {
  local file="$1" address="$2"
  shift 2
  local secret worker_log worker_pid port
  secret="$(python3 -c 'import secrets; print(secrets.token_hex(32))')"
  worker_log="$(mktemp)"
  GPUPOOL_WORKER_SECRET="$secret" LD_LIBRARY_PATH="$native/lib/sim" \
    java -cp "$classpath" io.gpupool.remote.WorkerMain --bind 127.0.0.1 "$@" > "$worker_log" &
  worker_pid=$!
  for _ in $(seq 300); do
    grep -q "gpupool-worker listening" "$worker_log" && break
    sleep 0.1
  done
  port="$(sed -n 's/^gpupool-worker listening .*://p' "$worker_log")"
  env LD_LIBRARY_PATH="$native/lib/remote" GPUPOOL_REMOTE_WORKER="$address:$port" GPUPOOL_REMOTE_SECRET="$secret" \
    ${tls_dir:+GPUPOOL_REMOTE_TRUST="$tls_dir/cert.pem"} "$bench_bin" >> "$file"
  wait "$worker_pid" || true
  rm -f "$worker_log"
}

: > "$out/remote-native-local.txt"
: > "$out/remote-native-remote.txt"
for round in $(seq "$rounds"); do
  echo "# round $round" >> "$out/remote-native-local.txt"
  LD_LIBRARY_PATH="$native/lib/sim" "$bench_bin" >> "$out/remote-native-local.txt"
  echo "# round $round" >> "$out/remote-native-remote.txt"
  remote_run "$out/remote-native-remote.txt" 127.0.0.1
done

: > "$out/remote-native-tls.txt"
if command -v openssl > /dev/null; then
  tls_dir="$(mktemp -d)"
  openssl req -x509 -newkey rsa:2048 -nodes -keyout "$tls_dir/key.raw.pem" -out "$tls_dir/cert.pem" -days 2 \
    -subj /CN=localhost -addext subjectAltName=DNS:localhost 2> /dev/null
  openssl pkcs8 -topk8 -nocrypt -in "$tls_dir/key.raw.pem" -out "$tls_dir/key.pem"  # Netty reads PKCS#8
  remote_run "$out/remote-native-tls.txt" gpupools://localhost --tls-cert "$tls_dir/cert.pem" --tls-key "$tls_dir/key.pem"
  rm -rf "$tls_dir"
else
  echo "openssl is missing: no TLS run" >&2
fi

machine="$(nproc) CPUs, $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | sed -n 1p), simulated driver"
python3 bench/remote/report.py "$out/remote-jmh.json" "$machine" \
  "$out/remote-native-local.txt" "$out/remote-native-remote.txt" "$out/remote-native-tls.txt" > "$out/remote.md"
cat "$out/remote.md"
