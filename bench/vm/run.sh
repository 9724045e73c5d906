#!/bin/sh
# Runs bench sessions inside a KVM guest with its own kernel, where the process fd limit can be
# raised past the host's (here: RLIMIT_NOFILE hard 20,000 without CAP_SYS_RESOURCE, so the 100k
# session cannot run at 100,000 on the host).
#
#   npm run build && sh bench/vm/run.sh [run.mjs options]      (default: --sessions 100k --reps 1)
#   VM_MEM=12G VM_CPUS=2 sh bench/vm/run.sh --sessions 100k --peers switchboard --idle-ms 300000
#   VM_BUILD_ONLY=1 (build the initramfs, do not boot), VM_NICE=19 (qemu at low priority),
#   VM_ACCEL=auto|kvm|tcg, VM_BOOT_SECONDS=180 (stop a guest that has not reached /init by then)
#
# Needs /dev/kvm, qemu-system-x86_64 and Debian's packages (apt-get download: a kernel and
# busybox-static; nothing else is fetched). The guest boots from an initramfs built here from
# the host's own node binary and libraries, the repository as built (dist + node_modules) and
# busybox; its /init (bench/vm/init.sh) raises the limits, runs bench/run.mjs and prints the
# result JSON on the serial console between markers; this script writes it to bench/results/
# with "-vm" in the name. Everything but the result stays under .tmp/vm/.
set -eu
root=$(cd "$(dirname "$0")/../.." && pwd)
work="$root/.tmp/vm"
mem=${VM_MEM:-12G}
cpus=${VM_CPUS:-2}
# kvm: hardware virtualization; tcg: qemu's own emulation (slow, but needs nothing of the host).
# auto (default): kvm, unless the host's KVM is PVM (the kvm_pvm module, software virtualization
# for hosts that are guests themselves): PVM runs only kernels built as PVM guests, and a Debian
# kernel stops right after decompressing itself, so qemu would wait forever.
accel=${VM_ACCEL:-auto}
if [ "$accel" = auto ]; then
  if [ -d /sys/module/kvm_pvm ]; then
    echo "bench/vm: the host's KVM is PVM (kvm_pvm), which cannot boot a Debian kernel: using tcg" >&2
    accel=tcg
  else
    accel=kvm
  fi
fi
if [ "$accel" = kvm ]; then
  [ -c /dev/kvm ] || { echo "bench/vm: /dev/kvm is missing (VM_ACCEL=tcg emulates instead)" >&2; exit 2; }
  cpu=host,-arch-capabilities
else
  cpu=max
fi
command -v qemu-system-x86_64 >/dev/null || { echo "bench/vm: apt-get install qemu-system-x86" >&2; exit 2; }
[ -f "$root/packages/server/dist/index.js" ] || { echo "bench/vm: npm run build first" >&2; exit 2; }
mkdir -p "$work/deb"
# One guest at a time: the initramfs, its tree and the console log are shared.
if [ -e "$work/RUNNING" ]; then
  echo "bench/vm: a guest is running ($work/RUNNING: $(head -c 200 "$work/RUNNING")); remove the file if it is stale" >&2
  exit 2
fi

# A Debian kernel and busybox, unpacked under .tmp/vm (never installed on the host).
if [ ! -f "$work/vmlinuz" ]; then
  (cd "$work/deb" && apt-get download linux-image-amd64 >/dev/null 2>&1 || true)
  image=$(apt-cache depends linux-image-amd64 | sed -n 's/.*Depends: \(linux-image-[0-9].*\)/\1/p' | head -1)
  (cd "$work/deb" && ls "$image"_*.deb >/dev/null 2>&1 || apt-get download "$image")
  rm -rf "$work/kernel" && dpkg -x "$work"/deb/"$image"_*.deb "$work/kernel"
  cp "$work"/kernel/boot/vmlinuz-* "$work/vmlinuz"
fi
if [ ! -f "$work/busybox" ]; then
  (cd "$work/deb" && ls busybox-static_*.deb >/dev/null 2>&1 || apt-get download busybox-static)
  rm -rf "$work/bb" && dpkg -x "$work"/deb/busybox-static_*.deb "$work/bb"
  cp "$work/bb/bin/busybox" "$work/busybox"
fi

# The initramfs: rebuilt every run, so the guest runs the dist as built now.
fs="$work/rootfs"
rm -rf "$fs" && mkdir -p "$fs/bin" "$fs/proc" "$fs/sys" "$fs/dev" "$fs/tmp" "$fs/usr/bin" "$fs$root"
cp "$work/busybox" "$fs/bin/busybox"
for applet in $("$work/busybox" --list); do
  [ -e "$fs/bin/$applet" ] || ln -s busybox "$fs/bin/$applet"
done
# The host's own programs the harness calls, with their libraries.
for program in "$(command -v node)" "$(command -v taskset)" "$(command -v getconf)"; do
  mkdir -p "$fs$(dirname "$program")"
  cp -L "$program" "$fs$program"
  for lib in $(ldd "$program" | grep -o '/[^ ]*'); do
    mkdir -p "$fs$(dirname "$lib")" && cp -L "$lib" "$fs$lib"
  done
done
ln -sf /bin/busybox "$fs/bin/sh"
# The repository as built: no sources needed beyond bench/ and the packages' dist.
(cd "$root" && tar cf - --exclude=.git --exclude=.tmp --exclude=apps --exclude=docs \
  --exclude='*.ts' --exclude='packages/*/src' --exclude='packages/*/test' \
  --exclude='node_modules/.cache' --exclude='node_modules/playwright-core' \
  --exclude='node_modules/@biomejs' --exclude='node_modules/typescript' --exclude='node_modules/vite' \
  --exclude='node_modules/rolldown' --exclude='node_modules/@rolldown' --exclude='node_modules/axe-core' \
  .) | (cd "$fs$root" && tar xf -)
cp "$root/bench/vm/init.sh" "$fs/init" && chmod +x "$fs/init"
commit=$(cd "$root" && git rev-parse HEAD 2>/dev/null || echo unknown)
dirty=$(cd "$root" && [ -z "$(git status --porcelain --untracked-files=no 2>/dev/null)" ] && echo false || echo true)
{
  echo "BENCH_ROOT='$root'"
  echo "BENCH_GIT_COMMIT='$commit'"
  echo "BENCH_GIT_DIRTY='$dirty'"
  echo "BENCH_VM='{\"hypervisor\":\"qemu-system-x86_64 ($accel)\",\"vcpus\":$cpus,\"memory\":\"$mem\",\"hostKernel\":\"$(uname -r)\",\"guestKernel\":\"$(ls "$work"/kernel/lib/modules 2>/dev/null | head -1)\"}'"
  printf "BENCH_ARGS='%s'\n" "${*:---sessions 100k --reps 1}"
} > "$fs/bench.env"
(cd "$fs" && find . | "$work/busybox" cpio -o -H newc 2>/dev/null) > "$work/initrd.cpio"

[ "${VM_BUILD_ONLY:-}" = 1 ] && { echo "bench/vm: built $work/initrd.cpio"; exit 0; }
log="$work/console.log"
# Other benchmarks on this machine can see that a guest is running (and wait for it).
touch "$work/RUNNING"
qemu=
trap 'rm -f "$work/RUNNING"' EXIT
trap '[ -n "$qemu" ] && kill "$qemu" 2>/dev/null; exit 143' INT TERM
echo "bench/vm: booting ($accel, $cpus vCPUs, $mem; initramfs $(du -h "$work/initrd.cpio" | cut -f1)); console in $log"
nice -n "${VM_NICE:-0}" qemu-system-x86_64 -accel "$accel" -cpu "$cpu" -smp "$cpus" -m "$mem" -nographic -no-reboot \
  -kernel "$work/vmlinuz" -initrd "$work/initrd.cpio" \
  -append "console=ttyS0 panic=-1 quiet rdinit=/init" > "$log" 2>&1 &
qemu=$!
# A guest that has not reached /init's first line in VM_BOOT_SECONDS never will (a kernel that
# stops early prints nothing and qemu keeps running): stop it rather than wait forever.
waited=0
while kill -0 "$qemu" 2>/dev/null && ! grep -q '^guest: ' "$log"; do
  if [ "$waited" -ge "${VM_BOOT_SECONDS:-180}" ]; then
    echo "bench/vm: no guest after ${waited} s ($accel); stopping qemu" >&2
    kill "$qemu" 2>/dev/null || true
    break
  fi
  sleep 2
  waited=$((waited + 2))
done
wait "$qemu" || true
json=$(sed -n '/^=====BENCH-RESULT-BEGIN=====/,/^=====BENCH-RESULT-END=====/p' "$log" | sed '1d;$d' | tr -d '\r')
if [ -z "$json" ]; then
  echo "bench/vm: no result in the console log:" >&2
  tail -40 "$log" >&2
  exit 1
fi
out="$root/bench/results/$(date -u +%Y-%m-%dT%H-%M-%S)Z-vm.json"
printf '%s\n' "$json" > "$out"
grep -aE '^\[[0-9:]+\]' "$log" | tr -d '\r' | tail -30
echo "bench/vm: result in $out"
