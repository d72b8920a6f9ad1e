/**
 * The byte-stream transport links run over: TCP between processes, or an in-memory network in
 * the simulator. Links only ever see these interfaces, so one contract test suite
 * (`transport_contract_test.ts`) holds every implementation to the same behaviour.
 *
 * @module
 */

import type { InetAddressAndPort } from "../wire/inet_address.ts";

/** One established, bidirectional byte stream. */
export interface Connection {
  /** Our end. */
  readonly localAddress: InetAddressAndPort;
  /** The other end. */
  readonly remoteAddress: InetAddressAndPort;
  /**
   * The next bytes received, in a buffer the transport never touches again (decoders keep
   * views of it); `null` once the peer closed its side or the connection was closed.
   * At most one read may be pending at a time.
   */
  read(): Promise<Uint8Array | null>;
  /**
   * Writes all of `bytes`; resolves when the transport has taken them. The caller must not
   * modify `bytes` until then. Rejects with {@link ConnectionClosedError} once closed.
   */
  write(bytes: Uint8Array): Promise<void>;
  /** Closes both directions; idempotent. A pending read resolves `null`. */
  close(): void;
  /** Whether {@link close} was called or the peer reset the connection. */
  readonly closed: boolean;
}

/** Accepts inbound connections on one address. */
export interface Listener {
  /** The bound address (with the real port when 0 was asked for). */
  readonly address: InetAddressAndPort;
  /** The next inbound connection, or `null` once the listener is closed. */
  accept(): Promise<Connection | null>;
  /** Stops accepting; idempotent. A pending accept resolves `null`. */
  close(): void;
}

/** Opens listeners and outbound connections. */
export interface Transport {
  /** Starts listening on `address` (port 0 picks a free port). */
  listen(address: InetAddressAndPort): Promise<Listener>;
  /**
   * Connects to `address`.
   * @throws {ConnectionRefusedError} when nothing listens there
   * @throws {ConnectTimeoutError} when `timeoutMs` passes first
   */
  connect(address: InetAddressAndPort, options?: ConnectOptions): Promise<Connection>;
}

/** Options of {@link Transport.connect}. */
export interface ConnectOptions {
  /** Gives up after this long (default: the transport's own, 2000 ms for TCP). */
  readonly timeoutMs?: number;
  /** Local address to bind the connection to (TCP: the source IP; port is ignored). */
  readonly localAddress?: InetAddressAndPort;
}
