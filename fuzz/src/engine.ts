/**
 * A small coverage-guided fuzzer: a corpus of inputs, byte-level mutations (with a dictionary per
 * target and crossover between corpus entries), and V8 block coverage as the feedback that decides
 * which mutated inputs join the corpus. Seeded, so that a run with the same seed, corpus and code
 * tries the same inputs.
 * @module
 */
import { createHash } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { BlockCoverage } from './coverage.js';

/** One thing to fuzz: a function over bytes that throws only when an invariant breaks. */
export interface FuzzTarget {
  /** Directory name of its corpus (`fuzz/corpus/<name>`). */
  readonly name: string;
  /** Parts of source paths whose block coverage guides the search. */
  readonly cover: readonly string[];
  /** Inputs to start from when the corpus is empty, and always tried first. */
  readonly seeds: readonly Uint8Array[];
  /** Tokens the mutator inserts (property names, markers). */
  readonly dictionary?: readonly (string | Uint8Array)[];
  /** The longest input tried. */
  readonly maxLength: number;
  /** Starts what the target needs (a server); called once before the first input. */
  setup?(): Promise<void>;
  /** Stops it. */
  teardown?(): Promise<void>;
  /** Runs one input; a thrown error or a rejected promise is a finding. */
  run(data: Buffer): void | Promise<void>;
}

/** An input that broke an invariant. */
export interface Finding {
  readonly input: Buffer;
  readonly error: unknown;
}

/** How long to fuzz and what to keep. */
export interface FuzzOptions {
  /** The PRNG seed. Default 1. */
  seed?: number;
  /** Stop after this many mutated inputs (the corpus replay does not count). */
  runs?: number;
  /** Stop at this wall-clock time (ms since the epoch). */
  deadline?: number;
  /** The corpus directory to replay, and to add new inputs to when `save` is set. */
  corpusDir?: string;
  /** Write inputs that found new coverage to `corpusDir`, and findings to `findingsDir`. */
  save?: boolean;
  /** Where findings are written when `save` is set. */
  findingsDir?: string;
  /** Stop at the first finding (tests). Default true. */
  stopOnFinding?: boolean;
  /** Inputs per coverage read. Default 64. */
  batch?: number;
}

/** What a run did. */
export interface FuzzReport {
  readonly target: string;
  /** Inputs run, corpus replay included. */
  readonly executions: number;
  /** Corpus entries at the end (replayed ones and new ones). */
  readonly corpusSize: number;
  /** Inputs added to the corpus by this run. */
  readonly added: number;
  /** Distinct coverage features seen. */
  readonly features: number;
  readonly findings: readonly Finding[];
  readonly milliseconds: number;
}

const INTERESTING = [0x00, 0x01, 0x1e, 0x22, 0x2c, 0x30, 0x5b, 0x5d, 0x7b, 0x7d, 0x7f, 0x80, 0xc0, 0xff];

/** xorshift32: small, fast, and the same sequence for the same seed on every machine. */
export class Random {
  private state: number;
  constructor(seed: number) {
    this.state = seed >>> 0 || 0x9e3779b9;
  }
  next(): number {
    let x = this.state;
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    this.state = x >>> 0;
    return this.state;
  }
  /** An integer in [0, n). */
  below(n: number): number {
    return n <= 0 ? 0 : this.next() % n;
  }
}

function toBytes(token: string | Uint8Array): Uint8Array {
  return typeof token === 'string' ? Buffer.from(token, 'utf8') : token;
}

/** Applies one to four random mutations to `input`. */
export function mutate(
  input: Uint8Array,
  random: Random,
  dictionary: readonly Uint8Array[],
  corpus: readonly Uint8Array[],
  maxLength: number,
): Buffer {
  let data = Buffer.from(input);
  const rounds = 1 + random.below(4);
  for (let round = 0; round < rounds; round++) {
    const at = random.below(data.length + 1);
    switch (random.below(data.length === 0 ? 3 : 12)) {
      case 0: {
        const token = dictionary.length > 0 ? dictionary[random.below(dictionary.length)]! : Uint8Array.of(0);
        data = Buffer.concat([data.subarray(0, at), token, data.subarray(at)]);
        break;
      }
      case 1: {
        const n = 1 + random.below(8);
        const bytes = Buffer.alloc(n);
        for (let i = 0; i < n; i++) bytes[i] = random.below(256);
        data = Buffer.concat([data.subarray(0, at), bytes, data.subarray(at)]);
        break;
      }
      case 2: {
        const other = corpus.length > 0 ? corpus[random.below(corpus.length)]! : data;
        const from = random.below(other.length + 1);
        const piece = other.subarray(from, from + 1 + random.below(Math.max(1, other.length - from)));
        data = Buffer.concat([data.subarray(0, at), piece, data.subarray(at)]);
        break;
      }
      case 3:
        data[random.below(data.length)]! ^= 1 << random.below(8);
        break;
      case 4:
        data[random.below(data.length)] = INTERESTING[random.below(INTERESTING.length)]!;
        break;
      case 5:
        data[random.below(data.length)] = random.below(256);
        break;
      case 6: {
        const i = random.below(data.length);
        data[i] = (data[i]! + (random.below(2) === 0 ? 1 : 255) * (1 + random.below(4))) & 0xff;
        break;
      }
      case 7: {
        const start = random.below(data.length);
        const n = 1 + random.below(Math.min(16, data.length - start));
        data = Buffer.concat([data.subarray(0, start), data.subarray(start + n)]);
        break;
      }
      case 8: {
        const start = random.below(data.length);
        const piece = data.subarray(start, start + 1 + random.below(Math.min(32, data.length - start)));
        data = Buffer.concat([data.subarray(0, at), piece, data.subarray(at)]);
        break;
      }
      case 9: {
        if (dictionary.length === 0) break;
        const token = dictionary[random.below(dictionary.length)]!;
        const start = random.below(data.length);
        data = Buffer.concat([data.subarray(0, start), token, data.subarray(start + token.length)]);
        break;
      }
      case 10:
        data = data.subarray(0, random.below(data.length));
        break;
      default: {
        // Crossover: the head of this input, the tail of another.
        const other = corpus.length > 0 ? corpus[random.below(corpus.length)]! : data;
        data = Buffer.concat([data.subarray(0, at), other.subarray(random.below(other.length + 1))]);
      }
    }
    if (data.length > maxLength) data = data.subarray(0, maxLength);
  }
  return Buffer.from(data);
}

function hashName(data: Uint8Array): string {
  return createHash('sha1').update(data).digest('hex').slice(0, 16);
}

/** The corpus files of a directory, in name order. */
export function readCorpus(dir: string | undefined): Buffer[] {
  if (dir === undefined) return [];
  let names: string[];
  try {
    names = readdirSync(dir).sort();
  } catch {
    return [];
  }
  return names.filter((n) => !n.startsWith('.')).map((n) => readFileSync(join(dir, n)));
}

/** Runs `target` on its seeds, its corpus, then mutated inputs until `runs` or `deadline`. */
export async function fuzz(target: FuzzTarget, options: FuzzOptions = {}): Promise<FuzzReport> {
  const started = Date.now();
  const random = new Random(options.seed ?? 1);
  const batchSize = options.batch ?? 64;
  const stopOnFinding = options.stopOnFinding ?? true;
  const dictionary = (target.dictionary ?? []).map(toBytes);
  const coverage = new BlockCoverage(target.cover);
  const seen = new Set<string>();
  const corpus: Buffer[] = [];
  const findings: Finding[] = [];
  const findingKeys = new Set<string>();
  let executions = 0;
  let added = 0;

  const execute = async (input: Buffer): Promise<boolean> => {
    executions++;
    try {
      await target.run(input);
      return true;
    } catch (error) {
      const key = error instanceof Error ? `${error.name}: ${error.message.split('\n')[0]}` : String(error);
      if (!findingKeys.has(key)) {
        findingKeys.add(key);
        findings.push({ input, error });
        if (options.save && options.findingsDir) {
          mkdirSync(options.findingsDir, { recursive: true });
          writeFileSync(join(options.findingsDir, hashName(input)), input);
        }
      }
      return false;
    }
  };

  /**
   * Runs one input alone and keeps it when it reached a block never seen before. The coverage
   * counters must be fresh (just taken) when it is called.
   */
  const tryAlone = async (input: Buffer): Promise<void> => {
    const ok = await execute(input);
    let fresh = false;
    for (const feature of coverage.take()) {
      if (seen.has(feature)) continue;
      seen.add(feature);
      fresh = true;
    }
    if (!ok || !fresh) return;
    corpus.push(input);
    added++;
    if (options.save && options.corpusDir) {
      mkdirSync(options.corpusDir, { recursive: true });
      writeFileSync(join(options.corpusDir, hashName(input)), input);
    }
  };

  await target.setup?.();
  try {
    // The seeds and the corpus, all kept; coverage read once per batch, as every input stays.
    const replay = [...target.seeds.map((s) => Buffer.from(s)), ...readCorpus(options.corpusDir)];
    coverage.take();
    for (let i = 0; i < replay.length; i++) {
      if (await execute(replay[i]!)) corpus.push(replay[i]!);
      if (findings.length > 0 && stopOnFinding) break;
      if (i % batchSize === batchSize - 1 || i === replay.length - 1) {
        for (const feature of coverage.take()) seen.add(feature);
      }
    }
    let mutated = 0;
    const done = () =>
      (options.runs !== undefined && mutated >= options.runs) ||
      (options.deadline !== undefined && Date.now() >= options.deadline) ||
      (findings.length > 0 && stopOnFinding);
    while (!done()) {
      const batch: Buffer[] = [];
      coverage.take();
      for (let i = 0; i < batchSize && !(options.runs !== undefined && mutated >= options.runs); i++) {
        const parent = corpus.length > 0 ? corpus[random.below(corpus.length)]! : Buffer.alloc(0);
        const input = mutate(parent, random, dictionary, corpus, target.maxLength);
        batch.push(input);
        mutated++;
        await execute(input);
        if (findings.length > 0 && stopOnFinding) break;
      }
      if (batch.length === 0) break;
      // Blocks no input had reached: find out which inputs of the batch reached them.
      const fresh = coverage.take().filter((feature) => !seen.has(feature));
      for (const input of batch) {
        if (fresh.every((feature) => seen.has(feature))) break;
        await tryAlone(input);
      }
    }
  } finally {
    coverage.close();
    await target.teardown?.();
  }
  return {
    target: target.name,
    executions,
    corpusSize: corpus.length,
    added,
    features: seen.size,
    findings,
    milliseconds: Date.now() - started,
  };
}

/** A finding as text: the error and the input in hex, to paste into a regression test. */
export function describeFinding(finding: Finding): string {
  const error =
    finding.error instanceof Error ? (finding.error.stack ?? finding.error.message) : String(finding.error);
  return `${error}\ninput (${finding.input.length} bytes, hex): ${finding.input.toString('hex')}`;
}
