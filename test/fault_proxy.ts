/**
 * A fault-injecting TCP proxy for multi-node tests of the links layer (DESIGN.md, test layer 4).
 *
 * It listens on a loopback address and forwards every accepted connection to one target (a
 * node's internode port), byte for byte in both directions. The initiator→acceptor direction is
 * parsed, not just copied: the handshake Initiate (PROTOCOL.md §6) says the connection type and
 * framing, and after it the frame headers (§4) give each frame's boundaries, so a test can damage
 * exactly one payload (a recoverable `corrupt` frame) or one header (a fatal stream error).
 * Legacy (version 11) and streaming connections carry no frames: after their Initiate the proxy
 * treats them as a plain byte stream, where only delay, stall, cuts and offset bit flips apply.
 *
 * Faults can be set at any time and apply to connections of one type or all. Stalling stops
 * reading as well as writing, so TCP backpressure reaches the sender as with a hung peer.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { FaultProxy } from "./fault_proxy.ts";
 *
 * const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
 * const target = { host: "127.0.0.1", port: listener.addr.port };
 * await using proxy = await FaultProxy.start({ target });
 * const client = await Deno.connect({ hostname: proxy.address.host, port: proxy.address.port });
 * const server = await listener.accept();
 * await client.write(new TextEncoder().encode("ping"));
 * const buffer = new Uint8Array(4);
 * let received = 0;
 * while (received < 4) received += (await server.read(buffer.subarray(received))) ?? 4;
 * assert.equal(new TextDecoder().decode(buffer), "ping");
 * proxy.cutAll();
 * assert.equal(await server.read(buffer), null);
 * client.close();
 * server.close();
 * listener.close();
 * ```
 *
 * @module
 */

import { type Clock, SystemClock } from "../src/clock.ts";
import { Random } from "../src/random.ts";
import { FaultBook, type FrameFaultKind, InitiatorStreamScanner } from "./_fault_stream_scanner.ts";
import type { InetAddressAndPort } from "../src/wire/inet_address.ts";

/** Connection type from the Initiate's flag bits 0–1: 1 urgent, 2 small, 3 large. */
export type LinkType = 1 | 2 | 3;

/** Options of {@linkcode FaultProxy.start}. */
export interface FaultProxyOptions {
  /** Where connections are forwarded (must be on 127.0.0.0/8). */
  readonly target: InetAddressAndPort;
  /** Loopback host to listen on; default `127.0.0.1`. */
  readonly listenHost?: string;
  /** Port to listen on; default 0 (a free one). */
  readonly listenPort?: number;
  /** Times delays; default a {@linkcode SystemClock}. */
  readonly clock?: Clock;
  /** Picks which bit a fault flips; default seeded with {@linkcode FAULT_PROXY_SEED_DEFAULT}. */
  readonly random?: Random;
  /** Most bytes read at once; default {@linkcode FAULT_PROXY_READ_BUFFER_SIZE_BYTES_DEFAULT}. */
  readonly readBufferSizeBytes?: number;
  /**
   * Bytes read but not yet written, per direction, before the proxy stops reading;
   * default {@linkcode FAULT_PROXY_QUEUE_CAPACITY_BYTES_DEFAULT}.
   */
  readonly queueCapacityBytes?: number;
}

/** Which connections a frame fault applies to, and to how many frames. */
export interface FrameFaultOptions {
  /** Only connections of this type; default all framed connections. */
  readonly type?: LinkType;
  /** How many frames to damage, one bit each; default 1. */
  readonly count?: number;
}

/** A one-shot bit flip at a stream offset. */
export interface OffsetFaultOptions {
  /** Offset in the initiator→acceptor stream, counting from the first byte after the Initiate. */
  readonly offset: number;
  /** Bit to flip, 0 (least significant) to 7; default 0. */
  readonly bit?: number;
  /** Only connections of this type; default any connection. */
  readonly type?: LinkType;
}

/** Frames damaged so far, per kind of damage. */
export interface FramesCorrupted {
  /** Frames with one payload bit flipped. */
  readonly payload: number;
  /** Frames with one header length/flag bit flipped. */
  readonly header: number;
}

/** Bytes written to each side so far. */
export interface BytesForwarded {
  /** Towards the target (the acceptor). */
  readonly initiatorToAcceptor: number;
  /** Back towards the connecting side (the initiator). */
  readonly acceptorToInitiator: number;
}

/** Default of {@linkcode FaultProxyOptions.random}'s seed, fixed so runs repeat. */
export const FAULT_PROXY_SEED_DEFAULT = 1;
/** Default of {@linkcode FaultProxyOptions.readBufferSizeBytes}: 64 KiB. */
export const FAULT_PROXY_READ_BUFFER_SIZE_BYTES_DEFAULT = 64 * 1024;
/** Default of {@linkcode FaultProxyOptions.queueCapacityBytes}: 4 MiB. */
export const FAULT_PROXY_QUEUE_CAPACITY_BYTES_DEFAULT = 4 * 1024 * 1024;

const NS_PER_MS = 1_000_000;

interface ProxyState {
  readonly target: InetAddressAndPort;
  readonly clock: Clock;
  readonly faults: FaultBook;
  readonly readBufferSizeBytes: number;
  readonly queueCapacityBytes: number;
  readonly errors: unknown[];
  delayMs: number;
  stalled: boolean;
  framesForwarded: number;
  bytesToAcceptor: number;
  bytesToInitiator: number;
  targetConnectFailures: number;
}

/** A condition variable: `wait()` resolves at the next `notify()`. */
class Condition {
  #next: PromiseWithResolvers<void> | undefined;

  wait(): Promise<void> {
    this.#next ??= Promise.withResolvers();
    return this.#next.promise;
  }

  notify(): void {
    const next = this.#next;
    this.#next = undefined;
    next?.resolve();
  }
}

interface QueuedChunk {
  readonly bytes: Uint8Array;
  readonly frames: number;
  readonly dueNs: number;
}

/** One accepted connection and its connection to the target. */
class ProxiedConnection {
  readonly #state: ProxyState;
  readonly #initiator: Deno.TcpConn;
  #acceptor: Deno.TcpConn | undefined;
  readonly #scanner: InitiatorStreamScanner;
  readonly #condition = new Condition();
  readonly #abort = new AbortController();
  #closed = false;

  constructor(state: ProxyState, initiator: Deno.TcpConn) {
    this.#state = state;
    this.#initiator = initiator;
    this.#scanner = new InitiatorStreamScanner(state.faults);
  }

  /** Connects to the target and forwards until both directions end or the connection closes. */
  async run(): Promise<void> {
    try {
      const { target } = this.#state;
      let acceptor: Deno.TcpConn;
      try {
        setNoDelay(this.#initiator);
        acceptor = await Deno.connect({
          hostname: target.host,
          port: target.port,
          signal: this.#abort.signal,
        });
      } catch (error) {
        if (this.#closed || isGoneError(error)) return;
        if (!(error instanceof Deno.errors.ConnectionRefused || isTimeout(error))) throw error;
        // The target node is down: the initiator sees the connection close, as with no proxy.
        this.#state.targetConnectFailures++;
        return;
      }
      if (this.#closed) {
        closeQuietly(acceptor);
        return;
      }
      this.#acceptor = acceptor;
      setNoDelay(acceptor);
      await Promise.all([
        this.#pump(this.#initiator, acceptor, true),
        this.#pump(acceptor, this.#initiator, false),
      ]);
    } catch (error) {
      this.#state.errors.push(error);
    } finally {
      this.close();
    }
  }

  /** Wakes waiting loops after a setting changed. */
  wake(): void {
    this.#condition.notify();
  }

  /** Closes both sockets; pending reads, writes and delays end. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#abort.abort();
    closeQuietly(this.#initiator);
    if (this.#acceptor !== undefined) closeQuietly(this.#acceptor);
    this.#condition.notify();
  }

  /** Forwards one direction; reads stop while stalled or while the queue is full. */
  async #pump(source: Deno.TcpConn, sink: Deno.TcpConn, toAcceptor: boolean): Promise<void> {
    const state = this.#state;
    const queue: QueuedChunk[] = [];
    let queuedBytes = 0;
    let ended = false;
    const enqueue = (bytes: Uint8Array, frames: number) => {
      if (bytes.length === 0 && frames === 0) return;
      queue.push({ bytes, frames, dueNs: state.clock.monotonicNs() + state.delayMs * NS_PER_MS });
      queuedBytes += bytes.length;
    };
    const read = async () => {
      const buffer = new Uint8Array(state.readBufferSizeBytes);
      while (!this.#closed) {
        if (state.stalled || queuedBytes >= state.queueCapacityBytes) {
          await this.#condition.wait();
          continue;
        }
        const n = await this.#io(() => source.read(buffer));
        if (n === undefined) return;
        if (n === null) {
          if (toAcceptor) enqueue(this.#scanner.flush(), 0);
          ended = true;
        } else if (toAcceptor) {
          const { bytes, frames } = this.#scanner.scan(buffer.subarray(0, n));
          enqueue(bytes, frames);
        } else {
          enqueue(buffer.slice(0, n), 0);
        }
        this.#condition.notify();
        if (ended) return;
      }
    };
    const write = async () => {
      while (!this.#closed) {
        const head = queue[0];
        if (state.stalled || (head === undefined && !ended)) {
          await this.#condition.wait();
          continue;
        }
        if (head === undefined) {
          // Half-close: the other side reads EOF and may still answer.
          await this.#io(() => sink.closeWrite());
          return;
        }
        const waitNs = head.dueNs - state.clock.monotonicNs();
        if (waitNs > 0) {
          const slept = await this.#io(() =>
            state.clock.sleep(Math.ceil(waitNs / NS_PER_MS), this.#abort.signal).then(() => true)
          );
          if (slept === undefined) return;
          continue;
        }
        for (let offset = 0; offset < head.bytes.length;) {
          const n = await this.#io(() => sink.write(head.bytes.subarray(offset)));
          if (n === undefined) return;
          offset += n;
        }
        queue.shift();
        queuedBytes -= head.bytes.length;
        if (toAcceptor) state.bytesToAcceptor += head.bytes.length;
        else state.bytesToInitiator += head.bytes.length;
        state.framesForwarded += head.frames;
        this.#condition.notify();
      }
    };
    await Promise.all([read(), write()]);
  }

  /**
   * Runs one socket operation; `undefined` means the connection is over (closed here, reset, or
   * aborted), after closing both sides. Other errors propagate to {@linkcode run}.
   */
  async #io<T>(op: () => Promise<T>): Promise<T | undefined> {
    if (this.#closed) return undefined;
    try {
      const result = await op();
      return this.#closed ? undefined : result;
    } catch (error) {
      if (!this.#closed && !isGoneError(error)) throw error;
      this.close();
      return undefined;
    }
  }
}

/** A fault-injecting TCP proxy on loopback; see the module doc. */
export class FaultProxy {
  /** Where the proxy listens; connect here instead of to the target. */
  readonly address: InetAddressAndPort;
  /** Where connections are forwarded. */
  readonly target: InetAddressAndPort;
  readonly #listener: Deno.TcpListener;
  readonly #state: ProxyState;
  readonly #connections = new Set<ProxiedConnection>();
  readonly #tasks = new Set<Promise<void>>();
  #acceptLoop: Promise<void> = Promise.resolve();
  #connectionsAccepted = 0;
  #closed = false;

  private constructor(listener: Deno.TcpListener, state: ProxyState) {
    this.#listener = listener;
    this.#state = state;
    this.address = { host: listener.addr.hostname, port: listener.addr.port };
    this.target = state.target;
  }

  /**
   * Listens on `listenHost:listenPort` and starts forwarding to `target`.
   * @throws {RangeError} when an address is not on 127.0.0.0/8 or a bound is not positive
   */
  static start(options: FaultProxyOptions): Promise<FaultProxy> {
    try {
      return Promise.resolve(FaultProxy.#listen(options));
    } catch (error) {
      return Promise.reject(error);
    }
  }

  static #listen(options: FaultProxyOptions): FaultProxy {
    const listenHost = options.listenHost ?? "127.0.0.1";
    checkLoopback("listen host", listenHost);
    checkLoopback("target host", options.target.host);
    const readBufferSizeBytes = options.readBufferSizeBytes ??
      FAULT_PROXY_READ_BUFFER_SIZE_BYTES_DEFAULT;
    const queueCapacityBytes = options.queueCapacityBytes ??
      FAULT_PROXY_QUEUE_CAPACITY_BYTES_DEFAULT;
    checkPositive("readBufferSizeBytes", readBufferSizeBytes);
    checkPositive("queueCapacityBytes", queueCapacityBytes);
    const listener = Deno.listen({ hostname: listenHost, port: options.listenPort ?? 0 });
    const proxy = new FaultProxy(listener, {
      target: { host: options.target.host, port: options.target.port },
      clock: options.clock ?? new SystemClock(),
      faults: new FaultBook(options.random ?? new Random(FAULT_PROXY_SEED_DEFAULT)),
      readBufferSizeBytes,
      queueCapacityBytes,
      errors: [],
      delayMs: 0,
      stalled: false,
      framesForwarded: 0,
      bytesToAcceptor: 0,
      bytesToInitiator: 0,
      targetConnectFailures: 0,
    });
    proxy.#acceptLoop = proxy.#accept();
    return proxy;
  }

  /** Flips one bit inside the payload of each of the next `count` non-empty frames. */
  corruptNextFramePayload(options: FrameFaultOptions = {}): void {
    this.#addFrameFault("payload", options);
  }

  /** Flips one length/flag bit in the header of each of the next `count` frames (CRC24 fails). */
  corruptNextFrameHeader(options: FrameFaultOptions = {}): void {
    this.#addFrameFault("header", options);
  }

  /** Flips one bit at a stream offset of the next matching connection that reaches it. */
  flipBitAtOffset(options: OffsetFaultOptions): void {
    const bit = options.bit ?? 0;
    if (!Number.isSafeInteger(options.offset) || options.offset < 0) {
      throw new RangeError(
        `Cannot add fault: offset must be an integer >= 0, got ${options.offset}`,
      );
    }
    if (!Number.isInteger(bit) || bit < 0 || bit > 7) {
      throw new RangeError(`Cannot add fault: bit must be 0..7, got ${bit}`);
    }
    this.#state.faults.offsetFaults.push({ type: options.type, offset: options.offset, bit });
  }

  /** Drops every fault not applied yet. */
  clearFaults(): void {
    const faults = this.#state.faults;
    faults.frameFaults.payload.length = 0;
    faults.frameFaults.header.length = 0;
    faults.offsetFaults.length = 0;
  }

  /** Delays bytes read from now on by `delayMs` in both directions (0 turns delay off). */
  setDelay(delayMs: number): void {
    if (!Number.isFinite(delayMs) || delayMs < 0) {
      throw new RangeError(`Cannot set delay: delayMs must be finite and >= 0, got ${delayMs}`);
    }
    this.#state.delayMs = delayMs;
  }

  /** Stops forwarding and reading in both directions until {@linkcode resume}. */
  stall(): void {
    this.#state.stalled = true;
  }

  /** Forwards again after {@linkcode stall}, held bytes first. */
  resume(): void {
    this.#state.stalled = false;
    for (const connection of this.#connections) connection.wake();
  }

  /** Closes every proxied connection on both sides; the proxy keeps accepting new ones. */
  cutAll(): void {
    for (const connection of this.#connections) connection.close();
  }

  /** Closes the listener and every connection, and waits until all of them are done. */
  async close(): Promise<void> {
    if (!this.#closed) {
      this.#closed = true;
      closeQuietly(this.#listener);
      this.cutAll();
    }
    await this.#acceptLoop;
    while (this.#tasks.size > 0) await Promise.all(this.#tasks);
    const errors = this.#state.errors;
    if (errors.length > 0) {
      throw new AggregateError(errors, `Cannot close fault proxy cleanly: ${errors.length} errors`);
    }
  }

  /** Same as {@linkcode close}, for `await using`. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  /** Current delay in ms. */
  get delayMs(): number {
    return this.#state.delayMs;
  }

  /** Whether forwarding is stalled. */
  get stalled(): boolean {
    return this.#state.stalled;
  }

  /** Connections accepted so far. */
  get connectionsAccepted(): number {
    return this.#connectionsAccepted;
  }

  /** Proxied connections not closed yet. */
  get openConnections(): number {
    return this.#connections.size;
  }

  /** Accepted connections closed because the target refused or timed out. */
  get targetConnectFailures(): number {
    return this.#state.targetConnectFailures;
  }

  /** Frames written whole to acceptors (initiator→acceptor direction). */
  get framesForwarded(): number {
    return this.#state.framesForwarded;
  }

  /** Frames damaged so far, per kind. */
  get framesCorrupted(): FramesCorrupted {
    const { payload, header } = this.#state.faults.corrupted;
    return { payload, header };
  }

  /** Bits flipped by {@linkcode flipBitAtOffset} so far. */
  get bytesFlipped(): number {
    return this.#state.faults.bytesFlipped;
  }

  /** Bytes written so far, per direction. */
  get bytesForwarded(): BytesForwarded {
    return {
      initiatorToAcceptor: this.#state.bytesToAcceptor,
      acceptorToInitiator: this.#state.bytesToInitiator,
    };
  }

  #addFrameFault(kind: FrameFaultKind, options: FrameFaultOptions): void {
    const count = options.count ?? 1;
    if (!Number.isSafeInteger(count) || count < 1) {
      throw new RangeError(`Cannot add fault: count must be an integer >= 1, got ${count}`);
    }
    this.#state.faults.frameFaults[kind].push({ type: options.type, remaining: count });
  }

  async #accept(): Promise<void> {
    for (;;) {
      let conn: Deno.TcpConn;
      try {
        conn = await this.#listener.accept();
      } catch (error) {
        if (!this.#closed && !isGoneError(error)) this.#state.errors.push(error);
        return;
      }
      if (this.#closed) {
        closeQuietly(conn);
        return;
      }
      this.#connectionsAccepted++;
      const connection = new ProxiedConnection(this.#state, conn);
      this.#connections.add(connection);
      const task: Promise<void> = connection.run().finally(() => {
        this.#connections.delete(connection);
        this.#tasks.delete(task);
      });
      this.#tasks.add(task);
    }
  }
}

function checkLoopback(what: string, host: string): void {
  const parts = host.split(".");
  const ok = parts.length === 4 && parts[0] === "127" &&
    parts.every((part) => /^\d{1,3}$/.test(part) && Number(part) <= 255);
  if (!ok) {
    throw new RangeError(`Cannot start fault proxy: ${what} ${host} is not on 127.0.0.0/8`);
  }
}

function checkPositive(what: string, value: number): void {
  if (!Number.isSafeInteger(value) || value < 1) {
    throw new RangeError(`Cannot start fault proxy: ${what} must be an integer >= 1, got ${value}`);
  }
}

function setNoDelay(conn: Deno.TcpConn): void {
  try {
    conn.setNoDelay(true);
  } catch (error) {
    // Reset before we got to it: the first read or write reports it.
    if (!isGoneError(error)) throw error;
  }
}

function isTimeout(error: unknown): boolean {
  return error instanceof Deno.errors.TimedOut;
}

/** The connection is gone: reset by the peer, or closed or aborted by us during an op. */
function isGoneError(error: unknown): boolean {
  return error instanceof Deno.errors.ConnectionReset ||
    error instanceof Deno.errors.BrokenPipe ||
    error instanceof Deno.errors.ConnectionAborted ||
    error instanceof Deno.errors.NotConnected ||
    error instanceof Deno.errors.BadResource ||
    error instanceof Deno.errors.Interrupted ||
    (error instanceof DOMException && error.name === "AbortError");
}

function closeQuietly(resource: { close(): void }): void {
  try {
    resource.close();
  } catch (error) {
    // Already closed by Deno (e.g. after a failed op): the goal, a closed resource, holds.
    if (!(error instanceof Deno.errors.BadResource)) throw error;
  }
}
