#!/bin/sh
# PID 1 of the bench guest (bench/vm/run.sh): mounts, loopback, limits, then bench/run.mjs; the
# result JSON goes to the serial console between markers, then the guest powers off.
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev 2>/dev/null
mount -t tmpfs tmp /tmp
ip link set lo up
. /bench.env
export HOME=/tmp PATH=/usr/bin:/bin BENCH_GIT_COMMIT BENCH_GIT_DIRTY BENCH_VM
# 100,000 connections in one process, and as many again for the load generator.
sysctl -qw fs.nr_open=1048576 fs.file-max=4194304
sysctl -qw net.ipv4.ip_local_port_range="10000 65535" net.core.somaxconn=8192
sysctl -qw net.ipv4.tcp_max_syn_backlog=8192 net.ipv4.tcp_tw_reuse=1
ulimit -n 1048576
echo "guest: $(nproc) vCPUs, $(sed -n 's/MemTotal: *//p' /proc/meminfo), fd limit $(ulimit -n), node $(node -v)"
cd "$BENCH_ROOT"
out=/tmp/result.json
# shellcheck disable=SC2086
node bench/run.mjs $BENCH_ARGS --no-docs --out "$out" 2>&1
echo "=====BENCH-RESULT-BEGIN====="
cat "$out" 2>/dev/null
echo
echo "=====BENCH-RESULT-END====="
sync
poweroff -f
