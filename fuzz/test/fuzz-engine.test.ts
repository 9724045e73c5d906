// The engine itself: coverage feedback finds what blind mutation would not, findings are reported
// with their input, and only catalogued protocol errors pass the invariant helper.
import assert from 'node:assert/strict';
import test from 'node:test';
import { ProtocolError } from '@switchboard/protocol';
import { type FuzzTarget, fuzz, mutate, Random } from '../src/engine.js';
import { catalogued, InvariantError } from '../src/invariants.js';

// Each byte of the magic word is a new branch: coverage tells the engine that an input got one
// byte further, so it keeps that input and works from it. Blind mutation of the seed would need
// millions of tries; with the feedback it takes some tens of thousands.
function magic(data: Buffer): void {
  if (data[0] === 0x46) {
    if (data[1] === 0x55) {
      if (data[2] === 0x5a) throw new Error('found the magic word');
    }
  }
}

test('coverage feedback leads the engine to an input three branches deep', async () => {
  const target: FuzzTarget = {
    name: 'magic',
    cover: ['fuzz-engine.test'],
    seeds: [Buffer.from('hello')],
    maxLength: 16,
    run: magic,
  };
  const report = await fuzz(target, { seed: 7, runs: 100_000 });
  assert.equal(report.findings.length, 1, `nothing found in ${report.executions} inputs`);
  assert.equal(report.findings[0]!.input.subarray(0, 3).toString(), 'FUZ');
  assert.ok(report.corpusSize >= 3, 'each branch reached should have kept an input');
});

test('the same seed tries the same inputs', () => {
  const a = new Random(3);
  const b = new Random(3);
  const corpus = [Buffer.from('{"type":6}')];
  for (let i = 0; i < 100; i++) {
    assert.deepEqual(mutate(corpus[0]!, a, [], corpus, 64), mutate(corpus[0]!, b, [], corpus, 64));
  }
});

test('catalogued() lets catalogue errors through and turns anything else into a finding', () => {
  const known = catalogued(() => {
    throw new ProtocolError('SB_ERR_PROTOCOL_INVALID_MESSAGE', 'bad');
  });
  assert.equal(known.ok, false);
  assert.throws(
    () =>
      catalogued(() => {
        throw new TypeError('x is undefined');
      }),
    InvariantError,
  );
  assert.throws(
    () =>
      catalogued(() => {
        throw new ProtocolError('SB_ERR_NOT_IN_THE_CATALOGUE' as never, 'made up');
      }),
    InvariantError,
  );
});
