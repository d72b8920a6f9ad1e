/**
 * The {@linkcode Transport} between processes: TCP through `Deno.listen` / `Deno.connect`, with
 * Nagle's algorithm off on every connection (links batch their own writes into frames).
 *
 * Reads hand out buffers the transport never touches again, because decoders keep views of them.
 * Errors that mean "the connection is gone" (reset, broken pipe, closed resource, cancelled op)
 * end reads with `null` and fail writes with {@linkcode ConnectionClosedError}; a reset also
 * closes our end, so its resource is freed without the caller having to notice.
 *
 * `ConnectOptions.localAddress` is ignored: `Deno.connect` (Deno 2.9) cannot bind the source
 * address of an outbound connection, so the kernel picks it from the route to the peer.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { TcpTransport } from "./tcp_transport.ts";
 *
 * const transport = new TcpTransport();
 * const listener = await transport.listen({ host: "127.0.0.1", port: 0 });
 * const accepted = listener.accept();
 * const client = await transport.connect(listener.address);
 * const server = await accepted;
 * assert(server !== null);
 *
 * await client.write(new TextEncoder().encode("ping"));
 * client.close();
 * let received = "";
 * for (let bytes = await server.read(); bytes !== null; bytes = await server.read()) {
 *   received += new TextDecoder().decode(bytes);
 * }
 * assert.equal(received, "ping");
 * server.close();
 * listener.close();
 * ```
 *
 * @module
 */

import { type Clock, SystemClock } from "../clock.ts";
import type { InetAddressAndPort } from "../wire/inet_address.ts";
import { formatInetAddress } from "../wire/inet_address.ts";
import { ConnectionClosedError, ConnectionRefusedError, ConnectTimeoutError } from "./errors.ts";
import type { Connection, ConnectOptions, Listener, Transport } from "./transport.ts";

/** Default of {@linkcode TcpTransportOptions.readBufferSizeBytes}: 64 KiB. */
export const TCP_READ_BUFFER_SIZE_BYTES_DEFAULT = 64 * 1024;

/** Default of {@linkcode TcpTransportOptions.connectTimeoutMs}. */
export const TCP_CONNECT_TIMEOUT_MS_DEFAULT = 2000;

/** Options of {@linkcode TcpTransport}. */
export interface TcpTransportOptions {
  /** Times connection attempts; default a {@linkcode SystemClock}. */
  readonly clock?: Clock;
  /** Most bytes one `read()` returns; default {@linkcode TCP_READ_BUFFER_SIZE_BYTES_DEFAULT}. */
  readonly readBufferSizeBytes?: number;
  /** Timeout of a connect that gives none; default {@linkcode TCP_CONNECT_TIMEOUT_MS_DEFAULT}. */
  readonly connectTimeoutMs?: number;
}

/** TCP through Deno's socket API; see the module doc for the error mapping. */
export class TcpTransport implements Transport {
  readonly #clock: Clock;
  readonly #readBufferSizeBytes: number;
  readonly #connectTimeoutMs: number;

  /** Creates a transport; it holds no resources until it listens or connects. */
  constructor(options: TcpTransportOptions = {}) {
    this.#clock = options.clock ?? new SystemClock();
    this.#readBufferSizeBytes = options.readBufferSizeBytes ?? TCP_READ_BUFFER_SIZE_BYTES_DEFAULT;
    this.#connectTimeoutMs = options.connectTimeoutMs ?? TCP_CONNECT_TIMEOUT_MS_DEFAULT;
    if (!Number.isSafeInteger(this.#readBufferSizeBytes) || this.#readBufferSizeBytes < 1) {
      throw new RangeError(
        "Cannot create TCP transport: readBufferSizeBytes must be an integer >= 1, " +
          `got ${this.#readBufferSizeBytes}`,
      );
    }
    checkTimeout("create TCP transport", this.#connectTimeoutMs);
  }

  /** Binds `address` (port 0 picks a free port); Deno's errors (`AddrInUse`...) propagate. */
  listen(address: InetAddressAndPort): Promise<Listener> {
    try {
      const listener = Deno.listen({ hostname: address.host, port: address.port });
      return Promise.resolve(new TcpListener(listener, this.#readBufferSizeBytes));
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /**
   * Connects to `address` within `options.timeoutMs`; `options.localAddress` is ignored.
   * @throws {ConnectionRefusedError} when nothing listens there
   * @throws {ConnectTimeoutError} when the timeout passes first
   */
  async connect(address: InetAddressAndPort, options: ConnectOptions = {}): Promise<Connection> {
    const timeoutMs = options.timeoutMs ?? this.#connectTimeoutMs;
    checkTimeout("connect", timeoutMs);
    const target = formatInetAddress(address);
    const abort = new AbortController();
    let timedOut = false;
    const timer = this.#clock.setTimer(() => {
      timedOut = true;
      abort.abort();
    }, timeoutMs);
    let conn: Deno.TcpConn;
    try {
      conn = await Deno.connect({
        hostname: address.host,
        port: address.port,
        signal: abort.signal,
      });
    } catch (error) {
      // TimedOut: the kernel gave up retrying SYNs before our timer fired.
      if (timedOut || error instanceof Deno.errors.TimedOut) {
        throw new ConnectTimeoutError(
          `Cannot connect to ${target}: no connection within ${timeoutMs} ms`,
          { cause: error },
        );
      }
      if (error instanceof Deno.errors.ConnectionRefused) {
        throw new ConnectionRefusedError(`Cannot connect to ${target}: connection refused`, {
          cause: error,
        });
      }
      throw error;
    } finally {
      timer.cancel();
    }
    // The timer can fire between the connect completing and this continuation running: the
    // caller was told nothing yet, but the timeout is the contract, so the connection goes.
    if (timedOut) {
      conn.close();
      throw new ConnectTimeoutError(
        `Cannot connect to ${target}: connected only after ${timeoutMs} ms`,
      );
    }
    try {
      return new TcpConnection(conn, this.#readBufferSizeBytes);
    } catch (error) {
      closeQuietly(conn);
      if (!isGoneError(error)) throw error;
      throw new ConnectionClosedError(`Cannot connect to ${target}: reset while connecting`, {
        cause: error,
      });
    }
  }
}

/** A bound TCP socket handing out accepted connections. */
class TcpListener implements Listener {
  readonly address: InetAddressAndPort;
  readonly #listener: Deno.TcpListener;
  readonly #readBufferSizeBytes: number;
  #closed = false;

  constructor(listener: Deno.TcpListener, readBufferSizeBytes: number) {
    this.#listener = listener;
    this.#readBufferSizeBytes = readBufferSizeBytes;
    this.address = { host: listener.addr.hostname, port: listener.addr.port };
  }

  async accept(): Promise<Connection | null> {
    for (;;) {
      if (this.#closed) return null;
      let conn: Deno.TcpConn;
      try {
        conn = await this.#listener.accept();
      } catch (error) {
        // The listener itself is gone only when we closed it (or Deno did: BadResource).
        if (this.#closed || error instanceof Deno.errors.BadResource) {
          this.close();
          return null;
        }
        // A connection reset before we accepted it: skip it, keep listening.
        if (isGoneError(error)) continue;
        // Anything else (EMFILE, ...) belongs to the caller, which backs off and retries.
        throw error;
      }
      if (this.#closed) {
        closeQuietly(conn);
        return null;
      }
      try {
        return new TcpConnection(conn, this.#readBufferSizeBytes);
      } catch (error) {
        closeQuietly(conn);
        // Reset before we could set it up: the client will retry; wait for the next one.
        if (!isGoneError(error)) throw error;
      }
    }
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    closeQuietly(this.#listener);
  }
}

/** One TCP connection; one read and (queued) writes at a time. */
class TcpConnection implements Connection {
  readonly localAddress: InetAddressAndPort;
  readonly remoteAddress: InetAddressAndPort;
  readonly #conn: Deno.TcpConn;
  readonly #readBufferSizeBytes: number;
  /** A read buffer never handed out (the last read was copied out of it), or none. */
  #spareBuffer: Uint8Array | undefined;
  #reading = false;
  #writeTail: Promise<void> = Promise.resolve();
  #closed = false;

  constructor(conn: Deno.TcpConn, readBufferSizeBytes: number) {
    this.#conn = conn;
    this.#readBufferSizeBytes = readBufferSizeBytes;
    // Read once: Deno may not answer after the resource is closed.
    this.localAddress = { host: conn.localAddr.hostname, port: conn.localAddr.port };
    this.remoteAddress = { host: conn.remoteAddr.hostname, port: conn.remoteAddr.port };
    conn.setNoDelay(true);
  }

  get closed(): boolean {
    return this.#closed;
  }

  async read(): Promise<Uint8Array | null> {
    if (this.#reading) throw new Error("Cannot read: another read is pending on this connection");
    if (this.#closed) return null;
    this.#reading = true;
    const buffer = this.#spareBuffer ?? new Uint8Array(this.#readBufferSizeBytes);
    this.#spareBuffer = undefined;
    try {
      const n = await this.#conn.read(buffer);
      if (n === null) {
        this.#spareBuffer = buffer;
        return null;
      }
      // A small read is copied out so that a kept view pins n bytes, not the whole buffer,
      // and the buffer (never handed out) serves the next read.
      if (n <= this.#readBufferSizeBytes >>> 2) {
        this.#spareBuffer = buffer;
        return buffer.slice(0, n);
      }
      return buffer.subarray(0, n);
    } catch (error) {
      if (!isGoneError(error)) throw error;
      if (isResetError(error)) this.close();
      return null;
    } finally {
      this.#reading = false;
    }
  }

  write(bytes: Uint8Array): Promise<void> {
    // Queued behind earlier writes so concurrent callers never interleave partial writes.
    const written = this.#writeTail.then(() => this.#writeAll(bytes));
    this.#writeTail = written.then(noop, noop);
    return written;
  }

  async #writeAll(bytes: Uint8Array): Promise<void> {
    if (this.#closed) throw new ConnectionClosedError("Cannot write: the connection is closed");
    try {
      for (let offset = 0; offset < bytes.length;) {
        offset += await this.#conn.write(bytes.subarray(offset));
      }
    } catch (error) {
      if (!isGoneError(error)) throw error;
      if (isResetError(error)) this.close();
      throw new ConnectionClosedError(
        `Cannot write: the connection to ${formatInetAddress(this.remoteAddress)} is closed`,
        { cause: error },
      );
    }
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#spareBuffer = undefined;
    closeQuietly(this.#conn);
  }
}

function noop(): void {}

function checkTimeout(action: string, timeoutMs: number): void {
  if (!Number.isFinite(timeoutMs) || timeoutMs < 0) {
    throw new RangeError(`Cannot ${action}: timeoutMs must be finite and >= 0, got ${timeoutMs}`);
  }
}

/** The peer reset the connection: nothing more will come through it either way. */
function isResetError(error: unknown): boolean {
  return error instanceof Deno.errors.ConnectionReset ||
    error instanceof Deno.errors.BrokenPipe ||
    error instanceof Deno.errors.ConnectionAborted ||
    error instanceof Deno.errors.NotConnected;
}

/** The connection is gone: reset by the peer, or closed by us while an op was pending. */
function isGoneError(error: unknown): boolean {
  return isResetError(error) ||
    error instanceof Deno.errors.BadResource ||
    error instanceof Deno.errors.Interrupted;
}

function closeQuietly(resource: { close(): void }): void {
  try {
    resource.close();
  } catch (error) {
    // Already closed by Deno (e.g. after a failed op): the goal, a closed resource, holds.
    if (!(error instanceof Deno.errors.BadResource)) throw error;
  }
}
