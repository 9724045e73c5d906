/**
 * How a streaming hub method's result is written: the async iterable's items one by one until it
 * ends, fails or the stream is cancelled.
 * @module
 */
import type { StreamInvocationScope } from './hub-dispatcher.js';

/** Whether a method returned something to stream (it has `Symbol.asyncIterator`). */
export function isAsyncIterable(value: unknown): value is AsyncIterable<unknown> {
  return (
    value !== null &&
    (typeof value === 'object' || typeof value === 'function') &&
    typeof (value as { [Symbol.asyncIterator]?: unknown })[Symbol.asyncIterator] === 'function'
  );
}

/**
 * Writes a stream's items until it ends, fails or the signal aborts. Returns the error of a failed
 * stream (thrown by the iterator, or an item that could not be written), undefined otherwise. On
 * abort it stops waiting for the pending item at once and closes the iterator with `return()`,
 * which an async generator runs (its `finally` blocks included) once it reaches its next `yield`.
 */
export async function enumerate(
  iterable: AsyncIterable<unknown>,
  scope: StreamInvocationScope,
): Promise<{ error: unknown } | undefined> {
  const { signal } = scope;
  let iterator: AsyncIterator<unknown>;
  try {
    iterator = iterable[Symbol.asyncIterator]();
  } catch (error) {
    return { error };
  }
  let onAbort!: () => void;
  const aborted = new Promise<typeof ABORTED>((resolve) => {
    onAbort = () => resolve(ABORTED);
  });
  signal.addEventListener('abort', onAbort, { once: true });
  let open = true; // whether the iterator still needs return()
  let failure: { error: unknown } | undefined;
  try {
    while (!signal.aborted) {
      let step: IteratorResult<unknown> | typeof ABORTED;
      let next: Promise<IteratorResult<unknown>> | undefined;
      try {
        next = iterator.next();
        step = await Promise.race([next, aborted]);
      } catch (error) {
        open = false; // an iterator whose next() threw is finished
        failure = { error };
        break;
      }
      if (step === ABORTED) {
        next.catch(() => {}); // the item no longer awaited, or its failure, goes nowhere
        break;
      }
      if (step.done) {
        open = false;
        break;
      }
      try {
        await scope.writeItem(step.value);
      } catch (error) {
        failure = { error }; // an item that could not be serialized
        break;
      }
    }
  } finally {
    signal.removeEventListener('abort', onAbort);
    if (open && typeof iterator.return === 'function') {
      // Not awaited: a generator busy in an await only returns at its next yield.
      Promise.resolve()
        .then(() => iterator.return!())
        .catch(() => {});
    }
  }
  return failure;
}

const ABORTED = Symbol('aborted');
