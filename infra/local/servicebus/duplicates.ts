/**
 * Duplicate detection, as on a Service Bus entity with it turned on: within the window, a message
 * whose sender chose an id already seen is accepted and dropped, so a sender that retries after a
 * lost acknowledgement does not deliver twice. Only ids the sender chose count (ids we assign are new
 * by construction). What was seen is journaled, so a restart keeps dropping the same ids.
 */

export class DuplicateDetector {
  private readonly seen = new Map<string, number>();
  constructor(
    readonly entity: string,
    private readonly windowMs: number,
    /** Persists an id seen until `until`. */
    private readonly journal: (messageId: string, until: number) => void,
  ) {}

  /** Records the id unless it is a duplicate; false means drop the message. */
  admit(messageId: string, now: number): boolean {
    if (this.isDuplicate(messageId, now)) return false;
    this.record(messageId, now);
    return true;
  }

  isDuplicate(messageId: string, now: number): boolean {
    if (this.windowMs <= 0) return false;
    this.prune(now);
    const until = this.seen.get(messageId);
    return until !== undefined && until > now;
  }

  /** Remembers an id and journals it (nothing when detection is off). */
  record(messageId: string, now: number): void {
    if (this.windowMs <= 0) return;
    const until = now + this.windowMs;
    this.seen.delete(messageId);
    this.seen.set(messageId, until);
    this.journal(messageId, until);
  }

  /** Puts back an id read from the journal (not journaled again). */
  restore(messageId: string, until: number): void {
    this.seen.set(messageId, until);
  }

  entries(now: number): [string, number][] {
    this.prune(now);
    return [...this.seen];
  }

  // Ids are kept in the order they were recorded and the window is fixed, so the oldest come first.
  private prune(now: number): void {
    for (const [id, until] of this.seen) {
      if (until > now) break;
      this.seen.delete(id);
    }
  }
}
