// Process plumbing for the harness: spawning pinned children with a raised fd limit, reading
// CPU time and RSS from /proc, and `perf stat` when the kernel lets us count instructions.
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { cpus, release } from 'node:os';

/** Clock ticks per second for /proc/<pid>/stat utime and stime (USER_HZ, 100 on Linux). */
export const CLK_TCK = (() => {
  const r = spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' });
  const n = Number.parseInt(r.stdout, 10);
  return Number.isFinite(n) && n > 0 ? n : 100;
})();

/** Wanted RLIMIT_NOFILE for servers and the load generator (raised through `ulimit -n`). */
export const FD_LIMIT = 200_000;

/** The hard RLIMIT_NOFILE children can reach (raising it needs CAP_SYS_RESOURCE). */
export function fdHardLimit() {
  const r = spawnSync('/bin/sh', ['-c', `ulimit -n ${FD_LIMIT} 2>/dev/null; ulimit -n`], {
    encoding: 'utf8',
  });
  const n = Number.parseInt(r.stdout, 10);
  return Number.isFinite(n) ? n : 1024;
}

/** CPU time in microseconds (user + system, all threads) of a process, from /proc/<pid>/stat. */
export function procCpuUs(pid) {
  const { user, sys } = procCpuPartsUs(pid);
  return user + sys;
}

/**
 * CPU time in microseconds of a process split into user and system (kernel) time, all threads,
 * from /proc/<pid>/stat: the kernel's part of a message (its syscalls, TCP over loopback) apart
 * from the process's own work.
 */
export function procCpuPartsUs(pid) {
  const s = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // The command name (field 2) may contain spaces; fields after ')' are fixed.
  const f = s.slice(s.lastIndexOf(')') + 2).split(' ');
  return { user: (Number(f[11]) * 1e6) / CLK_TCK, sys: (Number(f[12]) * 1e6) / CLK_TCK };
}

/** Busy and softirq time of all cores together, µs, from the first line of /proc/stat. */
export function machineCpuUs() {
  const f = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0].trim().split(/\s+/).slice(1).map(Number);
  // user nice system idle iowait irq softirq steal
  const busy = f[0] + f[1] + f[2] + f[5] + f[6] + f[7];
  return { busy: (busy * 1e6) / CLK_TCK, softirq: (f[6] * 1e6) / CLK_TCK };
}

/** Resident set size in bytes, from /proc/<pid>/status (VmRSS). */
export function procRss(pid) {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) * 1024 : null;
}

/**
 * The resident memory of `pid` by kind of mapping (from /proc/PID/smaps): `brk` the C heap
 * (malloc's main arena), `anon` other anonymous mappings (V8's heap pages, malloc's other arenas,
 * thread stacks), `file` mapped files (the binary, shared libraries). Null where unreadable.
 */
export function procRssByKind(pid) {
  let text;
  try {
    text = readFileSync(`/proc/${pid}/smaps`, 'utf8');
  } catch {
    return null;
  }
  const kinds = { brk: 0, anon: 0, file: 0 };
  let kind = 'anon';
  for (const line of text.split('\n')) {
    const header = /^[0-9a-f]+-[0-9a-f]+ \S+ \S+ \S+ \d+\s*(.*)$/.exec(line);
    if (header) {
      const name = header[1];
      kind = name === '[heap]' ? 'brk' : name === '' || name.startsWith('[') ? 'anon' : 'file';
      continue;
    }
    const rss = /^Rss:\s+(\d+) kB/.exec(line);
    if (rss) kinds[kind] += Number(rss[1]) * 1024;
  }
  return kinds;
}

/** Whether `taskset` exists and the machine has at least two cores to split. */
export function detectPinning() {
  if (cpus().length < 2) return { ok: false, why: 'fewer than 2 cores' };
  const r = spawnSync('taskset', ['-c', '1', 'true']);
  if (r.error || r.status !== 0) return { ok: false, why: 'taskset missing or refused' };
  return { ok: true, why: null };
}

/** Whether `perf stat -e instructions` reports a number on this machine (often not in VMs). */
export function detectPerf() {
  const r = spawnSync('perf', ['stat', '-x,', '-e', 'instructions', 'true'], { encoding: 'utf8' });
  if (r.error) return { ok: false, why: 'perf not installed' };
  const line = (r.stderr || '').split('\n').find((l) => l.includes('instructions')) ?? '';
  const v = line.split(',')[0];
  if (!/^\d+$/.test(v)) return { ok: false, why: `perf: ${v || 'no output'}` };
  return { ok: true, why: null };
}

/** Starts `perf stat` on a pid; `stop()` resolves to the instruction count or null. */
export function startPerf(pid) {
  const p = spawn('perf', ['stat', '-x,', '-e', 'instructions', '-p', String(pid)], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let err = '';
  p.stderr.on('data', (d) => {
    err += d;
  });
  const exited = new Promise((resolve) => p.on('close', resolve));
  return {
    async stop() {
      p.kill('SIGINT');
      const t = setTimeout(() => p.kill('SIGKILL'), 3000);
      await exited;
      clearTimeout(t);
      const line = err.split('\n').find((l) => l.includes('instructions')) ?? '';
      const v = line.split(',')[0];
      return /^\d+$/.test(v) ? Number(v) : null;
    },
  };
}

/**
 * Spawns `node <script>` with an IPC channel, through `sh -c 'ulimit -n …; exec taskset …'` so
 * that the fd limit is raised and the pid we get is the node process itself (exec all the way).
 */
export function spawnNode(script, { core = null, args = [], env = {}, nodeArgs = [] } = {}) {
  const cmd = [process.execPath, ...nodeArgs, script, ...args];
  if (core !== null) cmd.unshift('taskset', '-c', String(core));
  const sh = `ulimit -n ${FD_LIMIT} 2>/dev/null || ulimit -n "$(ulimit -Hn)" 2>/dev/null; exec "$@"`;
  return spawn('/bin/sh', ['-c', sh, 'sh', ...cmd], {
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    env: { ...process.env, ...env },
  });
}

/** Resolves with the first IPC message for which `pred` holds, or rejects on exit / timeout. */
export function waitMessage(child, pred, timeoutMs, what) {
  return new Promise((resolve, reject) => {
    const onMsg = (m) => {
      if (!pred(m)) return;
      done();
      resolve(m);
    };
    const onExit = (code, sig) => {
      done();
      reject(new Error(`${what}: process exited (${code ?? sig}) while waiting`));
    };
    const t = setTimeout(() => {
      done();
      reject(new Error(`${what}: no answer within ${timeoutMs} ms`));
    }, timeoutMs);
    function done() {
      clearTimeout(t);
      child.off('message', onMsg);
      child.off('exit', onExit);
    }
    child.on('message', onMsg);
    child.on('exit', onExit);
  });
}

/** Stops a child we started: polite IPC exit, then SIGTERM, then SIGKILL; bounded in time. */
export async function stopChild(child, ms = 3000) {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const gone = new Promise((resolve) => child.once('exit', resolve));
  try {
    child.send({ cmd: 'exit' });
  } catch {}
  const t1 = setTimeout(() => child.kill('SIGTERM'), ms);
  const t2 = setTimeout(() => child.kill('SIGKILL'), ms * 2);
  await gone;
  clearTimeout(t1);
  clearTimeout(t2);
}

/** Facts about the machine and the checkout, recorded in every result file. */
export function machineInfo(root) {
  const git = (args) => {
    try {
      return execFileSync('git', args, { cwd: root, encoding: 'utf8' }).trim();
    } catch {
      return null;
    }
  };
  const model = /model name\s*:\s*(.*)/.exec(readFileSync('/proc/cpuinfo', 'utf8'))?.[1] ?? cpus()[0]?.model;
  return {
    cpuModel: model ?? null,
    cores: cpus().length,
    memGiB: Math.round(Number(/MemTotal:\s+(\d+)/.exec(readFileSync('/proc/meminfo', 'utf8'))[1]) / 1048576),
    node: process.version,
    kernel: release(),
    // A guest (bench/vm) has no .git: the host passes what it knows.
    gitCommit: process.env.BENCH_GIT_COMMIT ?? git(['rev-parse', 'HEAD']),
    gitDirty: process.env.BENCH_GIT_DIRTY
      ? process.env.BENCH_GIT_DIRTY === 'true'
      : git(['status', '--porcelain', '--untracked-files=no']) !== '',
    ...(process.env.BENCH_VM ? { vm: JSON.parse(process.env.BENCH_VM) } : {}),
  };
}
