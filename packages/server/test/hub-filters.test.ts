// Hub filters (ASP.NET's IHubFilter): server-wide ones run before a hub's own, in the order given,
// around hub methods, onConnected and onDisconnected; a filter can change arguments, answer
// instead of the method, or refuse with a HubException that reaches the caller.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { Hub, HubException, type HubFilter } from '@switchboard/server';
import { connectClient, startTestServer, type TestServer, waitFor } from '@switchboard/testkit';

const trace: string[] = [];

function tracing(name: string): HubFilter {
  return {
    async invokeMethod(invocation, next) {
      trace.push(`${name}>${invocation.methodName}`);
      try {
        return await next(invocation);
      } finally {
        trace.push(`${name}<${invocation.methodName}`);
      }
    },
    async onConnected(context, next) {
      trace.push(`${name}>connected`);
      await next(context);
      trace.push(`${name}<connected`);
    },
    async onDisconnected(context, error, next) {
      trace.push(`${name}>disconnected:${error ? 'error' : 'clean'}`);
      await next(context, error);
      trace.push(`${name}<disconnected`);
    },
  };
}

/** Doubles every number argument of `add`. */
const doubling: HubFilter = {
  invokeMethod(invocation, next) {
    if (invocation.methodName === 'add') {
      invocation.arguments = invocation.arguments.map((a) => (typeof a === 'number' ? a * 2 : a));
    }
    return next(invocation);
  },
};

/** Refuses `forbidden` with a HubException, answers `shortCircuit` itself, and wraps results of `wrapped`. */
const gatekeeper: HubFilter = {
  async invokeMethod(invocation, next) {
    if (invocation.methodName === 'forbidden') throw new HubException('Blocked by a filter.');
    if (invocation.methodName === 'shortCircuit') return 'answered by the filter';
    if (invocation.methodName === 'plainFailure') throw new Error('filter bug');
    const result = await next(invocation);
    return invocation.methodName === 'wrapped'
      ? { wrapped: result, caller: invocation.context.connectionId }
      : result;
  },
};

let ran: string[] = [];

class FilteredHub extends Hub {
  override onConnected() {
    trace.push('hub.onConnected');
  }
  override onDisconnected() {
    trace.push('hub.onDisconnected');
  }
  Traced() {
    trace.push('hub.Traced');
    return 'traced';
  }
  add(a: number, b: number) {
    return a + b;
  }
  forbidden() {
    ran.push('forbidden');
  }
  shortCircuit() {
    ran.push('shortCircuit');
    return 'answered by the method';
  }
  plainFailure() {
    ran.push('plainFailure');
  }
  wrapped() {
    return 42;
  }
}

class RefusedByFilterHub extends Hub {
  override onConnected() {
    ran.push('refused.onConnected');
  }
}

let server: TestServer;

before(async () => {
  server = await startTestServer(
    (h) =>
      h
        .mapHub('/traced', FilteredHub, { filters: [tracing('hub-1'), tracing('hub-2')] })
        .mapHub('/changed', FilteredHub, { filters: [doubling, gatekeeper] })
        .mapHub('/refused', RefusedByFilterHub, {
          filters: [
            {
              onConnected: async () => {
                throw new HubException('You may not connect.');
              },
            },
          ],
        }),
    { filters: [tracing('server-1'), tracing('server-2')] },
  );
});
after(() => server.close());

test('server-wide filters run before per-hub filters, in order, around the method', async () => {
  const c = await connectClient(`${server.baseUrl}/traced`);
  await waitFor(() => trace.includes('server-1<connected'));
  trace.length = 0;
  try {
    assert.equal(await c.invoke('traced'), 'traced');
    assert.deepEqual(trace, [
      'server-1>Traced',
      'server-2>Traced',
      'hub-1>Traced',
      'hub-2>Traced',
      'hub.Traced',
      'hub-2<Traced',
      'hub-1<Traced',
      'server-2<Traced',
      'server-1<Traced',
    ]);
  } finally {
    await c.stop();
    await waitFor(() => trace.includes('server-1<disconnected'));
  }
});

test('onConnected and onDisconnected filters wrap the hub events in the same order', async () => {
  trace.length = 0;
  const c = await connectClient(`${server.baseUrl}/traced`);
  await waitFor(() => trace.includes('server-1<connected'));
  assert.deepEqual(trace, [
    'server-1>connected',
    'server-2>connected',
    'hub-1>connected',
    'hub-2>connected',
    'hub.onConnected',
    'hub-2<connected',
    'hub-1<connected',
    'server-2<connected',
    'server-1<connected',
  ]);
  trace.length = 0;
  await c.stop();
  await waitFor(() => trace.includes('server-1<disconnected'));
  assert.deepEqual(trace, [
    'server-1>disconnected:clean',
    'server-2>disconnected:clean',
    'hub-1>disconnected:clean',
    'hub-2>disconnected:clean',
    'hub.onDisconnected',
    'hub-2<disconnected',
    'hub-1<disconnected',
    'server-2<disconnected',
    'server-1<disconnected',
  ]);
});

test('filters do not run for a call refused before binding (unknown method, wrong argument count)', async () => {
  const c = await connectClient(`${server.baseUrl}/traced`);
  try {
    trace.length = 0;
    await assert.rejects(c.invoke('missing'), /Method does not exist\.$/);
    await assert.rejects(c.invoke('add', 1), {
      message: "Failed to invoke 'add' due to an error on the server.",
    });
    assert.deepEqual(trace, []);
  } finally {
    await c.stop();
  }
});

test('a filter can change the arguments', async () => {
  const c = await connectClient(`${server.baseUrl}/changed`);
  try {
    assert.equal(await c.invoke('add', 2, 3), 10);
  } finally {
    await c.stop();
  }
});

test('a filter throwing a HubException refuses the call with its message; the method does not run', async () => {
  ran = [];
  const c = await connectClient(`${server.baseUrl}/changed`);
  try {
    await assert.rejects(c.invoke('forbidden'), {
      message:
        "An unexpected error occurred invoking 'forbidden' on the server. HubException: Blocked by a filter.",
    });
    await assert.rejects(c.invoke('plainFailure'), {
      message: "An unexpected error occurred invoking 'plainFailure' on the server.",
    });
    assert.deepEqual(ran, []);
  } finally {
    await c.stop();
  }
});

test('a filter can answer instead of the method, or change its result', async () => {
  ran = [];
  const c = await connectClient(`${server.baseUrl}/changed`);
  try {
    assert.equal(await c.invoke('shortCircuit'), 'answered by the filter');
    assert.deepEqual(ran, []);
    assert.deepEqual(await c.invoke('wrapped'), { wrapped: 42, caller: c.connectionId });
  } finally {
    await c.stop();
  }
});

test('an onConnected filter that throws refuses the connection', async () => {
  ran = [];
  const c = await connectClient(`${server.baseUrl}/refused`, { noStart: true });
  const closed = new Promise<Error | undefined>((resolve) => c.onclose(resolve));
  const started = await c.start().then(
    () => undefined,
    (e: Error) => e,
  );
  const error = started ?? (await closed);
  assert.equal(
    error?.message,
    'Server returned an error on close: Connection closed with an error. HubException: You may not connect.',
  );
  assert.deepEqual(ran, []);
});
