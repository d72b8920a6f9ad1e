/**
 * One outbound link to a peer (PROTOCOL.md §7): urgent, small or large. It owns a queue with
 * byte-based capacity, connects (through the handshake) when it has something to send, writes
 * with one write in flight, and keeps every bound of §7: per-link capacity then the endpoint
 * and global reserves, expiry at enqueue / dequeue / every 100 ms while disconnected, reconnect
 * backoff up to 1 s, the application timeout for a connection that stops taking bytes, and a
 * draining close.
 *
 * Small and urgent links pack queued messages into frames of up to 64 KiB; the large link
 * serializes one message at a time and writes it as 32 KiB frames. A version-11 link writes the
 * legacy stream: messages back to back, no frames.
 *
 * @module
 */

import type { Clock, Timer } from "../clock.ts";
import type { FramingKind } from "../wire/frame_encoder.ts";
import { formatInetAddress, type InetAddressAndPort } from "../wire/inet_address.ts";
import {
  ConnectionClosedError,
  MessageExpiredError,
  OverloadedError,
  SendFailedError,
} from "./errors.ts";
import type { OutboundMetrics } from "./link_metrics.ts";
import type { MessagingConfig } from "./messaging_config.ts";
import { type FrameSource, OutboundFrameBuilder } from "./outbound_frame_builder.ts";
import { OutboundQueue, type QueuedMessage } from "./outbound_queue.ts";
import type { EndpointAndGlobalReserve } from "./resource_limit.ts";
import type { Connection } from "./transport.ts";
import type { Message } from "../wire/message.ts";

/** The three links of a peer. */
export type LinkType = "urgent" | "small" | "large";

/** A connection that completed its handshake, and what was agreed. */
export interface EstablishedConnection {
  /** The byte stream. */
  readonly connection: Connection;
  /** Negotiated messaging version. */
  readonly version: number;
  /** Framing of version-12 links (ignored at version 11). */
  readonly framing: FramingKind;
}

/** Callbacks from a link to its messaging service. */
export interface OutboundLinkHooks {
  /** Opens a transport connection and runs the initiator handshake. */
  connect(type: LinkType): Promise<EstablishedConnection>;
  /** A message will never be sent (overload, expiry, failure): fail its callback, if any. */
  onDropped(message: Message, error: Error): void;
  /** A connection attempt failed (for logs and failure detection). */
  onConnectFailed?(type: LinkType, error: unknown): void;
  /** An established connection was closed by the peer or the network (not by us). */
  onConnectionLost?(type: LinkType): void;
}

/** Options of an {@link OutboundLink}. */
export interface OutboundLinkOptions {
  /** The peer. */
  readonly peer: InetAddressAndPort;
  /** Which link this is. */
  readonly type: LinkType;
  /** Our internode address (written into version-11 messages). */
  readonly localAddress: InetAddressAndPort;
  /** Injected time. */
  readonly clock: Clock;
  /** Bounds and timeouts. */
  readonly config: MessagingConfig;
  /** The peer's endpoint reserve and the global send reserve. */
  readonly reserve: EndpointAndGlobalReserve;
  /** This link's counters. */
  readonly metrics: OutboundMetrics;
  /** Connection and failure callbacks. */
  readonly hooks: OutboundLinkHooks;
}

type State =
  | { readonly kind: "idle" }
  | { readonly kind: "connecting" }
  | { readonly kind: "established"; readonly established: EstablishedConnection }
  | { readonly kind: "closed" };

/** One outbound link. */
export class OutboundLink {
  /** Which link this is. */
  readonly type: LinkType;
  readonly #peer: InetAddressAndPort;
  readonly #peerKey: string;
  readonly #from: InetAddressAndPort;
  readonly #clock: Clock;
  readonly #config: MessagingConfig;
  readonly #reserve: EndpointAndGlobalReserve;
  readonly #metrics: OutboundMetrics;
  readonly #hooks: OutboundLinkHooks;
  readonly #queue = new OutboundQueue();
  #state: State = { kind: "idle" };
  /** Consecutive failed connect attempts; the link refuses reserve capacity while > 0. */
  #failedAttempts = 0;
  #retryDelayMs: number;
  #reconnectTimer: Timer | undefined;
  #pruneTimer: Timer | undefined;
  #idleTimer: Timer | undefined;
  #flushing = false;
  #flushScheduled = false;
  #reconnectRequested = false;
  readonly #builder: OutboundFrameBuilder;
  readonly #source: FrameSource;
  #draining: Array<() => void> = [];
  readonly #batch: QueuedMessage[] = [];

  constructor(options: OutboundLinkOptions) {
    this.type = options.type;
    this.#peer = options.peer;
    this.#peerKey = formatInetAddress(options.peer);
    this.#from = options.localAddress;
    this.#clock = options.clock;
    this.#config = options.config;
    this.#reserve = options.reserve;
    this.#metrics = options.metrics;
    this.#hooks = options.hooks;
    this.#retryDelayMs = options.config.reconnectDelayMsMin;
    this.#builder = new OutboundFrameBuilder(options.type, options.config, options.localAddress);
    this.#source = {
      nowMs: () => this.#clock.nowMs(),
      next: (nowMs) => this.#nextLive(nowMs),
      putBack: (item) => this.#queue.unshift(item),
      fail: (item, error) => this.#fail(item, error),
    };
  }

  /** Messages waiting to be written. */
  get pendingCount(): number {
    return this.#queue.length;
  }

  /** Whether a connection is established. */
  get connected(): boolean {
    return this.#state.kind === "established";
  }

  /** The negotiated version of the current connection, if any. */
  get version(): number | undefined {
    return this.#state.kind === "established" ? this.#state.established.version : undefined;
  }

  /**
   * Queues `message` (its serialized size at our highest version is `sizeBytes`), or drops it as
   * overloaded (reported through `hooks.onDropped`) when neither the link nor the reserves have
   * room for it.
   * @returns whether the message was queued
   */
  enqueue(message: Message, sizeBytes: number): boolean {
    if (this.#state.kind === "closed") {
      this.#hooks.onDropped(
        message,
        new SendFailedError(`Cannot send ${message.verb.name} to ${this.#peerKey}: link closed`),
      );
      return false;
    }
    let reserveBytes = this.#acquire(sizeBytes);
    if (reserveBytes < 0) {
      // Short of capacity: expired messages may be holding it.
      this.#pruneExpired();
      reserveBytes = this.#acquire(sizeBytes);
    }
    if (reserveBytes < 0) {
      this.#metrics.overloadCount++;
      this.#metrics.overloadBytes += sizeBytes;
      this.#hooks.onDropped(
        message,
        new OverloadedError(
          `Cannot send ${message.verb.name} to ${this.#peerKey}: the ${this.type} link and its reserves are full`,
        ),
      );
      return false;
    }
    this.#queue.push({ message, sizeBytes, reserveBytes });
    this.#metrics.pendingCount++;
    this.#metrics.pendingBytes += sizeBytes;
    this.#metrics.usingReserveBytes += reserveBytes;
    this.#wake();
    return true;
  }

  /** Bytes taken from the reserves for a message of `sizeBytes`, or -1 if it cannot be had. */
  #acquire(sizeBytes: number): number {
    const capacity = this.#config.sendQueueCapacityBytes;
    const pending = this.#metrics.pendingBytes;
    if (pending + sizeBytes <= capacity) return 0;
    // A link that cannot connect keeps to its own budget: it must not starve healthy peers.
    if (this.#failedAttempts > 0) return -1;
    const excess = Math.min(sizeBytes, pending + sizeBytes - capacity);
    return this.#reserve.tryAllocate(excess) === "success" ? excess : -1;
  }

  #release(item: QueuedMessage): void {
    this.#metrics.pendingCount--;
    this.#metrics.pendingBytes -= item.sizeBytes;
    if (item.reserveBytes > 0) {
      this.#metrics.usingReserveBytes -= item.reserveBytes;
      this.#reserve.release(item.reserveBytes);
    }
  }

  #expire(item: QueuedMessage): void {
    this.#release(item);
    this.#metrics.expiredCount++;
    this.#metrics.expiredBytes += item.sizeBytes;
    this.#hooks.onDropped(
      item.message,
      new MessageExpiredError(
        `Cannot send ${item.message.verb.name} to ${this.#peerKey}: it expired while queued`,
      ),
    );
  }

  #fail(item: QueuedMessage, error: Error): void {
    this.#release(item);
    this.#metrics.errorCount++;
    this.#metrics.errorBytes += item.sizeBytes;
    this.#hooks.onDropped(item.message, error);
  }

  #pruneExpired(): void {
    for (const item of this.#queue.removeExpired(this.#clock.nowMs())) this.#expire(item);
  }

  /** Something was queued: connect or flush. */
  #wake(): void {
    this.#idleTimer?.cancel();
    this.#idleTimer = undefined;
    switch (this.#state.kind) {
      case "established":
        if (!this.#flushScheduled && !this.#flushing) {
          this.#flushScheduled = true;
          queueMicrotask(this.#flush);
        }
        return;
      case "idle":
        if (this.#reconnectTimer === undefined) this.#connect();
        return;
      default:
        return;
    }
  }

  #connect(): void {
    this.#state = { kind: "connecting" };
    this.#metrics.connectionAttempts++;
    this.#hooks.connect(this.type).then(
      (established) => this.#onConnected(established),
      (error) => this.#onConnectFailed(error),
    );
  }

  #onConnected(established: EstablishedConnection): void {
    if (this.#state.kind === "closed") {
      established.connection.close();
      return;
    }
    this.#failedAttempts = 0;
    this.#retryDelayMs = this.#config.reconnectDelayMsMin;
    this.#metrics.successfulConnectionAttempts++;
    this.#metrics.activeConnections = 1;
    this.#stopPruning();
    this.#state = { kind: "established", established };
    this.#watch(established.connection);
    this.#wake();
    if (this.#queue.length === 0) this.#armIdle();
  }

  /** Reads the connection only to learn when the peer closes it. */
  async #watch(connection: Connection): Promise<void> {
    try {
      while ((await connection.read()) !== null) { /* the acceptor sends nothing after Accept */ }
    } catch {
      // A reset: the connection is gone all the same.
    }
    const state = this.#state;
    const lost = state.kind === "established" && state.established.connection === connection;
    this.#onDisconnected(connection);
    if (lost) this.#hooks.onConnectionLost?.(this.type);
  }

  #onDisconnected(connection: Connection): void {
    connection.close();
    const state = this.#state;
    if (state.kind !== "established" || state.established.connection !== connection) return;
    this.#metrics.activeConnections = 0;
    this.#state = { kind: "idle" };
    this.#idleTimer?.cancel();
    this.#idleTimer = undefined;
    if (this.#queue.length > 0) this.#wake();
    else this.#resolveDrained();
  }

  #onConnectFailed(error: unknown): void {
    if (this.#state.kind === "closed") return;
    this.#state = { kind: "idle" };
    this.#failedAttempts++;
    this.#hooks.onConnectFailed?.(this.type, error);
    if (this.#draining.length > 0) {
      // Closing: the peer cannot be reached, so stop draining rather than wait for expiry.
      void this.close(false);
      return;
    }
    if (this.#queue.length === 0) return;
    // Retry while messages wait: max(min, r), r doubling up to the ceiling.
    const delayMs = Math.max(this.#config.reconnectDelayMsMin, this.#retryDelayMs);
    this.#retryDelayMs = Math.min(this.#config.reconnectDelayMsMax, this.#retryDelayMs * 2);
    this.#reconnectTimer = this.#clock.setTimer(() => {
      this.#reconnectTimer = undefined;
      if (this.#state.kind !== "idle") return;
      this.#pruneExpired();
      if (this.#queue.length > 0) this.#connect();
      else this.#resolveDrained();
    }, delayMs);
    this.#startPruning();
  }

  /** While disconnected with messages waiting, drops the expired ones every 100 ms. */
  #startPruning(): void {
    if (this.#pruneTimer !== undefined) return;
    const tick = () => {
      this.#pruneTimer = undefined;
      if (this.#state.kind === "established" || this.#state.kind === "closed") return;
      this.#pruneExpired();
      if (this.#queue.length === 0) {
        this.#resolveDrained();
        return;
      }
      this.#pruneTimer = this.#clock.setTimer(tick, this.#config.expiryPruneIntervalMs);
    };
    this.#pruneTimer = this.#clock.setTimer(tick, this.#config.expiryPruneIntervalMs);
  }

  #stopPruning(): void {
    this.#pruneTimer?.cancel();
    this.#pruneTimer = undefined;
  }

  #armIdle(): void {
    if (this.#idleTimer !== undefined || this.#draining.length > 0) return;
    this.#idleTimer = this.#clock.setTimer(() => {
      this.#idleTimer = undefined;
      const state = this.#state;
      if (state.kind === "established" && this.#queue.length === 0 && !this.#flushing) {
        // Dormant: an idle link holds no connection.
        this.#onDisconnected(state.established.connection);
      }
    }, this.#config.idleConnectionTimeoutMs);
  }

  /** The peer's version changed: finish the write in flight, then reconnect at the new one. */
  reconnect(): void {
    const state = this.#state;
    if (state.kind !== "established") return;
    if (this.#flushing) this.#reconnectRequested = true;
    else this.#onDisconnected(state.established.connection);
  }

  readonly #flush = async (): Promise<void> => {
    this.#flushScheduled = false;
    if (this.#flushing) return;
    this.#flushing = true;
    try {
      while (this.#queue.length > 0 && !this.#reconnectRequested) {
        const state = this.#state;
        if (state.kind !== "established") break;
        const ok = await this.#writeNext(state.established);
        if (!ok) break;
      }
    } finally {
      this.#flushing = false;
    }
    const state = this.#state;
    if (this.#reconnectRequested && state.kind === "established") {
      this.#reconnectRequested = false;
      this.#onDisconnected(state.established.connection);
      return;
    }
    if (this.#queue.length === 0) {
      this.#builder.releaseFrameBuffer();
      this.#resolveDrained();
      if (this.#state.kind === "established") this.#armIdle();
    } else if (this.#state.kind === "established") this.#wake();
  };

  /** Builds and writes the next frame (or legacy batch); false when the connection failed. */
  async #writeNext(established: EstablishedConnection): Promise<boolean> {
    // One write in flight: the batch array is reused from frame to frame.
    const batch = this.#batch;
    batch.length = 0;
    const chunks = this.#builder.build(established, this.#source, batch);
    if (chunks.length === 0) return true;
    try {
      for (const chunk of chunks) await this.#writeWithTimeout(established.connection, chunk);
    } catch (cause) {
      const error = new SendFailedError(
        `Cannot send to ${this.#peerKey}: the ${this.type} connection failed`,
        { cause },
      );
      for (const item of batch) this.#fail(item, error);
      batch.length = 0;
      const state = this.#state;
      const lost = state.kind === "established" &&
        state.established.connection === established.connection;
      this.#onDisconnected(established.connection);
      // A write that failed on a live link is a lost connection too (the watcher will not
      // report it: the link is idle by the time its read ends).
      if (lost) this.#hooks.onConnectionLost?.(this.type);
      return false;
    }
    for (const item of batch) {
      this.#release(item);
      this.#metrics.sentCount++;
      this.#metrics.sentBytes += item.sizeBytes;
    }
    // The batch array is reused; its items must not outlive the write (an idle link would pin
    // its last messages, payloads and all).
    batch.length = 0;
    return true;
  }

  /** Takes the next queued message that has not expired at `nowMs`; drops expired ones. */
  #nextLive(nowMs: number): QueuedMessage | undefined {
    for (let item = this.#queue.shift(); item !== undefined; item = this.#queue.shift()) {
      if (item.message.expiresAtMs > nowMs) return item;
      this.#expire(item);
    }
    return undefined;
  }

  /** A write that does not finish within the application timeout closes the connection. */
  async #writeWithTimeout(connection: Connection, bytes: Uint8Array): Promise<void> {
    const timer = this.#clock.setTimer(() => connection.close(), this.#config.applicationTimeoutMs);
    try {
      await connection.write(bytes);
    } finally {
      timer.cancel();
    }
  }

  /**
   * Closes the link. With `drain`, queued messages are written first (or expire); without,
   * they fail at once. Either way no further message is accepted.
   */
  async close(drain: boolean): Promise<void> {
    // A write in flight holds messages already taken off the queue: wait for it too, or the
    // close would cut them off (a GOSSIP_SHUTDOWN sent just before exit, say). A link whose
    // connects fail does not wait: its queue would only empty by expiry (minutes).
    if (
      drain && (this.#queue.length > 0 || this.#flushing) && this.#state.kind !== "closed" &&
      (this.#state.kind === "established" || this.#failedAttempts === 0)
    ) {
      await new Promise<void>((resolve) => this.#draining.push(resolve));
    }
    const state = this.#state;
    this.#state = { kind: "closed" };
    this.#reconnectTimer?.cancel();
    this.#reconnectTimer = undefined;
    this.#idleTimer?.cancel();
    this.#idleTimer = undefined;
    this.#stopPruning();
    if (state.kind === "established") state.established.connection.close();
    this.#metrics.activeConnections = 0;
    const error = new ConnectionClosedError(`Cannot send to ${this.#peerKey}: link closed`);
    for (const item of this.#queue.drain()) this.#fail(item, error);
    // Whoever still waits for a drain (a close that timed out and closed again) goes on.
    const waiters = this.#draining;
    this.#draining = [];
    for (const resolve of waiters) resolve();
  }

  #resolveDrained(): void {
    if (this.#queue.length > 0 || this.#flushing || this.#draining.length === 0) return;
    const waiters = this.#draining;
    this.#draining = [];
    for (const resolve of waiters) resolve();
  }
}
