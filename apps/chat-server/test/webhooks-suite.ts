/**
 * The webhooks' outbox and dispatcher on one storage kind (run by webhooks-sqlite.test.ts and
 * webhooks-postgres.test.ts): the outbox row is written in the change's transaction, the retry
 * schedule on an injected clock, one failing event holding back no other, the request timeout,
 * an endpoint disabled after 24 hours of failures.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import {
  type ChatStorage,
  newWebhookSecret,
  WebhookDispatcher,
  WebhookStore,
} from '@switchboard/chat-server';
import type { Logger } from '@switchboard/server';
import { silentLogger } from '@switchboard/server';
import { type Receiver, startReceiver } from './webhook-receiver.ts';

/** Opens a fresh, migrated storage (undefined: the service is absent, skip) and drops it after. */
export interface SuiteStorage {
  open(): Promise<ChatStorage>;
  /** Runs raw SQL on the storage (a test saboteur trigger). */
  exec(storage: ChatStorage, sql: string): Promise<void>;
  cleanup(): Promise<void>;
}

/** A user and a room to write in. */
export async function seed(
  storage: ChatStorage,
): Promise<{ userId: string; otherId: string; roomId: string }> {
  const at = new Date().toISOString();
  const user = async (name: string) =>
    (
      await storage.createUser({
        id: randomUUID(),
        username: `whkh_${name}_${randomUUID().slice(0, 8)}`,
        displayName: name,
        passwordHash: null,
        role: 'user',
        isGuest: false,
        createdAt: at,
      })
    ).id;
  const userId = await user('ann');
  const otherId = await user('bob');
  const room = await storage.createRoom(
    {
      id: randomUUID(),
      name: `whkh room ${randomUUID()}`,
      isPrivate: false,
      kind: 'room',
      ownerId: userId,
      createdAt: at,
    },
    [userId, otherId],
  );
  return { userId, otherId, roomId: room.id };
}

/** Stores a message. */
export async function send(
  storage: ChatStorage,
  roomId: string,
  senderId: string,
  text: string,
  mentions: string[] = [],
) {
  return (
    await storage.insertMessage({
      id: randomUUID(),
      roomId,
      senderId,
      text,
      mentions,
      clientMessageId: randomUUID(),
      sentAt: new Date().toISOString(),
    })
  ).message;
}

/** A logger that keeps the events it was given. */
export function capturingLogger(): Logger & { events: { event: string; fields?: unknown }[] } {
  const events: { event: string; fields?: unknown }[] = [];
  const keep = (event: string, fields?: unknown) => events.push({ event, fields });
  return { events, debug: keep, info: keep, warn: keep, error: keep };
}

const HOUR = 3_600_000;

/** The suite. */
export function webhooksSuite(kind: string, open: () => Promise<SuiteStorage | undefined>): void {
  describe(`webhooks on ${kind}`, () => {
    let suite: SuiteStorage | undefined;
    let storage: ChatStorage;
    let store: WebhookStore;
    let receiver: Receiver;
    before(async () => {
      suite = await open();
      if (!suite) return;
      storage = await suite.open();
      store = WebhookStore.of(storage);
      receiver = await startReceiver();
    });
    after(async () => {
      await receiver?.close();
      await suite?.cleanup();
    });

    const events = async () => (await store.stats()).pending;

    test('no endpoint: the changes write no event', async (t) => {
      if (!suite) return t.skip('no storage');
      const { roomId, userId } = await seed(storage);
      await send(storage, roomId, userId, 'nobody listens');
      assert.equal(await events(), 0);
    });

    test('the outbox row is written in the transaction of the change (a failing change writes none)', async (t) => {
      if (!suite) return t.skip('no storage');
      await store.upsertEndpoint('whkh_tx', receiver.url, newWebhookSecret(), new Date().toISOString());
      const { roomId, userId, otherId } = await seed(storage);
      const pendingBefore = await events();
      // A statement after the message's insert, in the same transaction, fails: the mention's insert.
      await suite.exec(
        storage,
        kind === 'sqlite'
          ? `CREATE TRIGGER whkh_saboteur BEFORE INSERT ON message_mentions WHEN NEW.user_id = '${otherId}'
             BEGIN SELECT RAISE(ABORT, 'whkh sabotage'); END`
          : `CREATE FUNCTION whkh_saboteur() RETURNS trigger LANGUAGE plpgsql AS $$
             BEGIN IF NEW.user_id = '${otherId}' THEN RAISE EXCEPTION 'whkh sabotage'; END IF; RETURN NEW; END $$;
             CREATE TRIGGER whkh_saboteur BEFORE INSERT ON message_mentions FOR EACH ROW EXECUTE FUNCTION whkh_saboteur()`,
      );
      await assert.rejects(send(storage, roomId, userId, 'doomed', [otherId]), /whkh sabotage/);
      assert.equal(await events(), pendingBefore, 'the failed change wrote no event');
      assert.deepEqual(await storage.history(roomId, { limit: 10 }), [], 'and no message');
      await suite.exec(
        storage,
        kind === 'sqlite' ? 'DROP TRIGGER whkh_saboteur' : 'DROP TRIGGER whkh_saboteur ON message_mentions',
      );
      await send(storage, roomId, userId, 'kept', [otherId]);
      // message.created and the mention's notification.offline.
      assert.equal(await events(), pendingBefore + 2);
      await store.removeEndpoint('whkh_tx');
      await new WebhookDispatcher({
        store,
        nodeId: 'whkh-drain',
        logger: silentLogger,
        now: () => 0,
      }).round();
    });

    test('every event type, with the same data on every storage', async (t) => {
      if (!suite) return t.skip('no storage');
      await store.upsertEndpoint('whkh_types', receiver.url, newWebhookSecret(), new Date().toISOString());
      t.after(() => store.removeEndpoint('whkh_types'));
      receiver.received.length = 0;
      receiver.answer = () => 200;
      const { roomId, userId, otherId } = await seed(storage);
      const at = '2026-01-02T03:04:05.678Z';
      const other = (await storage.userById(otherId))!;
      const m = await send(storage, roomId, userId, `hi @${other.username}`, [otherId]);
      await storage.editMessage(m.id, 'edited', [], at);
      await storage.deleteMessage(m.id, at);
      await storage.removeMember(roomId, otherId);
      const direct = await storage.createRoom(
        {
          id: randomUUID(),
          name: '',
          isPrivate: true,
          kind: 'direct',
          ownerId: null,
          directKey: [userId, otherId].sort().join(','),
          createdAt: at,
        },
        [userId, otherId],
      );
      const dm = await send(storage, direct.id, userId, 'psst');
      const supportRoom = await storage.createRoom(
        {
          id: randomUUID(),
          name: 'Support',
          isPrivate: true,
          kind: 'support',
          ownerId: otherId,
          createdAt: at,
        },
        [otherId],
      );
      const request = await storage.createSupportRequest({
        id: randomUUID(),
        customerId: otherId,
        roomId: supportRoom.id,
        subject: 'Help',
        createdAt: at,
      });
      assert.ok(await storage.claimSupportRequest(request.id, userId, 5, at));
      assert.ok(await storage.closeSupportRequest(request.id, at));
      const d = new WebhookDispatcher({ store, nodeId: 'whkh-types', logger: silentLogger });
      while ((await d.round()).claimed > 0);
      const byType = (type: string) =>
        receiver.received.filter((r) => r.json.type === type).map((r) => r.json.data);
      const message = {
        id: m.id,
        roomId,
        seq: 1,
        senderId: userId,
        text: m.text,
        sentAt: m.sentAt,
        parentId: null,
      };
      const createdEvents = byType('message.created').sort((a, b) =>
        a.message.text.localeCompare(b.message.text),
      );
      assert.deepEqual(createdEvents, [
        { roomId, seq: 1, message: { ...message, clientMessageId: m.clientMessageId } },
        {
          roomId: direct.id,
          seq: 1,
          message: {
            ...message,
            id: dm.id,
            roomId: direct.id,
            text: 'psst',
            sentAt: dm.sentAt,
            clientMessageId: dm.clientMessageId,
          },
        },
      ]);
      assert.deepEqual(byType('message.updated'), [
        { roomId, seq: 1, changeSeq: 1, message: { ...message, text: 'edited', editedAt: at } },
      ]);
      assert.deepEqual(byType('message.deleted'), [
        {
          roomId,
          seq: 1,
          changeSeq: 2,
          message: { id: m.id, roomId, seq: 1, senderId: userId, deletedAt: at },
        },
      ]);
      assert.deepEqual(
        byType('room.member_added')
          .map((x) => [x.roomId, x.userId, x.roomKind, x.seq, typeof x.joinedAt])
          .sort(),
        [
          [roomId, userId, 'room', 0, 'string'],
          [roomId, otherId, 'room', 0, 'string'],
          [direct.id, userId, 'direct', 0, 'string'],
          [direct.id, otherId, 'direct', 0, 'string'],
          [supportRoom.id, otherId, 'support', 0, 'string'],
        ].sort(),
      );
      assert.deepEqual(byType('room.member_removed'), [
        { roomId, seq: 1, userId: otherId, roomKind: 'room' },
      ]);
      const requestData = (status: string, agentId: string | null, closedAt: string | null) => ({
        roomId: supportRoom.id,
        seq: 0,
        request: {
          id: request.id,
          customerId: otherId,
          roomId: supportRoom.id,
          subject: 'Help',
          status,
          agentId,
          createdAt: at,
          updatedAt: at,
          closedAt,
        },
      });
      assert.deepEqual(byType('support.request_created'), [requestData('open', null, null)]);
      assert.deepEqual(byType('support.request_claimed'), [requestData('assigned', userId, null)]);
      assert.deepEqual(byType('support.request_closed'), [requestData('closed', userId, at)]);
      assert.deepEqual(
        byType('notification.offline').sort((a, b) => a.reason.localeCompare(b.reason)),
        [
          {
            roomId: direct.id,
            seq: 1,
            userId: otherId,
            reason: 'direct',
            message: { ...message, id: dm.id, roomId: direct.id, text: 'psst', sentAt: dm.sentAt },
          },
          { roomId, seq: 1, userId: otherId, reason: 'mention', message },
        ],
      );
    });

    test('retries on the schedule (injected clock) with the same webhook-id; others are not held back; failed after 24 h', async (t) => {
      if (!suite) return t.skip('no storage');
      const secret = newWebhookSecret();
      receiver.received.length = 0;
      receiver.answer = (r) => (r.json?.data?.message?.text === 'poison' ? 500 : 200);
      await store.upsertEndpoint('whkh_retry', receiver.url, secret, new Date().toISOString());
      const { roomId, userId } = await seed(storage);
      const poison = await send(storage, roomId, userId, 'poison');
      const created = Date.now();
      await send(storage, roomId, userId, 'fine 1');
      let now = created + 1_000;
      const logger = capturingLogger();
      const d = new WebhookDispatcher({ store, nodeId: 'whkh-a', logger, now: () => now });
      await d.round();
      const poisonCalls = () => receiver.received.filter((r) => r.json.data.message?.text === 'poison');
      assert.equal(poisonCalls().length, 1);
      assert.ok(
        receiver.received.some((r) => r.json.data.message?.text === 'fine 1'),
        'the event after the failing one went out in the same round',
      );
      const id = poisonCalls()[0]!.id;
      assert.match(id, /^msg_/);
      // Each retry comes exactly when the schedule says, not a ms before.
      const waits = [
        5_000,
        30_000,
        120_000,
        600_000,
        1_800_000,
        HOUR,
        2 * HOUR,
        4 * HOUR,
        8 * HOUR,
        8 * HOUR,
      ];
      let last = now;
      for (const [i, wait] of waits.entries()) {
        now = last + wait - 1;
        await d.round();
        assert.equal(poisonCalls().length, i + 1, `no retry ${wait - 1} ms after attempt ${i + 1}`);
        now = last + wait;
        await d.round();
        assert.equal(poisonCalls().length, i + 2, `retry ${i + 1} after ${wait} ms`);
        last = now;
        if (i === 2) {
          // Meanwhile new events go out at once.
          await send(storage, roomId, userId, 'fine 2');
          await d.round();
          assert.ok(receiver.received.some((r) => r.json.data.message?.text === 'fine 2'));
        }
      }
      assert.ok(
        poisonCalls().every((r) => r.id === id),
        'the same webhook-id on every retry',
      );
      // The last retry is at the end of the 24 hours (the event's time), then the delivery has failed.
      const [record] = (
        await store.deliveries({ endpointId: 'whkh_retry', status: 'pending', limit: 10 })
      ).filter((r) => r.seq === poison.seq);
      assert.ok(record, 'still pending before the end of the window');
      const end = Date.parse(record.createdAt) + 24 * HOUR;
      assert.equal(Date.parse(record.nextAttemptAt!), end);
      now = end;
      await d.round();
      assert.equal(poisonCalls().length, waits.length + 2);
      const failed = await store.deliveries({ endpointId: 'whkh_retry', status: 'failed', limit: 10 });
      assert.deepEqual(
        failed.map((r) => [r.seq, r.attempts, r.lastStatus]),
        [[poison.seq, waits.length + 2, 500]],
      );
      assert.equal(d.counters.givenUp, 1);
      assert.ok(logger.events.some((e) => e.event === 'chat.webhooks.delivery_failed'));
      // Successes in between kept the endpoint enabled.
      assert.equal((await store.endpoints()).find((e) => e.id === 'whkh_retry')?.disabledAt, null);
      await store.removeEndpoint('whkh_retry');
    });

    test('an endpoint failing for 24 hours is disabled (log line and counter); a timeout is a failure', async (t) => {
      if (!suite) return t.skip('no storage');
      const dead = await startReceiver(() => 'hang');
      try {
        await store.upsertEndpoint('whkh_dead', dead.url, newWebhookSecret(), new Date().toISOString());
        const { roomId, userId } = await seed(storage);
        let now = Date.now();
        const logger = capturingLogger();
        const d = new WebhookDispatcher({ store, nodeId: 'whkh-b', logger, now: () => now, timeoutMs: 200 });
        await d.round();
        const [first] = await store.deliveries({ endpointId: 'whkh_dead', limit: 50 });
        assert.match(first!.lastError ?? '', /timed out after 200 ms/);
        assert.equal(first!.status, 'pending');
        // 24 hours later a new event fails too: the endpoint has failed for 24 hours.
        now += 24 * HOUR;
        await send(storage, roomId, userId, 'still nobody');
        await d.round();
        const endpoint = (await store.endpoints()).find((e) => e.id === 'whkh_dead')!;
        assert.ok(endpoint.disabledAt, 'disabled');
        assert.equal(d.counters.endpointsDisabled, 1);
        assert.ok(logger.events.some((e) => e.event === 'chat.webhooks.endpoint_disabled'));
        assert.equal((await store.stats()).disabledEndpoints, 1);
        // A disabled endpoint gets nothing more, and no new event is written for it alone.
        const logged = (await store.deliveries({ endpointId: 'whkh_dead', limit: 200 })).length;
        now += HOUR;
        await send(storage, roomId, userId, 'after');
        const round = await d.round();
        assert.deepEqual([round.fanned, round.claimed], [0, 0]);
        assert.equal((await store.deliveries({ endpointId: 'whkh_dead', limit: 200 })).length, logged);
      } finally {
        await store.removeEndpoint('whkh_dead');
        await dead.close();
      }
    });
  });
}
