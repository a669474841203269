/**
 * Readers for the values rhea hands over. Its typings promise fields that a client may leave out
 * (a terminus without an address, a request without a body), so every read is checked here rather
 * than trusted at each use.
 */
import type { Receiver, Sender, Source, TerminusOptions } from 'rhea';

export function asRecord(v: unknown): Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Buffer.isBuffer(v) ? (v as Record<string, unknown>) : {};
}

export function asString(v: unknown): string | undefined {
  return typeof v === 'string' ? v : undefined;
}

/** A terminus address; rhea types them as always present, but a client may attach without one. */
export function addressOf(terminus: unknown): string | undefined {
  return asString(asRecord(terminus).address);
}

/** Our attach names the same source and target addresses as the client's (null stays null). */
export function echoTermini(link: Sender | Receiver): void {
  const source = addressOf(link.source);
  const target = addressOf(link.target);
  // rhea's typings require an address; an absent one must stay absent on the wire.
  link.set_source((source === undefined ? {} : { address: source }) as Source);
  link.set_target((target === undefined ? {} : { address: target }) as TerminusOptions);
}
