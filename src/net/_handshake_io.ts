/**
 * Reading handshake messages off a connection: bytes accumulate until a decoder can parse a
 * whole message, within a deadline and a size bound, so a silent or babbling peer cannot hold a
 * connection (or memory) forever.
 *
 * @module
 */

import type { Clock } from "../clock.ts";
import { HandshakeError } from "../wire/errors.ts";
import { ClosedBeforeHandshakeError, ConnectionClosedError } from "./errors.ts";
import type { Connection } from "./transport.ts";

/** Most bytes a handshake message may take before it is refused. */
export const MAX_HANDSHAKE_BYTES = 512;

/** Parses a message from `bytes`: `undefined` while incomplete, else the value and its length. */
export type HandshakeParser<T> = (bytes: Uint8Array) => { value: T; consumed: number } | undefined;

/** Accumulates received bytes across handshake steps (leftovers carry over). */
export class HandshakeReader {
  readonly #connection: Connection;
  readonly #clock: Clock;
  readonly #deadlineMs: number;
  #buffered: Uint8Array = new Uint8Array(0);
  #receivedAny = false;

  constructor(connection: Connection, clock: Clock, timeoutMs: number) {
    this.#connection = connection;
    this.#clock = clock;
    this.#deadlineMs = clock.nowMs() + timeoutMs;
  }

  /** Bytes received after the last parsed message: they belong to the message stream. */
  get leftover(): Uint8Array {
    return this.#buffered;
  }

  /**
   * Reads until `parse` yields a message.
   * @throws {HandshakeError} on timeout or when the message exceeds {@link MAX_HANDSHAKE_BYTES}
   * @throws {ConnectionClosedError} when the peer closes first
   *   ({ClosedBeforeHandshakeError} when it closed without sending a byte)
   */
  async read<T>(parse: HandshakeParser<T>, what: string): Promise<T> {
    for (;;) {
      const parsed = parse(this.#buffered);
      if (parsed !== undefined) {
        this.#buffered = this.#buffered.subarray(parsed.consumed);
        return parsed.value;
      }
      if (this.#buffered.length > MAX_HANDSHAKE_BYTES) {
        throw new HandshakeError(`Cannot read ${what}: more than ${MAX_HANDSHAKE_BYTES} bytes`);
      }
      const chunk = await this.#readWithDeadline(what);
      if (chunk === null) {
        const message = `Cannot read ${what}: the peer closed the connection`;
        throw this.#receivedAny
          ? new ConnectionClosedError(message)
          : new ClosedBeforeHandshakeError(message);
      }
      this.#receivedAny = true;
      const joined = new Uint8Array(this.#buffered.length + chunk.length);
      joined.set(this.#buffered);
      joined.set(chunk, this.#buffered.length);
      this.#buffered = joined;
    }
  }

  async #readWithDeadline(what: string): Promise<Uint8Array | null> {
    const remainingMs = this.#deadlineMs - this.#clock.nowMs();
    if (remainingMs <= 0) throw new HandshakeError(`Cannot read ${what}: the handshake timed out`);
    let timedOut = false;
    const timer = this.#clock.setTimer(() => {
      timedOut = true;
      this.#connection.close();
    }, remainingMs);
    try {
      const chunk = await this.#connection.read();
      if (timedOut) throw new HandshakeError(`Cannot read ${what}: the handshake timed out`);
      return chunk;
    } finally {
      timer.cancel();
    }
  }
}
