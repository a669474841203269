/**
 * Chain verification, pure and streaming: rows are pushed one at a time (in storage or file order)
 * and only one previous row per chain is remembered, so a year of audit verifies in constant memory.
 *
 * What each check catches:
 * - the hash of each row over its own content: a modified row;
 * - `prevHash` = the previous row's hash and sequences without gaps or repeats: a deleted, inserted or
 *   reordered row, and a row rewritten with a recomputed hash;
 * - keys agreeing with content (table) or canonical line order (files): a row moved or re-keyed;
 * - anchored heads (written to immutable Blob storage): a chain rewritten from some row onwards with
 *   every hash recomputed, and a chain cut back to an earlier head. Without an anchor, a rewrite of
 *   the newest rows is indistinguishable from the truth; that is what anchors are for;
 * - keyed rows (HMAC under the chain key their `kid` names, looked up in a ring of the current and
 *   retired keys): a row appended or rewritten by someone without the key. A row naming a key the
 *   ring lacks is its own break (`unknown-key`), so a key missing from the ring after a rotation
 *   reads as that, not as tampering. A writer without a key can still compute a plain row, so a
 *   plain row is refused after a keyed row of its chain and after a position an anchor declared
 *   keyed: a chain moves from plain to keyed, never back.
 */
import { keyRing, type KeyRing } from './keys';
import { GENESIS_HASH, RecordVersion, checkSeal, partitionKeyOf, rowKeyOf, type AuditRecord } from './record';

export const BreakReason = {
  /** The row is not a record: a column is missing, extra, empty or of the wrong type. */
  Malformed: 'malformed',
  /** The row's keys disagree with its chain, sequence or time (it was moved or re-keyed). */
  KeyMismatch: 'key-mismatch',
  /** The row's content does not hash to its stored hash (it was modified). */
  HashMismatch: 'hash-mismatch',
  /** The row does not link to the previous row's hash (a row before it was replaced, inserted or removed). */
  PrevHashMismatch: 'prev-hash-mismatch',
  /** Sequences jump (rows were deleted). */
  SequenceGap: 'sequence-gap',
  /** A sequence repeats or goes back (a row was inserted or rows were reordered). */
  SequenceRepeat: 'sequence-repeat',
  /** A row is earlier than the previous row of its chain. */
  TimeReversed: 'time-reversed',
  /** An export's lines are not in canonical order (lines were reordered). */
  OutOfOrder: 'out-of-order',
  /** A row at an anchored position has another hash than the anchor recorded (history was rewritten). */
  AnchorMismatch: 'anchor-mismatch',
  /** An anchored row inside the range is gone from the start of the chain. */
  AnchorMissing: 'anchor-missing',
  /** The chain ends before a head that was anchored (it was cut back). */
  Truncated: 'truncated',
  /** An export does not match its manifest (row count, first or last row, digest). */
  ManifestMismatch: 'manifest-mismatch',
  /** A plain row where the chain is keyed: written by someone without the chain key. */
  Downgrade: 'downgrade',
  /**
   * A keyed row names a key the verifier does not hold: a retired key left out of the key ring
   * (ZSA_AUDIT_HMAC_KEYS_RETIRED), or a row sealed with a key ZSA never had.
   */
  UnknownKey: 'unknown-key',
} as const;
export type BreakReason = (typeof BreakReason)[keyof typeof BreakReason];

export interface ChainBreak {
  /** null when the broken row does not even say which chain it belongs to. */
  chain: number | null;
  sequence: number | null;
  reason: BreakReason;
  /** One sentence for people. */
  detail: string;
}

export interface VerifyResult {
  ok: boolean;
  /** Rows examined. */
  checked: number;
  /** Distinct chains seen. */
  chains: number;
  /** Anchored heads that fell inside the range and were checked. */
  anchors: number;
  firstBroken?: ChainBreak;
}

/** A chain head as recorded by an anchor (or a manifest). */
export interface AnchoredHead {
  chain: number;
  sequence: number;
  hash: string;
  at: string;
}

/** Where a chain must start inside the checked rows (a day export's manifest says so). */
export interface ChainStart {
  sequence: number;
  prevHash: string;
}

export interface VerifierOptions {
  /** The checked range, `from` inclusive, `to` exclusive; anchors outside it are not expected. */
  from?: Date | undefined;
  to?: Date | undefined;
  anchors?: readonly AnchoredHead[];
  starts?: ReadonlyMap<number, ChainStart>;
  /**
   * True when the rows must reach back to each chain's beginning (a verification without `from`):
   * a first row that links to neither the genesis, an anchor nor a known start is a gap.
   */
  requireStart: boolean;
  /** True for exports: rows must come in canonical order (chain, then sequence). */
  checkOrder: boolean;
  /** True for table rows: keys must agree with content. */
  checkKeys: boolean;
  /** How many chains the log writes; a row on another chain is foreign (table verification). */
  chainCount?: number | undefined;
  /**
   * The chain keys keyed rows may be sealed with (current and retired), each row checked with the
   * one its `kid` names. With none at all, keyed rows are not checked (see `unchecked`).
   */
  chainKeys?: KeyRing | undefined;
  /** Per chain, the sequence after which anchors declared every row keyed (0: the whole chain). */
  keyedAfter?: ReadonlyMap<number, number> | undefined;
}

export type VerifiableRow =
  | { ok: true; record: AuditRecord; partitionKey?: string; rowKey?: string }
  | { ok: false; chain: number | undefined; sequence: number | undefined; problem: string };

interface ChainState {
  firstSequence: number;
  lastSequence: number;
  lastHash: string;
  lastAt: string;
  /** The last row seen was keyed: every later row must be. */
  keyed: boolean;
}

export interface KeyIdTally {
  rows: number;
  checked: number;
}

export interface Verifier {
  push(row: VerifiableRow): void;
  /** Adds a break found outside the rows (e.g. a manifest check); kept if it is the first. */
  report(found: ChainBreak): void;
  /** Per-chain last row seen, for manifest comparisons. */
  chainsSeen(): ReadonlyMap<number, { firstSequence: number; lastSequence: number; lastHash: string }>;
  /** Keyed rows whose seal was not checked because no chain key was given. */
  unchecked(): number;
  /** Per key id named by keyed rows: how many rows name it, and how many of those were found sealed by it. */
  keyIds(): ReadonlyMap<string, KeyIdTally>;
  finish(): VerifyResult;
}

/** The canonical order of exported lines (and of the table): chain, then sequence. */
export function orderKey(record: Pick<AuditRecord, 'chain' | 'sequence'>): string {
  return `${partitionKeyOf(record.chain, record.sequence)}/${rowKeyOf(record.sequence)}`;
}

export function createVerifier(options: VerifierOptions): Verifier {
  const anchors = new Map<string, AnchoredHead | 'conflict'>();
  const inRange = (at: string) =>
    (options.from === undefined || at >= options.from.toISOString()) &&
    (options.to === undefined || at < options.to.toISOString());
  for (const head of options.anchors ?? []) {
    const key = `${head.chain}:${head.sequence}`;
    const known = anchors.get(key);
    anchors.set(
      key,
      known === undefined || (known !== 'conflict' && known.hash === head.hash) ? head : 'conflict',
    );
  }
  const chains = new Map<number, ChainState>();
  const brokenChains = new Set<number>();
  let checked = 0;
  let unchecked = 0;
  const ring = options.chainKeys ?? keyRing([]);
  const tallies = new Map<string, KeyIdTally>();
  let first: ChainBreak | undefined;
  let previousOrderKey = '';

  const tallyOf = (kid: string): KeyIdTally => {
    let tally = tallies.get(kid);
    if (!tally) tallies.set(kid, (tally = { rows: 0, checked: 0 }));
    return tally;
  };

  const fail = (chain: number | null, sequence: number | null, reason: BreakReason, detail: string) => {
    if (chain !== null) {
      if (brokenChains.has(chain)) return;
      brokenChains.add(chain);
    }
    first ??= { chain, sequence, reason, detail };
  };

  const checkFirstLink = (record: AuditRecord): boolean => {
    const { chain, sequence, prevHash } = record;
    const start = options.starts?.get(chain);
    if (start) {
      if (sequence !== start.sequence) {
        fail(
          chain,
          sequence,
          sequence > start.sequence ? BreakReason.SequenceGap : BreakReason.SequenceRepeat,
          `The chain should start at sequence ${start.sequence}.`,
        );
        return false;
      }
      if (prevHash !== start.prevHash) {
        fail(
          chain,
          sequence,
          BreakReason.PrevHashMismatch,
          'The first row does not link to the recorded start.',
        );
        return false;
      }
      return true;
    }
    if (sequence === 1) {
      if (prevHash === GENESIS_HASH) return true;
      fail(
        chain,
        sequence,
        BreakReason.PrevHashMismatch,
        'The first row of the chain does not start from the genesis hash.',
      );
      return false;
    }
    const anchored = anchors.get(`${chain}:${sequence - 1}`);
    if (anchored && anchored !== 'conflict') {
      if (prevHash === anchored.hash) return true;
      fail(
        chain,
        sequence,
        BreakReason.PrevHashMismatch,
        'The row does not link to the anchored head before it.',
      );
      return false;
    }
    if (options.requireStart) {
      fail(chain, sequence, BreakReason.SequenceGap, `Rows before sequence ${sequence} are missing.`);
      return false;
    }
    return true;
  };

  return {
    push(row) {
      checked += 1;
      if (!row.ok) {
        fail(
          row.chain ?? null,
          row.sequence ?? null,
          BreakReason.Malformed,
          `The row is malformed: ${row.problem}.`,
        );
        return;
      }
      const { record } = row;
      const { chain, sequence } = record;
      if (options.checkOrder) {
        const key = orderKey(record);
        const ordered = key > previousOrderKey;
        previousOrderKey = key > previousOrderKey ? key : previousOrderKey;
        if (!ordered) {
          fail(chain, sequence, BreakReason.OutOfOrder, 'The row is out of canonical order.');
          return;
        }
      }
      if (options.chainCount !== undefined && chain >= options.chainCount) {
        fail(
          chain,
          sequence,
          BreakReason.Malformed,
          `The row is on chain ${chain}, which this log never writes.`,
        );
        return;
      }
      const state = chains.get(chain);
      if (brokenChains.has(chain)) {
        if (state) Object.assign(state, { lastSequence: sequence, lastHash: record.hash, lastAt: record.at });
        return;
      }
      if (
        options.checkKeys &&
        (row.partitionKey !== partitionKeyOf(chain, sequence) || row.rowKey !== rowKeyOf(sequence))
      ) {
        fail(
          chain,
          sequence,
          BreakReason.KeyMismatch,
          'The row is stored under keys that disagree with its content.',
        );
        return;
      }
      const sealed = checkSeal(record, ring);
      const tally = record.kid === undefined ? undefined : tallyOf(record.kid);
      if (tally) tally.rows += 1;
      if (sealed === 'mismatch') {
        fail(chain, sequence, BreakReason.HashMismatch, 'The row content does not match its hash.');
        return;
      }
      if (sealed === 'unknown-key') {
        fail(
          chain,
          sequence,
          BreakReason.UnknownKey,
          `The row is sealed with key ${record.kid ?? '(none)'}, which is not among the ${ring.size} key(s) given: a retired key left out, or a key ZSA never had.`,
        );
        return;
      }
      if (sealed === 'unchecked') unchecked += 1;
      if (sealed === 'match' && tally) tally.checked += 1;
      const keyed = record.v === RecordVersion.Keyed;
      if (!keyed) {
        const keyedAfter = options.keyedAfter?.get(chain);
        if (state?.keyed || (keyedAfter !== undefined && sequence > keyedAfter)) {
          fail(
            chain,
            sequence,
            BreakReason.Downgrade,
            state?.keyed
              ? 'The row is sealed without the chain key although the row before it is keyed.'
              : 'The row is sealed without the chain key although an anchor declared the chain keyed before it.',
          );
          return;
        }
      }
      if (!state) {
        chains.set(chain, {
          firstSequence: sequence,
          lastSequence: sequence,
          lastHash: record.hash,
          lastAt: record.at,
          keyed,
        });
        if (!checkFirstLink(record)) return;
      } else {
        if (sequence <= state.lastSequence) {
          fail(
            chain,
            sequence,
            BreakReason.SequenceRepeat,
            `Sequence ${sequence} follows ${state.lastSequence}.`,
          );
          return;
        }
        if (sequence > state.lastSequence + 1) {
          fail(
            chain,
            sequence,
            BreakReason.SequenceGap,
            sequence === state.lastSequence + 2
              ? `Sequence ${sequence - 1} is missing.`
              : `Sequences ${state.lastSequence + 1}–${sequence - 1} are missing.`,
          );
          return;
        }
        if (record.prevHash !== state.lastHash) {
          fail(chain, sequence, BreakReason.PrevHashMismatch, 'The row does not link to the previous row.');
          return;
        }
        if (record.at < state.lastAt) {
          fail(
            chain,
            sequence,
            BreakReason.TimeReversed,
            'The row is earlier than the previous row of its chain.',
          );
          return;
        }
        Object.assign(state, { lastSequence: sequence, lastHash: record.hash, lastAt: record.at, keyed });
      }
      const anchored = anchors.get(`${chain}:${sequence}`);
      if (anchored === 'conflict' || (anchored && anchored.hash !== record.hash)) {
        fail(
          chain,
          sequence,
          BreakReason.AnchorMismatch,
          'The row differs from the head anchored at this position.',
        );
      }
    },
    report(found) {
      fail(found.chain, found.sequence, found.reason, found.detail);
    },
    chainsSeen() {
      return chains;
    },
    unchecked() {
      return unchecked;
    },
    keyIds() {
      return tallies;
    },
    finish() {
      let anchorCount = 0;
      const expected = [...anchors.values()]
        .filter((a): a is AnchoredHead => a !== 'conflict' && inRange(a.at))
        .sort((a, b) => a.chain - b.chain || a.sequence - b.sequence);
      for (const head of expected) {
        anchorCount += 1;
        if (brokenChains.has(head.chain)) continue;
        const state = chains.get(head.chain);
        if (!state || head.sequence > state.lastSequence) {
          fail(
            head.chain,
            head.sequence,
            BreakReason.Truncated,
            `The chain ends before sequence ${head.sequence}, which was anchored.`,
          );
        } else if (head.sequence < state.firstSequence) {
          fail(
            head.chain,
            head.sequence,
            BreakReason.AnchorMissing,
            `The anchored row ${head.sequence} is missing from the start of the range.`,
          );
        }
      }
      const distinct = new Set<number>([...chains.keys(), ...brokenChains]);
      return {
        ok: first === undefined,
        checked,
        chains: distinct.size,
        anchors: anchorCount,
        ...(first ? { firstBroken: first } : {}),
      };
    },
  };
}
