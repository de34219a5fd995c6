/**
 * Two in-memory ends of a transfer (no sockets), with optional faults drawn
 * from a seeded generator: drop, duplicate and reorder packets, and a record
 * of every packet each side sent, for unit tests of the state machines.
 *
 * @module
 */

import type { Link } from "../../lib/tftp/link.ts";
import { seededRandom } from "../_helpers/random.ts";

/** Faults applied to every packet, each with its probability. */
export interface Faults {
  drop?: number;
  duplicate?: number;
  /** Hold a packet back and deliver it after the next one. */
  reorder?: number;
  seed?: number;
}

/** One end of a memory link pair. */
export class MemoryLink implements Link {
  /** Copies of every packet this end sent, in order. */
  readonly sent: Uint8Array[] = [];
  #queue: Uint8Array[] = [];
  #waiter: (() => void) | undefined;
  #held: Uint8Array | undefined;
  peer!: MemoryLink;
  #faults: Faults;
  #random: () => number;
  closed = false;

  constructor(faults: Faults = {}) {
    this.#faults = faults;
    this.#random = seededRandom(faults.seed ?? 1);
  }

  send(packet: Uint8Array): Promise<void> {
    const copy = packet.slice();
    this.sent.push(copy);
    if (!this.closed && !this.peer.closed) this.#deliver(copy);
    return Promise.resolve();
  }

  #deliver(packet: Uint8Array): void {
    const { drop = 0, duplicate = 0, reorder = 0 } = this.#faults;
    if (this.#random() < drop) return;
    if (this.#held === undefined && this.#random() < reorder) {
      this.#held = packet;
      return;
    }
    this.peer.push(packet);
    if (this.#random() < duplicate) this.peer.push(packet);
    if (this.#held !== undefined) {
      const held = this.#held;
      this.#held = undefined;
      this.peer.push(held);
    }
  }

  /** Delivers a packet to this end as if the peer had sent it. */
  push(packet: Uint8Array): void {
    this.#queue.push(packet);
    const waiter = this.#waiter;
    this.#waiter = undefined;
    waiter?.();
  }

  async receive(timeoutMs: number): Promise<Uint8Array | null> {
    if (this.#queue.length === 0) {
      let timer: ReturnType<typeof setTimeout> | undefined;
      await new Promise<void>((resolve) => {
        this.#waiter = resolve;
        timer = setTimeout(resolve, timeoutMs);
      });
      clearTimeout(timer);
      this.#waiter = undefined;
    }
    return this.#queue.shift() ?? null;
  }
}

/** Two connected ends; `faults` apply to what each end sends. */
export function memoryLinks(faults: Faults = {}): [MemoryLink, MemoryLink] {
  const a = new MemoryLink(faults);
  const b = new MemoryLink({ ...faults, seed: (faults.seed ?? 1) + 1 });
  a.peer = b;
  b.peer = a;
  return [a, b];
}
