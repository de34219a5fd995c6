/**
 * A UDP proxy that drops, duplicates and reorders a share of the datagrams
 * passing through it, with a seeded generator so that a failure can be
 * replayed. It understands just enough of TFTP's transfer IDs to be put
 * between a client and a server: the client sends its request to the proxy,
 * and every port the server answers from gets a port of its own on the
 * proxy, so the client still sees one transfer ID per server transfer.
 *
 * @module
 */

import { formatAddress, type HostPort } from "../../lib/net/address.ts";
import { closeQuietly } from "../../lib/net/errors.ts";
import { DatagramReader, listenUdp, udpAddress } from "../../lib/net/udp.ts";
import { seededRandom } from "./random.ts";

/** What happens to each datagram, with these probabilities. */
export interface Faults {
  drop?: number;
  duplicate?: number;
  /** Hold a datagram back and send it after the next one (or after `holdMs`). */
  reorder?: number;
  /** Longest time a held datagram waits for a successor.
   * @default {20} */
  holdMs?: number;
  seed?: number;
}

/** Counts of what the proxy did. */
export interface FaultStats {
  forwarded: number;
  dropped: number;
  duplicated: number;
  reordered: number;
}

/** One direction of traffic: applies the faults and sends. */
class Lane {
  #random: () => number;
  #faults: Faults;
  #stats: FaultStats;
  #held: { data: Uint8Array; timer: ReturnType<typeof setTimeout> } | undefined;
  #send: (data: Uint8Array) => void;

  constructor(faults: Faults, seed: number, stats: FaultStats, send: (data: Uint8Array) => void) {
    this.#faults = faults;
    this.#random = seededRandom(seed);
    this.#stats = stats;
    this.#send = send;
  }

  pass(data: Uint8Array): void {
    const { drop = 0, duplicate = 0, reorder = 0 } = this.#faults;
    const copy = data.slice();
    if (this.#random() < drop) {
      this.#stats.dropped++;
      return;
    }
    if (!this.#held && this.#random() < reorder) {
      this.#stats.reordered++;
      this.#held = { data: copy, timer: setTimeout(() => this.#release(), this.#faults.holdMs ?? 20) };
      return;
    }
    this.#forward(copy);
    if (this.#random() < duplicate) {
      this.#stats.duplicated++;
      this.#forward(copy);
    }
    this.#release();
  }

  #forward(data: Uint8Array): void {
    this.#stats.forwarded++;
    this.#send(data);
  }

  #release(): void {
    const held = this.#held;
    if (!held) return;
    this.#held = undefined;
    clearTimeout(held.timer);
    this.#forward(held.data);
  }

  close(): void {
    if (this.#held) clearTimeout(this.#held.timer);
    this.#held = undefined;
  }
}

/**
 * A fault-injecting proxy in front of `target` (a TFTP server's well-known port).
 *
 * @example Usage
 * ```ts
 * import { UdpFaultProxy } from "./udp_fault_proxy.ts";
 * await using proxy = new UdpFaultProxy({ hostname: "127.0.0.1", port: 6969 }, { drop: 0.1, seed: 1 });
 * console.log(proxy.address); // send requests here instead
 * ```
 */
export class UdpFaultProxy {
  /** Where clients send their requests. */
  readonly address: HostPort;
  readonly stats: FaultStats = { forwarded: 0, dropped: 0, duplicated: 0, reordered: 0 };
  #target: HostPort;
  #faults: Faults;
  #seed: number;
  #front: Deno.DatagramConn;
  #sockets: Deno.DatagramConn[] = [];
  #lanes: Lane[] = [];
  #loops: Promise<void>[] = [];
  /** Per client: the socket that talks to the server for it. */
  #upstream = new Map<string, Deno.DatagramConn>();

  constructor(target: HostPort, faults: Faults) {
    this.#target = target;
    this.#faults = faults;
    this.#seed = faults.seed ?? 1;
    this.#front = this.#open();
    this.address = udpAddress(this.#front);
    const toTarget = new Map<string, Lane>();
    this.#loop(this.#front, (data, from) => {
      const upstream = this.#upstreamFor(from);
      const key = formatAddress(from);
      let lane = toTarget.get(key);
      if (!lane) {
        lane = this.#lane((bytes) => this.#sendFrom(upstream, bytes, this.#target));
        toTarget.set(key, lane);
      }
      lane.pass(data);
    });
  }

  #open(): Deno.DatagramConn {
    const socket = listenUdp({ hostname: "127.0.0.1", port: 0 });
    this.#sockets.push(socket);
    return socket;
  }

  #lane(send: (data: Uint8Array) => void): Lane {
    const lane = new Lane(this.#faults, this.#seed++, this.stats, send);
    this.#lanes.push(lane);
    return lane;
  }

  #sendFrom(socket: Deno.DatagramConn, data: Uint8Array, to: HostPort): void {
    socket.send(data, { transport: "udp", ...to }).catch(() => {});
  }

  #loop(socket: Deno.DatagramConn, onDatagram: (data: Uint8Array, from: HostPort) => void): void {
    const reader = new DatagramReader(socket);
    this.#loops.push((async () => {
      while (true) {
        const datagram = await reader.receive();
        if (!datagram) return;
        onDatagram(datagram.data, datagram.from);
      }
    })());
  }

  /** The upstream socket for a client; datagrams the server sends it go back through a per-server-port socket. */
  #upstreamFor(client: HostPort): Deno.DatagramConn {
    const key = formatAddress(client);
    const known = this.#upstream.get(key);
    if (known) return known;
    const socket = this.#open();
    this.#upstream.set(key, socket);
    const downstream = new Map<number, Lane>();
    this.#loop(socket, (data, from) => {
      let lane = downstream.get(from.port);
      if (!lane) {
        // A new server transfer ID: give it a proxy port, through which the client answers it.
        const downSocket = this.#open();
        const serverPort = from.port;
        lane = this.#lane((bytes) => this.#sendFrom(downSocket, bytes, client));
        downstream.set(serverPort, lane);
        const back = this.#lane((bytes) =>
          this.#sendFrom(socket, bytes, { hostname: this.#target.hostname, port: serverPort })
        );
        this.#loop(downSocket, (reply) => back.pass(reply));
      }
      lane.pass(data);
    });
    return socket;
  }

  /** Closes every socket and waits for the loops to end. */
  async close(): Promise<void> {
    for (const lane of this.#lanes) lane.close();
    for (const socket of this.#sockets) closeQuietly(socket);
    await Promise.all(this.#loops);
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}
