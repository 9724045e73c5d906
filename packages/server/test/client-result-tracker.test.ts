// The ClientResultTracker that lifetime managers and backplanes share: every pending result settles
// exactly once (Completion, failure by id, the connection ending, failAll, timeout, abort signal),
// a Completion from another connection never settles it, and ids are per connection.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { type CompletionMessage, MessageType } from '@switchboard/protocol';
import { ClientResultTracker, HubException, SwitchboardError } from '@switchboard/server';

function completion(invocationId: string, fields: Partial<CompletionMessage> = {}): CompletionMessage {
  return {
    type: MessageType.Completion,
    invocationId,
    hasResult: true,
    result: 42,
    ...fields,
  } as CompletionMessage;
}

async function rejection(promise: Promise<unknown>): Promise<Error & { code?: string }> {
  try {
    await promise;
  } catch (error) {
    return error as Error & { code?: string };
  }
  assert.fail('expected a rejection');
}

describe('ClientResultTracker', () => {
  test('a Completion settles the result of its own connection only', async () => {
    const results = new ClientResultTracker();
    const a = results.add('c1', 's1');
    const b = results.add('c2', 's1');
    assert.equal(results.size, 2);
    assert.equal(results.has('c1', 's1'), true);
    assert.equal(results.has('c3', 's1'), false);
    assert.equal(results.complete('c3', completion('s1')), false);
    assert.equal(results.complete('c1', completion('s1', { result: 'one' })), true);
    assert.equal(await a, 'one');
    assert.equal(results.has('c1', 's1'), false);
    assert.equal(results.complete('c1', completion('s1')), false, 'settles once');
    assert.equal(results.complete('c2', completion('s1', { hasResult: false, result: undefined })), true);
    assert.equal(await b, null);
    assert.equal(results.size, 0);
  });

  test('an error Completion rejects with a HubException carrying the client text', async () => {
    const results = new ClientResultTracker();
    const pending = results.add('c1', 'n1:7');
    results.complete('c1', completion('n1:7', { error: 'client said no', hasResult: false }));
    const error = await rejection(pending);
    assert.ok(error instanceof HubException);
    assert.equal(error.message, 'client said no');
  });

  test('fail by id, failConnection and failAll each reject what they name', async () => {
    const results = new ClientResultTracker();
    const one = results.add('c1', 'x1');
    const two = results.add('c1', 'x2');
    const three = results.add('c2', 'x3');
    const four = results.add('c3', 'x4');
    const cause = new Error('send failed');
    assert.equal(results.fail('c1', 'x1', cause), true);
    assert.equal(results.fail('c1', 'x1', cause), false);
    assert.equal(await rejection(one), cause);
    results.failConnection('c1');
    const gone = await rejection(two);
    assert.ok(gone instanceof SwitchboardError);
    assert.equal(gone.code, 'SB_ERR_CLIENT_RESULT_FAILED');
    assert.equal(gone.message, "Connection 'c1' disconnected.");
    results.failConnection('c2', ClientResultTracker.doesNotExist('c2'));
    assert.equal((await rejection(three)).message, "Connection 'c2' does not exist.");
    const closing = new Error('manager closed');
    results.failAll(closing);
    assert.equal(await rejection(four), closing);
    assert.equal(results.size, 0);
  });

  test('a timeout rejects with SB_ERR_CLIENT_RESULT_TIMEOUT and removes the entry', async () => {
    const results = new ClientResultTracker();
    const error = await rejection(results.add('c1', 's1', { timeoutMs: 5 }));
    assert.equal(error.code, 'SB_ERR_CLIENT_RESULT_TIMEOUT');
    assert.equal(results.has('c1', 's1'), false);
  });

  test('an abort signal rejects with its reason, before or after registering', async () => {
    const results = new ClientResultTracker();
    const early = new AbortController();
    early.abort(new Error('already'));
    assert.equal((await rejection(results.add('c1', 's1', { signal: early.signal }))).message, 'already');
    assert.equal(results.size, 0);
    const late = new AbortController();
    const pending = results.add('c1', 's2', { signal: late.signal, timeoutMs: 60_000 });
    late.abort(new Error('later'));
    assert.equal((await rejection(pending)).message, 'later');
    assert.equal(results.size, 0, 'the abort cleared the timer with the entry');
  });

  test('an id already pending on the connection rejects the second registration', async () => {
    const results = new ClientResultTracker();
    const first = results.add('c1', 's1');
    const error = await rejection(results.add('c1', 's1'));
    assert.equal(error.code, 'SB_ERR_CLIENT_RESULT_FAILED');
    results.complete('c1', completion('s1'));
    assert.equal(await first, 42);
  });
});
