/**
 * The `$management` request/response node of each entity (`<entity>/$management`): schedule and
 * cancel scheduled messages, renew locks, settle by lock token (update-disposition), receive
 * deferred messages by sequence number, and peek. Replies use camelCase `statusCode`,
 * `statusDescription` and `errorCondition` as real Service Bus does: the SDK's peek tests
 * `statusCode` literally, and an error reply without `errorCondition` is mapped from its status
 * code alone (410 would become a link-stolen error instead of a lost lock).
 */
import {
  codec,
  encodeDelivery,
  inspectIncoming,
  newManagementLockToken,
  uuidString,
  type TypedValue,
} from './amqp';
import { reply, type ConnState } from './connection';
import { toNewMessage, type Node } from './entities';
import { Condition, describeError, lockLostDescription } from './errors';
import { settlementFromRequest } from './settlement';
import { MessageState, type StoredMessage } from './store';
import { asRecord, asString } from './values';

const Operation = {
  schedule: 'com.microsoft:schedule-message',
  cancelScheduled: 'com.microsoft:cancel-scheduled-message',
  renewLock: 'com.microsoft:renew-lock',
  updateDisposition: 'com.microsoft:update-disposition',
  receiveBySequenceNumber: 'com.microsoft:receive-by-sequence-number',
  peek: 'com.microsoft:peek-message',
} as const;

interface ManagementReply {
  status: number;
  description: string;
  condition?: string;
  body?: TypedValue;
}

const ok = (body?: TypedValue): ManagementReply => ({
  status: 200,
  description: 'OK',
  ...(body ? { body } : {}),
});
const fail = (status: number, condition: string, description: string): ManagementReply => ({
  status,
  condition,
  description,
});

export interface ManagementDeps {
  /** Resolves once what the request changed is on disk. */
  durable: () => Promise<void>;
  isClosed: () => boolean;
  log: (msg: string) => void;
}

export class Management {
  constructor(private readonly deps: ManagementDeps) {}

  /** Answers one request sent to the node's `$management` address. */
  async onRequest(node: Node, state: ConnState, message: unknown): Promise<void> {
    const request = asRecord(message);
    const operation = asString(asRecord(request.application_properties).operation) ?? '';
    let result: ManagementReply;
    try {
      result = await this.manage(node, operation, asRecord(request.body));
    } catch (e) {
      result = fail(500, Condition.internal, describeError(e));
    }
    if (this.deps.isClosed()) return;
    reply(
      state,
      request,
      {
        statusCode: result.status,
        statusDescription: result.description,
        ...(result.condition === undefined ? {} : { errorCondition: result.condition }),
      },
      result.body,
      this.deps.log,
    );
  }

  private async manage(
    node: Node,
    operation: string,
    body: Record<string, unknown>,
  ): Promise<ManagementReply> {
    const now = Date.now();
    switch (operation) {
      case Operation.schedule: {
        if (node.kind === 'subqueue')
          return fail(400, Condition.notAllowed, `Cannot schedule on '${node.name}'.`);
        const entries = Array.isArray(body.messages) ? body.messages : [];
        const seqs: number[] = [];
        for (const entry of entries) {
          const bytes = asRecord(entry).message;
          if (!Buffer.isBuffer(bytes))
            return fail(400, Condition.decode, 'A scheduled message is not binary.');
          const incoming = inspectIncoming(bytes);
          // Scheduled messages count for duplicate detection but are never dropped: the caller needs
          // a sequence number back.
          if (incoming.messageIdFromSender) node.dedup.record(incoming.messageId, now);
          const store = node.kind === 'queue' ? node.store : node.pending;
          seqs.push(store.add(toNewMessage(incoming), now).seq);
        }
        await this.deps.durable();
        return ok(codec.wrap_map({ 'sequence-numbers': codec.wrap_array(seqs, 0x81, undefined) }));
      }
      case Operation.cancelScheduled: {
        if (node.kind === 'subqueue')
          return fail(400, Condition.notAllowed, `Cannot cancel on '${node.name}'.`);
        (node.kind === 'queue' ? node.store : node.pending).cancelScheduled(
          readLongs(body['sequence-numbers']),
        );
        await this.deps.durable();
        return ok();
      }
    }
    if (node.kind === 'topic')
      return fail(400, Condition.notAllowed, `'${operation}' needs a subscription of '${node.name}'.`);
    const store = node.store;
    switch (operation) {
      case Operation.renewLock: {
        const untils: number[] = [];
        for (const token of readLockTokens(body['lock-tokens'])) {
          const until = store.renewLock(token, now);
          if (until === undefined) return fail(410, Condition.lockLost, lockLostDescription(token));
          untils.push(until);
        }
        return ok(codec.wrap_map({ expirations: codec.wrap_array(untils, 0x83, undefined) }));
      }
      case Operation.updateDisposition: {
        const settlement = settlementFromRequest(body);
        if (!settlement)
          return fail(
            400,
            Condition.notImplemented,
            `Unknown disposition-status '${String(body['disposition-status'])}'.`,
          );
        for (const token of readLockTokens(body['lock-tokens'])) {
          if (store.settle(token, settlement) === 'lock-lost') {
            return fail(410, Condition.lockLost, lockLostDescription(token));
          }
        }
        return ok();
      }
      case Operation.receiveBySequenceNumber: {
        const seqs = readLongs(body['sequence-numbers']);
        const peekLock = body['receiver-settle-mode'] !== 0;
        const tokens = seqs.map(() => newManagementLockToken());
        const taken = store.takeDeferred(seqs, now, peekLock ? tokens.map((t) => t.lockToken) : undefined);
        if (!taken.ok) {
          return fail(
            404,
            Condition.messageNotFound,
            `The message with sequence number ${taken.missing} was not found or is not deferred.`,
          );
        }
        const items = taken.messages.map((m, i) =>
          codec.wrap_map({
            'lock-token': codec.wrap_uuid(tokens[i]?.bytes ?? Buffer.alloc(16)),
            message: encodeStored(m, false),
          }),
        );
        await this.deps.durable();
        return ok(codec.wrap_map({ messages: codec.wrap_list(items) }));
      }
      case Operation.peek: {
        const from = readLong(body['from-sequence-number']) ?? 0;
        const count = typeof body['message-count'] === 'number' ? body['message-count'] : 1;
        const omitBody = body['omit-message-body'] === true;
        const found = store.peek(from, count, now);
        // The SDK reads "nothing to peek" only from a camelCase `statusCode` 204: a 404 or a
        // kebab-case status makes peekMessages throw.
        if (found.length === 0) return { status: 204, description: 'No Content' };
        const items = found.map((m) => codec.wrap_map({ message: encodeStored(m, omitBody) }));
        return ok(codec.wrap_map({ messages: codec.wrap_list(items) }));
      }
      default:
        return fail(
          501,
          Condition.notImplemented,
          `The local Service Bus does not implement '${operation}'.`,
        );
    }
  }
}

/** A stored message as a management reply carries it: encoded with its delivery annotations. */
function encodeStored(m: StoredMessage, omitBody: boolean): TypedValue {
  return codec.wrap_binary(
    encodeDelivery(m.bytes, {
      deliveryCount: m.deliveryCount,
      sequenceNumber: m.seq,
      enqueuedAt: m.enqueuedAt,
      state: stateCode(m.state),
      lockedUntil: m.lock?.until,
      deadLetterSource: m.deadLetterSource,
      omitBody,
    }),
  );
}

const stateCode = (s: MessageState): 0 | 1 | 2 =>
  s === MessageState.deferred ? 1 : s === MessageState.scheduled ? 2 : 0;

/** A sequence number as the SDK sends it: a number, or 8 big-endian bytes when large. */
function readLong(v: unknown): number | undefined {
  if (typeof v === 'number' && Number.isSafeInteger(v)) return v;
  if (Buffer.isBuffer(v) && v.length === 8) return Number(v.readBigInt64BE(0));
  return undefined;
}

function readLongs(v: unknown): number[] {
  if (!Array.isArray(v)) return [];
  return v.map(readLong).filter((n): n is number => n !== undefined);
}

function readLockTokens(v: unknown): string[] {
  if (!Array.isArray(v)) return [];
  return v.filter((b): b is Buffer => Buffer.isBuffer(b) && b.length === 16).map(uuidString);
}
