/**
 * The AMQP 1.0 message bytes the broker keeps, and how it turns them into deliveries.
 *
 * A stored message is a complete encoded AMQP message. On delivery the header (delivery-count) and
 * the message annotations (sequence number, enqueued time, lock, state) are written anew; the
 * properties, application properties and body sections are copied byte for byte, so whatever the
 * sender encoded is what the receiver decodes. What `@azure/service-bus` 7.9 relies on: a JSON body
 * travels as one `data` section of UTF-8 JSON; a batch is an envelope (message-format 0x80013700)
 * whose `data` sections are each a complete encoded message; every delivery needs a 16-byte random
 * delivery tag (the SDK turns it into the lock token), a message id (the lock renewer keys on it),
 * `x-opt-sequence-number`, `x-opt-enqueued-time` and, in peek-lock, `x-opt-locked-until`; and
 * header.delivery-count counts the previous lock releases (0 on the first delivery).
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { message as rheaMessage, types as rheaTypes } from 'rhea';

/** An AMQP value as rhea's codec models it. */
export interface TypedValue {
  readonly value: unknown;
  descriptor?: TypedValue;
}

/**
 * The part of rhea's codec we use. Its typings omit the reader, the writer and the map
 * constructor, and type the rest as `any`, so we state the shapes once here.
 */
interface Codec {
  Reader: new (buffer: Buffer) => { position: number; read(): TypedValue; remaining(): number };
  Writer: new () => { write(v: TypedValue): void; toBuffer(): Buffer };
  Map32(items: TypedValue[]): TypedValue;
  described(descriptor: TypedValue, value: TypedValue): TypedValue;
  wrap(v: unknown): TypedValue;
  wrap_ulong(n: number): TypedValue;
  wrap_long(n: number): TypedValue;
  wrap_int(n: number): TypedValue;
  wrap_uint(n: number): TypedValue;
  wrap_string(s: string): TypedValue;
  wrap_symbol(s: string): TypedValue;
  wrap_binary(b: Buffer): TypedValue;
  wrap_uuid(b: Buffer): TypedValue;
  wrap_timestamp(ms: number): TypedValue;
  wrap_list(items: TypedValue[]): TypedValue;
  wrap_map(m: Record<string, unknown>): TypedValue;
  wrap_array(items: unknown[], code: number, descriptors: undefined): TypedValue;
  unwrap(v: TypedValue, leaveDescribed?: boolean): unknown;
}

interface Composite {
  described(): TypedValue;
}

/** rhea's section and outcome constructors (exported at runtime, absent from its typings). */
interface Sections {
  header(fields: Record<string, unknown>): Composite;
  properties(fields: Record<string, unknown>): Composite;
  accepted(): Composite;
  rejected(fields: { error?: { condition: string; description: string } }): Composite;
  released(): Composite;
  modified(fields: { delivery_failed?: boolean; undeliverable_here?: boolean }): Composite;
  encode(message: unknown): Buffer;
  decode(bytes: Buffer): Record<string, unknown>;
}

export const codec = rheaTypes as unknown as Codec;
export const sections = rheaMessage as unknown as Sections;

const SectionCode = {
  header: 0x70,
  deliveryAnnotations: 0x71,
  messageAnnotations: 0x72,
  properties: 0x73,
  applicationProperties: 0x74,
  data: 0x75,
} as const;

const SYMBOLIC_SECTION_CODES: Record<string, number> = {
  'amqp:header:list': 0x70,
  'amqp:delivery-annotations:map': 0x71,
  'amqp:message-annotations:map': 0x72,
  'amqp:properties:list': 0x73,
  'amqp:application-properties:map': 0x74,
  'amqp:data:binary': 0x75,
  'amqp:amqp-sequence:list': 0x76,
  'amqp:value:*': 0x77,
  'amqp:footer:map': 0x78,
};

/** Annotation keys the broker owns: any the sender set are replaced on delivery. */
export const Annotation = {
  sequenceNumber: 'x-opt-sequence-number',
  enqueuedTime: 'x-opt-enqueued-time',
  lockedUntil: 'x-opt-locked-until',
  messageState: 'x-opt-message-state',
  deadLetterSource: 'x-opt-deadletter-source',
  scheduledEnqueueTime: 'x-opt-scheduled-enqueue-time',
} as const;

const BROKER_ANNOTATIONS = new Set<string>([
  Annotation.sequenceNumber,
  Annotation.enqueuedTime,
  Annotation.lockedUntil,
  Annotation.messageState,
  Annotation.deadLetterSource,
]);

interface Section {
  code: number;
  raw: Buffer;
  value: TypedValue;
}

function sectionCode(section: TypedValue): number {
  const descriptor = section.descriptor?.value;
  if (typeof descriptor === 'number') return descriptor;
  if (typeof descriptor === 'string') return SYMBOLIC_SECTION_CODES[descriptor] ?? -1;
  return -1;
}

function splitSections(bytes: Buffer): Section[] {
  const reader = new codec.Reader(bytes);
  const out: Section[] = [];
  while (reader.remaining() > 0) {
    const start = reader.position;
    const value = reader.read();
    out.push({ code: sectionCode(value), raw: bytes.subarray(start, reader.position), value });
  }
  return out;
}

/** The key/value items of an encoded map section, as typed values. */
function mapItems(section: Section | undefined): TypedValue[] {
  if (!section) return [];
  const items = section.value.value;
  return Array.isArray(items) ? (items as TypedValue[]) : [];
}

function keyOf(item: TypedValue | undefined): string | undefined {
  const v = item?.value;
  return typeof v === 'string' ? v : undefined;
}

function encodeMapSection(code: number, items: TypedValue[]): Buffer {
  const writer = new codec.Writer();
  writer.write(codec.described(codec.wrap_ulong(code), codec.Map32(items)));
  return writer.toBuffer();
}

function encodeComposite(c: Composite): Buffer {
  const writer = new codec.Writer();
  writer.write(c.described());
  return writer.toBuffer();
}

const HEADER_FIELDS = ['durable', 'priority', 'ttl', 'first_acquirer'] as const;

/** What the broker needs to know about a message the moment it arrives. */
export interface IncomingMessage {
  /** The message as it will be stored: message-id assigned when the sender gave none. */
  bytes: Buffer;
  messageId: string;
  /** The sender chose the id (only those count for duplicate detection). */
  messageIdFromSender: boolean;
  ttlMs: number | undefined;
  scheduledEnqueueTime: number | undefined;
}

function messageIdToString(id: unknown): string | undefined {
  if (typeof id === 'string') return id;
  if (typeof id === 'number') return String(id);
  if (Buffer.isBuffer(id) && id.length === 16) return uuidString(id);
  if (Buffer.isBuffer(id)) return id.toString('hex');
  return undefined;
}

/**
 * Reads a message as sent and assigns a message-id when there is none: the SDK's automatic lock
 * renewal keys on it, and every settlement of an id-less message fails otherwise ("Failed to stop
 * auto lock renewal - no message ID"). Service Bus itself assigns one to every message.
 */
export function inspectIncoming(bytes: Buffer): IncomingMessage {
  const parts = splitSections(bytes);
  const header = parts.find((s) => s.code === SectionCode.header);
  const properties = parts.find((s) => s.code === SectionCode.properties);
  const annotations = parts.find((s) => s.code === SectionCode.messageAnnotations);
  const headerFields = header ? sections.decode(header.raw) : {};
  const ttl = headerFields.ttl;
  const propertyFields = properties ? sections.decode(properties.raw) : {};
  const fromSender = messageIdToString(propertyFields.message_id);
  let scheduledEnqueueTime: number | undefined;
  const items = mapItems(annotations);
  for (let i = 0; i + 1 < items.length; i += 2) {
    if (keyOf(items[i]) !== Annotation.scheduledEnqueueTime) continue;
    const v = items[i + 1] ? codec.unwrap(items[i + 1] as TypedValue) : undefined;
    if (v instanceof Date) scheduledEnqueueTime = v.getTime();
    else if (typeof v === 'number') scheduledEnqueueTime = v;
  }
  const base = {
    ttlMs: typeof ttl === 'number' && ttl > 0 ? ttl : undefined,
    scheduledEnqueueTime,
  };
  if (fromSender !== undefined) return { ...base, bytes, messageId: fromSender, messageIdFromSender: true };
  const messageId = randomUUID().replaceAll('-', '');
  const newProperties = encodeComposite(sections.properties({ ...propertyFields, message_id: messageId }));
  const rebuilt = properties
    ? parts.map((s) => (s === properties ? newProperties : s.raw))
    : insertBefore(parts, newProperties, SectionCode.properties);
  return { ...base, bytes: Buffer.concat(rebuilt), messageId, messageIdFromSender: false };
}

/** Puts a new section at its place in section order (sections are ordered by code). */
function insertBefore(parts: Section[], raw: Buffer, code: number): Buffer[] {
  const out: Buffer[] = [];
  let inserted = false;
  for (const s of parts) {
    if (!inserted && s.code > code) {
      out.push(raw);
      inserted = true;
    }
    out.push(s.raw);
  }
  if (!inserted) out.push(raw);
  return out;
}

/** The messages inside a batch transfer (message-format 0x80013700): one data section each. */
export function unpackBatch(envelope: Buffer): Buffer[] {
  return splitSections(envelope)
    .filter((s) => s.code === SectionCode.data)
    .map((s) => {
      const content = s.value.value;
      if (!Buffer.isBuffer(content)) throw new Error('A batch data section does not hold binary content.');
      return content;
    });
}

/** Adds or replaces application properties (abandon/defer "propertiesToModify", dead-letter reason). */
export function withApplicationProperties(bytes: Buffer, changes: Record<string, unknown>): Buffer {
  const keys = Object.keys(changes);
  if (keys.length === 0) return bytes;
  const parts = splitSections(bytes);
  const current = parts.find((s) => s.code === SectionCode.applicationProperties);
  const items = mapItems(current).slice();
  for (const key of keys) {
    const value = codec.wrap(changes[key]);
    const at = items.findIndex((item, i) => i % 2 === 0 && keyOf(item) === key);
    if (at >= 0) items[at + 1] = value;
    else items.push(codec.wrap_string(key), value);
  }
  const raw = encodeMapSection(SectionCode.applicationProperties, items);
  const rebuilt = current
    ? parts.map((s) => (s === current ? raw : s.raw))
    : insertBefore(parts, raw, SectionCode.applicationProperties);
  return Buffer.concat(rebuilt);
}

/** The broker's view of a message at the moment it goes out. */
export interface DeliveryFacts {
  deliveryCount: number;
  sequenceNumber: number;
  enqueuedAt: number;
  /** 0 active, 1 deferred, 2 scheduled (x-opt-message-state). */
  state: 0 | 1 | 2;
  lockedUntil?: number | undefined;
  deadLetterSource?: string | undefined;
  omitBody?: boolean;
}

/** The bytes of a transfer: a new header and annotations, the rest of the stored message verbatim. */
export function encodeDelivery(bytes: Buffer, facts: DeliveryFacts): Buffer {
  const parts = splitSections(bytes);
  const header = parts.find((s) => s.code === SectionCode.header);
  const headerFields = header ? sections.decode(header.raw) : {};
  const kept: Record<string, unknown> = {};
  for (const f of HEADER_FIELDS) if (headerFields[f] !== undefined) kept[f] = headerFields[f];
  const out: Buffer[] = [encodeComposite(sections.header({ ...kept, delivery_count: facts.deliveryCount }))];

  const original = mapItems(parts.find((s) => s.code === SectionCode.messageAnnotations));
  const items: TypedValue[] = [];
  for (let i = 0; i + 1 < original.length; i += 2) {
    const key = keyOf(original[i]);
    if (key !== undefined && BROKER_ANNOTATIONS.has(key)) continue;
    items.push(original[i] as TypedValue, original[i + 1] as TypedValue);
  }
  const add = (key: string, value: TypedValue): void => {
    items.push(codec.wrap_symbol(key), value);
  };
  add(Annotation.sequenceNumber, codec.wrap_long(facts.sequenceNumber));
  add(Annotation.enqueuedTime, codec.wrap_timestamp(facts.enqueuedAt));
  add(Annotation.messageState, codec.wrap_int(facts.state));
  if (facts.lockedUntil !== undefined) add(Annotation.lockedUntil, codec.wrap_timestamp(facts.lockedUntil));
  if (facts.deadLetterSource !== undefined) {
    add(Annotation.deadLetterSource, codec.wrap_string(facts.deadLetterSource));
  }
  out.push(encodeMapSection(SectionCode.messageAnnotations, items));

  for (const s of parts) {
    if (s.code <= SectionCode.messageAnnotations) continue;
    if (facts.omitBody === true && s.code > SectionCode.applicationProperties) continue;
    out.push(s.raw);
  }
  return Buffer.concat(out);
}

/** 8-4-4-4-12 lower-case hex, as rhea's `uuid_to_string`. */
export function uuidString(bytes: Buffer): string {
  const hex = bytes.toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20, 32)}`;
}

// The SDK reads the delivery tag as a .NET Guid, whose first three fields are little-endian.
const DOTNET_GUID_ORDER = [3, 2, 1, 0, 5, 4, 7, 6, 8, 9, 10, 11, 12, 13, 14, 15] as const;

/** A fresh 16-byte delivery tag and the lock token the SDK will derive from it. */
export function newDeliveryTag(): { tag: Buffer; lockToken: string } {
  const tag = randomBytes(16);
  const reordered = Buffer.from(DOTNET_GUID_ORDER.map((i) => tag[i] ?? 0));
  return { tag, lockToken: uuidString(reordered) };
}

/** A lock token handed out in a `$management` reply: the SDK reads those bytes without reordering. */
export function newManagementLockToken(): { bytes: Buffer; lockToken: string } {
  const bytes = randomBytes(16);
  return { bytes, lockToken: uuidString(bytes) };
}
