/**
 * One inbound connection after its handshake: reads the byte stream, turns it into messages
 * (framed or legacy), and hands each to the messaging service, within receive capacity.
 *
 * Order of checks per message (PROTOCOL.md §5, §7): size (the reader enforces the maximum),
 * expiry (an expired message is skipped unread), verb (an unknown verb is skipped by its size
 * and, when asked, answered with FAILURE_RSP), capacity (without it the link stops reading its
 * socket until capacity returns), then deserialization (a bad payload is skipped and answered
 * like an unknown verb). Corrupt frames are counted; a header-corrupt frame closes the link.
 *
 * @module
 */

import type { Clock } from "../clock.ts";
import { WireError } from "../wire/errors.ts";
import type { FramingKind } from "../wire/frame_encoder.ts";
import { FramedMessageReader } from "../wire/framed_message_reader.ts";
import type { InboundEvent, MessageReader } from "../wire/inbound_event.ts";
import { formatInetAddress, type InetAddressAndPort } from "../wire/inet_address.ts";
import { LegacyMessageReader } from "../wire/legacy_message_reader.ts";
import { type Message, MessageFlag, VERSION_12 } from "../wire/message.ts";
import { decodeScannedMessage, DEFAULT_LEGACY_TIMEOUT_MS } from "../wire/message_codec.ts";
import { expiresAtMsOf, type MessageHeader } from "../wire/message_header.ts";
import { RequestFailureReason } from "../wire/payload_serializers.ts";
import type { VerbLookup } from "../wire/verb.ts";
import type { InboundMetrics } from "./link_metrics.ts";
import type { MessagingConfig } from "./messaging_config.ts";
import type { ReceiveCapacity } from "./receive_capacity.ts";
import type { Connection } from "./transport.ts";

/** What the link needs from its messaging service. */
export interface InboundLinkHooks {
  /**
   * Handles a received message; `release` must be called once it has been processed (it
   * returns the message's receive capacity). A returned promise means "full: wait": the link
   * reads nothing more until it resolves.
   */
  deliver(
    message: Message,
    from: InetAddressAndPort,
    sizeBytes: number,
    release: () => void,
  ): undefined | Promise<void>;
  /** Answers request `id` from `from` with FAILURE_RSP(`reason`), expiring at `expiresAtMs`. */
  respondFailure(id: number, from: InetAddressAndPort, reason: number, expiresAtMs: number): void;
  /** The link ended (peer closed, corruption, or close()). */
  onClosed?(link: InboundLink, error: Error | undefined): void;
}

/** Options of an {@link InboundLink}. */
export interface InboundLinkOptions {
  /** The established connection. */
  readonly connection: Connection;
  /** The peer, as its handshake named it (its listening address). */
  readonly peer: InetAddressAndPort;
  /** Negotiated messaging version. */
  readonly version: number;
  /** Framing of a version-12 link. */
  readonly framing: FramingKind;
  /** Bytes that arrived with the handshake and belong to the stream. */
  readonly leftover: Uint8Array | undefined;
  /** Injected time. */
  readonly clock: Clock;
  /** Bounds. */
  readonly config: MessagingConfig;
  /** Verbs this node knows. */
  readonly verbs: VerbLookup;
  /** This connection's receive budget in front of the reserves. */
  readonly capacity: ReceiveCapacity;
  /** The peer's inbound counters (shared by its connections). */
  readonly metrics: InboundMetrics;
  /** Delivery and failure answers. */
  readonly hooks: InboundLinkHooks;
}

/** Reads one inbound connection until it ends. */
export class InboundLink {
  /** The peer. */
  readonly peer: InetAddressAndPort;
  readonly #options: InboundLinkOptions;
  readonly #reader: MessageReader;
  readonly #legacyPort: number;
  #closed = false;
  /** Clock reading shared by the messages of one chunk (a read costs ≈45 ns). */
  #nowMs = 0;
  /** Capacity held for a large message being gathered: [bytes, reserveBytes]. */
  #largeHeld: [number, number] | undefined;

  constructor(options: InboundLinkOptions) {
    this.#options = options;
    this.peer = options.peer;
    this.#legacyPort = options.peer.port;
    const readerOptions = {
      version: options.version,
      maxMessageSizeBytes: options.config.maxMessageSizeBytes,
    };
    this.#reader = options.version >= VERSION_12
      ? new FramedMessageReader(options.framing, readerOptions)
      : new LegacyMessageReader({
        ...readerOptions,
        largeThresholdBytes: options.config.largeMessageThresholdBytes,
      });
  }

  /** Reads until the connection ends; never throws. */
  async run(): Promise<void> {
    const { connection, leftover } = this.#options;
    let error: Error | undefined;
    try {
      if (leftover !== undefined && leftover.length > 0) {
        this.#reader.push(leftover);
        await this.#drain();
      }
      while (!this.#closed && !this.#reader.failed) {
        const chunk = await connection.read();
        if (chunk === null) break;
        this.#reader.push(chunk);
        error = await this.#drain();
        if (error !== undefined) break;
      }
    } catch (cause) {
      error = cause instanceof Error ? cause : new Error(String(cause));
    } finally {
      this.close();
      this.#options.hooks.onClosed?.(this, error);
    }
  }

  /** Closes the connection; messages already delivered still complete. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#options.connection.close();
    if (this.#largeHeld !== undefined) {
      this.#options.capacity.release(...this.#largeHeld);
      this.#largeHeld = undefined;
    }
  }

  /**
   * Processes every event available; returns the error that ends the stream, if any. Events
   * are handled synchronously; only a wait for capacity makes this suspend (a promise per
   * message would cost more than the message itself).
   */
  async #drain(): Promise<Error | undefined> {
    this.#nowMs = this.#options.clock.nowMs();
    for (let event = this.#reader.next(); event !== undefined; event = this.#reader.next()) {
      let outcome = this.#onEvent(event);
      if (outcome instanceof Promise) outcome = await outcome;
      if (outcome !== undefined) return outcome;
      if (this.#closed) return undefined;
    }
    return undefined;
  }

  #onEvent(event: InboundEvent): Error | undefined | Promise<Error | undefined> {
    const metrics = this.#options.metrics;
    switch (event.kind) {
      case "message":
        return this.#onMessage(event.header, event.buf, event.offset, event.end);
      case "large-begin":
        return this.#onLargeBegin(event.header, event.sizeBytes);
      case "oversized":
        metrics.receivedCount++;
        metrics.receivedBytes += event.sizeBytes;
        metrics.errorCount++;
        metrics.errorBytes += event.sizeBytes;
        return undefined;
      case "corrupt-frame":
        metrics.corruptFramesRecovered++;
        if (event.largeMessageLost) this.#releaseLarge();
        return undefined;
      case "malformed":
        metrics.errorCount++;
        metrics.errorBytes += event.skippedBytes;
        return undefined;
      case "fatal":
        if (event.error.name.startsWith("CorruptFrame")) metrics.corruptFramesUnrecovered++;
        else metrics.errorCount++;
        this.#releaseLarge();
        return event.error;
    }
  }

  #releaseLarge(): void {
    if (this.#largeHeld === undefined) return;
    this.#options.capacity.release(...this.#largeHeld);
    this.#largeHeld = undefined;
  }

  /** Expiry and verb checks shared by whole and large messages; true when it must be skipped. */
  #skip(header: MessageHeader, sizeBytes: number, nowMs: number): boolean {
    const { metrics, verbs, hooks } = this.#options;
    const verb = verbs.byId(header.verbId);
    const expiresAtMs = expiresAtMsOf(
      header,
      nowMs,
      verb?.timeoutMs ?? DEFAULT_LEGACY_TIMEOUT_MS,
    );
    if (expiresAtMs <= nowMs) {
      metrics.expiredCount++;
      metrics.expiredBytes += sizeBytes;
      return true;
    }
    if (verb === undefined) {
      metrics.errorCount++;
      metrics.errorBytes += sizeBytes;
      if (header.flags & MessageFlag.CALL_BACK_ON_FAILURE) {
        hooks.respondFailure(header.id, this.peer, RequestFailureReason.UNKNOWN, expiresAtMs);
      }
      return true;
    }
    if (verb.maxSizeBytes !== undefined && sizeBytes > verb.maxSizeBytes) {
      // Bigger than this verb can legitimately be: dropped before it costs a decode.
      metrics.errorCount++;
      metrics.errorBytes += sizeBytes;
      if (header.flags & MessageFlag.CALL_BACK_ON_FAILURE) {
        hooks.respondFailure(
          header.id,
          this.peer,
          RequestFailureReason.INVALID_REQUEST,
          expiresAtMs,
        );
      }
      return true;
    }
    return false;
  }

  #onLargeBegin(header: MessageHeader, sizeBytes: number): undefined | Promise<undefined> {
    const { metrics, capacity } = this.#options;
    if (this.#skip(header, sizeBytes, this.#nowMs)) {
      metrics.receivedCount++;
      metrics.receivedBytes += sizeBytes;
      this.#reader.discardLarge();
      return undefined;
    }
    const reserveBytes = capacity.tryAcquire(sizeBytes);
    if (reserveBytes >= 0) {
      this.#largeHeld = [sizeBytes, reserveBytes];
      return undefined;
    }
    return this.#acquire(sizeBytes).then((reserved) => {
      this.#largeHeld = [sizeBytes, reserved];
      return undefined;
    });
  }

  #onMessage(
    header: MessageHeader,
    buf: Uint8Array,
    offset: number,
    end: number,
  ): undefined | Promise<undefined> {
    const { metrics, capacity } = this.#options;
    const sizeBytes = end - offset;
    metrics.receivedCount++;
    metrics.receivedBytes += sizeBytes;
    const held = this.#largeHeld;
    if (held !== undefined) {
      // A large message whose capacity was taken when its first frame arrived.
      this.#largeHeld = undefined;
      return settle(this.#accept(header, buf, offset, end, held[0], held[1]));
    }
    if (this.#skip(header, sizeBytes, this.#nowMs)) return undefined;
    const reserveBytes = capacity.tryAcquire(sizeBytes);
    if (reserveBytes >= 0) {
      return settle(this.#accept(header, buf, offset, end, sizeBytes, reserveBytes));
    }
    return this.#acceptAfterWait(header, buf, offset, end);
  }

  /** No capacity: stop reading until there is some, then re-check expiry and go on. */
  async #acceptAfterWait(
    header: MessageHeader,
    buf: Uint8Array,
    offset: number,
    end: number,
  ): Promise<undefined> {
    const sizeBytes = end - offset;
    const reserveBytes = await this.#acquire(sizeBytes);
    this.#nowMs = this.#options.clock.nowMs();
    if (this.#skip(header, sizeBytes, this.#nowMs)) {
      this.#options.capacity.release(sizeBytes, reserveBytes);
      return undefined;
    }
    await this.#accept(header, buf, offset, end, sizeBytes, reserveBytes);
    return undefined;
  }

  /** Deserializes a message that holds its capacity and hands it over. */
  #accept(
    header: MessageHeader,
    buf: Uint8Array,
    offset: number,
    end: number,
    bytes: number,
    reserveBytes: number,
  ): undefined | Promise<void> {
    const { metrics, capacity, config, verbs, hooks } = this.#options;
    const sizeBytes = end - offset;
    metrics.usingBytes += bytes;
    metrics.usingReserveBytes += reserveBytes;
    let released = false;
    const release = () => {
      if (released) return;
      released = true;
      metrics.usingBytes -= bytes;
      metrics.usingReserveBytes -= reserveBytes;
      capacity.release(bytes, reserveBytes);
    };
    let message: Message;
    try {
      message = decodeScannedMessage(buf, offset, end, header, this.#options.version, {
        verbs,
        nowMs: this.#nowMs,
        legacyPort: this.#legacyPort,
      });
    } catch (error) {
      release();
      if (!(error instanceof WireError)) throw error;
      metrics.errorCount++;
      metrics.errorBytes += sizeBytes;
      if (header.flags & MessageFlag.CALL_BACK_ON_FAILURE) {
        const verb = verbs.byId(header.verbId);
        const expiresAtMs = expiresAtMsOf(
          header,
          this.#nowMs,
          verb?.timeoutMs ?? config.applicationTimeoutMs,
        );
        hooks.respondFailure(header.id, this.peer, failureReasonOf(error), expiresAtMs);
      }
      return undefined;
    }
    return hooks.deliver(message, this.peer, sizeBytes, release);
  }

  /** Waits for capacity, not reading the socket meanwhile; counts the throttling. */
  async #acquire(sizeBytes: number): Promise<number> {
    const { capacity, metrics, clock } = this.#options;
    const immediate = capacity.tryAcquire(sizeBytes);
    if (immediate >= 0) return immediate;
    metrics.throttledCount++;
    const startNs = clock.monotonicNs();
    const reserveBytes = await capacity.acquire(sizeBytes);
    metrics.throttledNanos += clock.monotonicNs() - startNs;
    return reserveBytes;
  }

  /** `host:port` of the peer. */
  get peerKey(): string {
    return formatInetAddress(this.peer);
  }
}

/** Maps "handed over" to `undefined` and "wait" to a promise of `undefined`. */
function settle(result: undefined | Promise<void>): undefined | Promise<undefined> {
  return result === undefined ? undefined : result.then(() => undefined);
}

/** The FAILURE_RSP reason an error asks for: its `failureReason`, or UNKNOWN. */
export function failureReasonOf(error: unknown): number {
  const reason = (error as { failureReason?: unknown } | undefined)?.failureReason;
  return typeof reason === "number" ? reason : RequestFailureReason.UNKNOWN;
}
