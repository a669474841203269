/**
 * The message rules of the local Service Bus without any I/O: a fixed clock, a recording journal.
 * Delivery-count expectations are those the Service Bus SDK's live tests observe on real Service Bus.
 */
import { describe, expect, it } from 'vitest';
import { MessageStore, type Settlement, type StoreHooks } from '@zsa/local-host/servicebus';

const T0 = 1_000_000;
const LOCK_MS = 1000;

function aQueue(maxDeliveryCount = 3): { queue: MessageStore; dlq: MessageStore; journal: string[] } {
  const journal: string[] = [];
  const hooks: StoreHooks = {
    put: (store, m) => journal.push(`put ${store.name} ${m.seq} dc=${m.deliveryCount} ${m.state}`),
    remove: (store, seq) => journal.push(`del ${store.name} ${seq}`),
    changed: () => undefined,
    deadLettered: () => undefined,
  };
  const dlq = new MessageStore(
    'q/$DeadLetterQueue',
    { lockDurationMs: LOCK_MS, maxDeliveryCount: Infinity },
    hooks,
    undefined,
  );
  const queue = new MessageStore('q', { lockDurationMs: LOCK_MS, maxDeliveryCount }, hooks, dlq);
  return { queue, dlq, journal };
}

const aMessage = (id: string, scheduledEnqueueTime?: number) => ({
  bytes: Buffer.alloc(0),
  messageId: id,
  ttlMs: undefined,
  scheduledEnqueueTime,
});

describe('delivery counts', () => {
  const scenarios: {
    name: string;
    settle: Settlement[];
    count: number;
    where: 'queue' | 'dlq' | 'deferred';
  }[] = [
    { name: 'first delivery', settle: [], count: 0, where: 'queue' },
    { name: 'one abandon', settle: [{ kind: 'abandon' }], count: 1, where: 'queue' },
    { name: 'defer', settle: [{ kind: 'defer' }], count: 1, where: 'deferred' },
    {
      name: 'dead-letter keeps the count',
      settle: [{ kind: 'deadLetter', reason: 'r' }],
      count: 0,
      where: 'dlq',
    },
    {
      name: 'abandon then dead-letter',
      settle: [{ kind: 'abandon' }, { kind: 'deadLetter' }],
      count: 1,
      where: 'dlq',
    },
    {
      name: 'a release (never delivered) is not counted',
      settle: [{ kind: 'release' }],
      count: 0,
      where: 'queue',
    },
    {
      name: 'abandoned up to the maximum → dead-letter queue with count = maximum',
      settle: [{ kind: 'abandon' }, { kind: 'abandon' }, { kind: 'abandon' }],
      count: 3,
      where: 'dlq',
    },
  ];

  for (const s of scenarios) {
    it(s.name, () => {
      // Prepare
      const { queue, dlq } = aQueue();
      queue.add(aMessage('m'), T0);

      // Act
      for (const [i, settlement] of s.settle.entries()) {
        const m = queue.takeNext(T0, `token-${i}`);
        if (!m) throw new Error('message not available');
        expect(queue.settle(`token-${i}`, settlement)).toBe('settled');
      }

      // Assess
      const found =
        s.where === 'dlq'
          ? dlq.takeNext(T0, 'last')
          : s.where === 'deferred'
            ? (queue.takeDeferred([1], T0, ['last']) as { ok: true; messages: { deliveryCount: number }[] })
                .messages[0]
            : queue.takeNext(T0, 'last');
      expect(found?.deliveryCount).toBe(s.count);
    });
  }
});

describe('locks, schedules and sequence', () => {
  it('expires a lock at its deadline: the old token is lost and the message is available again', () => {
    // Prepare
    const { queue } = aQueue();
    queue.add(aMessage('m'), T0);
    queue.takeNext(T0, 'held');

    // Act
    queue.tick(T0 + LOCK_MS - 1);
    const stillHeld = queue.holds('held');
    queue.tick(T0 + LOCK_MS);

    // Assess
    expect(stillHeld).toBe(true);
    expect(queue.settle('held', { kind: 'complete' })).toBe('lock-lost');
    expect(queue.takeNext(T0 + LOCK_MS, 'next')?.deliveryCount).toBe(1);
  });

  it('a renewed lock outlives the first deadline', () => {
    // Prepare
    const { queue } = aQueue();
    queue.add(aMessage('m'), T0);
    queue.takeNext(T0, 'held');

    // Act
    const until = queue.renewLock('held', T0 + 900);
    queue.tick(T0 + LOCK_MS + 100);

    // Assess
    expect(until).toBe(T0 + 900 + LOCK_MS);
    expect(queue.nextDeadline()).toBe(T0 + 900 + LOCK_MS);
    expect(queue.settle('held', { kind: 'complete' })).toBe('settled');
  });

  it('keeps a scheduled message back until its time, with the sequence number given at scheduling', () => {
    // Prepare
    const { queue } = aQueue();
    const scheduled = queue.add(aMessage('later', T0 + 500), T0);
    queue.add(aMessage('now'), T0);

    // Act
    const first = queue.takeNext(T0, undefined);
    const early = queue.takeNext(T0 + 499, undefined);
    queue.tick(T0 + 500);
    const due = queue.takeNext(T0 + 500, undefined);

    // Assess
    expect(first?.messageId).toBe('now');
    expect(early).toBeUndefined();
    expect(due).toMatchObject({ messageId: 'later', seq: scheduled.seq, enqueuedAt: T0 + 500 });
  });

  it('receives deferred messages all or nothing', () => {
    // Prepare
    const { queue } = aQueue();
    queue.add(aMessage('a'), T0);
    queue.add(aMessage('b'), T0);
    queue.takeNext(T0, 'ta');
    queue.settle('ta', { kind: 'defer' });

    // Act
    const mixed = queue.takeDeferred([1, 2], T0, ['x', 'y']);
    const deferredOnly = queue.takeDeferred([1], T0, ['x']);

    // Assess
    expect(mixed).toEqual({ ok: false, missing: 2 });
    expect(deferredOnly.ok).toBe(true);
  });

  it('journals the dead-letter copy before the removal, so a crash in between duplicates rather than loses', () => {
    // Prepare
    const { queue, journal } = aQueue();
    queue.add(aMessage('m'), T0);
    queue.takeNext(T0, 't');
    journal.length = 0;

    // Act
    queue.settle('t', { kind: 'deadLetter', reason: 'r' });

    // Assess
    expect(journal).toEqual(['put q/$DeadLetterQueue 1 dc=0 active', 'del q 1']);
  });
});
