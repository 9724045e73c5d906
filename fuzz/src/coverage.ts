/**
 * Coverage feedback from V8's own block coverage, read in process through the inspector: no
 * instrumentation step and no native addon. Taking coverage costs about a millisecond, so the
 * engine runs inputs in batches and looks at coverage once per batch; only a batch that found
 * something new is replayed input by input to learn which input did.
 * @module
 */
import { Session } from 'node:inspector';

interface Range {
  startOffset: number;
  endOffset: number;
  count: number;
}
interface FunctionCoverage {
  functionName: string;
  ranges: Range[];
}
interface ScriptCoverage {
  url: string;
  functions: FunctionCoverage[];
}

/**
 * Block coverage of the scripts whose URL contains one of `include`. {@link take} returns the
 * blocks run since the previous call (V8 resets its counters on every take). Hit counts are left
 * out on purpose: the engine reads coverage once per batch of inputs, and only block identities
 * add up across a batch the way they do for each input alone.
 *
 * V8 reports, for each function, its whole range and then only the nested blocks whose count
 * differs from the block around them: a block that ran exactly as often as its parent is not
 * listed, one that never ran is listed with count 0. So a block counts as run when its function
 * ran and no range with count 0 encloses it; the blocks are learnt from every report seen.
 */
export class BlockCoverage {
  private readonly session = new Session();
  /** Every nested range ever reported, per function. */
  private readonly known = new Map<string, Set<string>>();

  constructor(private readonly include: readonly string[]) {
    this.session.connect();
    this.post('Profiler.enable');
    this.post('Profiler.startPreciseCoverage', { callCount: true, detailed: true });
    this.take();
  }

  private post(method: string, params?: object): unknown {
    let result: unknown;
    let failure: Error | null = null;
    // The in-process session answers synchronously.
    this.session.post(method, params, (error, value) => {
      failure = error;
      result = value;
    });
    if (failure) throw failure;
    return result;
  }

  /** The blocks run since the last call, as strings. */
  take(): string[] {
    const { result } = this.post('Profiler.takePreciseCoverage') as { result: ScriptCoverage[] };
    const features: string[] = [];
    for (const script of result) {
      if (!this.include.some((part) => script.url.includes(part))) continue;
      for (const fn of script.functions) {
        const [whole, ...nested] = fn.ranges;
        if (whole === undefined || whole.count === 0) continue;
        const key = `${script.url}:${whole.startOffset}`;
        features.push(key);
        let known = this.known.get(key);
        if (known === undefined) {
          known = new Set();
          this.known.set(key, known);
        }
        const zero: Range[] = [];
        for (const range of nested) {
          known.add(`${range.startOffset}:${range.endOffset}`);
          if (range.count === 0) zero.push(range);
        }
        for (const block of known) {
          const [start, end] = block.split(':').map(Number) as [number, number];
          if (!zero.some((z) => z.startOffset <= start && end <= z.endOffset))
            features.push(`${key}:${block}`);
        }
      }
    }
    return features;
  }

  close(): void {
    this.post('Profiler.stopPreciseCoverage');
    this.session.disconnect();
  }
}
