/**
 * The private rhea state we must read or set (absent from its typings): the attach fields we echo,
 * and the credit and session bookkeeping that exact credit and drain handling need. These are rhea
 * 3.0.5 internals; a rhea upgrade must be checked against them.
 */
import type { Receiver, Sender } from 'rhea';

export interface LinkInternals {
  local: { attach: { max_message_size?: number; snd_settle_mode?: number; rcv_settle_mode?: number } };
  credit: number;
  delivery_count: number;
  _draining: boolean;
  _drained: boolean;
  _get_drain: () => boolean;
}

interface SessionInternals {
  outgoing: { next_pending_delivery: number; available(): number };
}

export const internals = (link: Sender | Receiver): LinkInternals => link as unknown as LinkInternals;

export const outgoingOf = (link: Sender): SessionInternals['outgoing'] =>
  (link.session as unknown as SessionInternals).outgoing;
