// System facts and process readings for the 100,000-connection bench (bench/c100k.mjs): the
// kernel's limits that decide whether 100,000 loopback sockets fit, a process tree's pids,
// descriptors, RSS and CPU time.
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { procCpuUs, procRss } from './proc.mjs';

const read = (p) => {
  try {
    return readFileSync(p, 'utf8').trim();
  } catch {
    return null;
  }
};

/** RLIMIT_NOFILE soft and hard of a child shell, and what `ulimit -n <hard>` leaves it at. */
export function fdLimits() {
  const r = spawnSync('/bin/sh', ['-c', 'ulimit -Sn; ulimit -Hn; ulimit -n "$(ulimit -Hn)" && ulimit -n'], {
    encoding: 'utf8',
  });
  const [soft, hard, raised] = r.stdout.trim().split('\n').map(Number);
  return { soft, hard, raised };
}

/** The kernel settings that bound how many loopback connections one machine can hold. */
export function kernelLimits() {
  return {
    fileMax: Number(read('/proc/sys/fs/file-max')),
    nrOpen: Number(read('/proc/sys/fs/nr_open')),
    filesInUse: Number(read('/proc/sys/fs/file-nr')?.split(/\s+/)[0]),
    ipLocalPortRange: read('/proc/sys/net/ipv4/ip_local_port_range')?.split(/\s+/).map(Number),
    somaxconn: Number(read('/proc/sys/net/core/somaxconn')),
    tcpMaxSynBacklog: Number(read('/proc/sys/net/ipv4/tcp_max_syn_backlog')),
    tcpMemPages: read('/proc/sys/net/ipv4/tcp_mem')?.split(/\s+/).map(Number),
    tcpTwReuse: Number(read('/proc/sys/net/ipv4/tcp_tw_reuse')),
    conntrackMax:
      read('/proc/sys/net/netfilter/nf_conntrack_max') === null
        ? null
        : Number(read('/proc/sys/net/netfilter/nf_conntrack_max')),
  };
}

/** The load average (1, 5, 15 min). */
export const load = () => loadavg().map((x) => Math.round(x * 100) / 100);

/** TCP sockets of the machine in use, from /proc/net/sockstat. */
export function sockstat() {
  const m = /TCP: inuse (\d+) orphan (\d+) tw (\d+) alloc (\d+) mem (\d+)/.exec(
    read('/proc/net/sockstat') ?? '',
  );
  return m ? { inuse: +m[1], orphan: +m[2], timeWait: +m[3], alloc: +m[4], memPages: +m[5] } : null;
}

/** The children of `pid` (from /proc/<pid>/task/<tid>/children). */
export function childPids(pid) {
  const out = [];
  let tasks = [];
  try {
    tasks = readdirSync(`/proc/${pid}/task`);
  } catch {
    return out;
  }
  for (const t of tasks) {
    const s = read(`/proc/${pid}/task/${t}/children`);
    if (s) out.push(...s.split(/\s+/).filter(Boolean).map(Number));
  }
  return out;
}

/** Open descriptors of a process (entries of /proc/<pid>/fd), or null when gone. */
export function fdCount(pid) {
  try {
    return readdirSync(`/proc/${pid}/fd`).length;
  } catch {
    return null;
  }
}

/** RSS (bytes) and CPU time (µs) of each pid, and their sums. */
export function readProcs(pids) {
  const each = pids.map((pid) => {
    try {
      return { pid, rss: procRss(pid), cpuUs: procCpuUs(pid), fds: fdCount(pid) };
    } catch {
      return { pid, rss: 0, cpuUs: 0, fds: null };
    }
  });
  return {
    each,
    rss: each.reduce((a, p) => a + (p.rss ?? 0), 0),
    cpuUs: each.reduce((a, p) => a + p.cpuUs, 0),
  };
}

/** p50, p99 and max of a list of numbers. */
export function percentiles(values) {
  if (!values.length) return { p50: null, p99: null, max: null };
  const s = Float64Array.from(values).sort();
  const at = (q) => Math.round(s[Math.min(s.length - 1, Math.floor(s.length * q))] * 100) / 100;
  return { p50: at(0.5), p99: at(0.99), max: Math.round(s[s.length - 1] * 100) / 100 };
}
