/**
 * The chains an instance appends to, and who may use which right now.
 *
 * Inside one process each chain has one writer at a time (a chain is linear: its next row needs the
 * previous row's hash), so concurrent appends spread over idle chains and wait only when all are
 * busy. Across processes, nothing is shared but the table: an append whose sequence was taken (409)
 * learns the new head and moves the chain to the back of this instance's preference order, so
 * instances drift apart onto different chains instead of colliding again and again.
 */

export interface ChainHead {
  chain: number;
  sequence: number;
  hash: string;
  at: string;
}

export interface ChainSlot {
  readonly chain: number;
  /** The newest row this instance knows of (a lower bound of the real head). */
  head: ChainHead | undefined;
  /** True when `head` is the real head as of this instance's last write or read. */
  fresh: boolean;
  /** Appends since the head hint was last written. */
  sinceHint: number;
}

export interface ChainPool {
  readonly slots: readonly ChainSlot[];
  /** Resolves with an idle chain, now reserved for the caller until `release`. */
  acquire(): Promise<ChainSlot>;
  release(slot: ChainSlot): void;
  /** Another instance writes this chain too: prefer others. */
  demote(chain: number): void;
}

export function createChainPool(count: number, random: () => number = Math.random): ChainPool {
  const slots: ChainSlot[] = Array.from({ length: count }, (_, chain) => ({
    chain,
    head: undefined,
    fresh: false,
    sinceHint: 0,
  }));
  const busy = new Set<number>();
  // A random start per instance, so instances begin on different chains.
  const order = slots.map((s) => s.chain);
  for (let i = order.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [order[i], order[j]] = [order[j] ?? i, order[i] ?? j];
  }
  const waiters: ((slot: ChainSlot) => void)[] = [];

  return {
    slots,
    acquire() {
      for (const chain of order) {
        const slot = slots[chain];
        if (slot && !busy.has(chain)) {
          busy.add(chain);
          return Promise.resolve(slot);
        }
      }
      return new Promise((resolve) => waiters.push(resolve));
    },
    release(slot) {
      const next = waiters.shift();
      if (next) next(slot);
      else busy.delete(slot.chain);
    },
    demote(chain) {
      const at = order.indexOf(chain);
      if (at >= 0) order.push(...order.splice(at, 1));
    },
  };
}
