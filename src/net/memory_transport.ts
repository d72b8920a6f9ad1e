/**
 * An in-process network for tests and the deterministic simulator: every simulated node gets a
 * {@linkcode Transport} bound to its own host from one {@linkcode MemoryNetwork}, and links run
 * over it exactly as over TCP (the contract suite holds both to the same behaviour).
 *
 * How it models TCP:
 *
 * - **Delivery.** `write()` copies the bytes; they reach the peer after `latencyMs` on the
 *   network's clock (`clock.setTimer`), or on a microtask when `latencyMs` is 0, always in order.
 *   Connections establish at once (no handshake delay). A `read()` returns what has arrived, up
 *   to `readSizeBytesMax`, coalescing or splitting writes as TCP does.
 * - **Flow control.** At most `pipeCapacityBytes` written but not yet read sit in one direction
 *   of a connection; a `write()` that does not fit takes what fits and resolves only once the
 *   reader has drained enough for the rest. A peer that stops reading stalls its writers.
 * - **Close (FIN).** `close()` ends both directions of our end: our pending read resolves `null`
 *   and our pending and later writes reject with {@linkcode ConnectionClosedError}. Bytes we
 *   wrote before (including the taken part of a write cut short) still travel to the peer,
 *   whose reads return them and then `null`. A peer write to our closed end rejects with
 *   {@linkcode ConnectionClosedError} and resets the peer's end (TCP answers it with RST).
 * - **Reset.** {@linkcode MemoryNetwork.cut}, and closing a listener with connections not yet
 *   accepted, reset connections: both ends are closed at once, bytes in flight are dropped.
 * - **Partitions and down hosts.** Bytes between partitioned hosts, or to or from a down host,
 *   stall: they are held (never dropped, as TCP retransmits) and count against the pipe
 *   capacity, and are delivered once the hosts can reach each other again; so is a close (FIN).
 *   A connection attempt between them waits its `timeoutMs` and throws
 *   {@linkcode ConnectTimeoutError}; it is decided when the attempt starts, so a heal during the
 *   wait does not rescue it. Connections of a host to itself are never blocked.
 * - **Ports.** Each host hands out ports from 32768 to 60999 in increasing order (wrapping,
 *   skipping ports in use) for `listen()` on port 0 and for the local end of connections.
 *   Each listener holds at most `acceptBacklogMax` connections not yet accepted; a connect
 *   beyond that times out, like a SYN dropped by a full accept queue.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { ManualClock } from "../clock.ts";
 * import { ConnectTimeoutError } from "./errors.ts";
 * import { MemoryNetwork } from "./memory_transport.ts";
 *
 * const clock = new ManualClock();
 * const network = new MemoryNetwork({ clock });
 * const listener = await network.transport("10.0.0.1").listen({ host: "10.0.0.1", port: 7000 });
 * const client = await network.transport("10.0.0.2").connect(listener.address);
 * const server = await listener.accept();
 * assert(server !== null);
 *
 * await client.write(new TextEncoder().encode("hello"));
 * assert.equal(new TextDecoder().decode((await server.read())!), "hello");
 *
 * network.setHostDown("10.0.0.1", true);
 * const attempt = network.transport("10.0.0.3").connect(listener.address, { timeoutMs: 500 });
 * clock.advance(500);
 * await assert.rejects(attempt, ConnectTimeoutError);
 *
 * network.cut("10.0.0.1", "10.0.0.2");
 * assert.equal(await server.read(), null);
 * assert.equal(client.closed, true);
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
import { Pipe } from "./_memory_pipe.ts";

/** Default of {@linkcode MemoryNetworkOptions.pipeCapacityBytes}: 4 MiB. */
export const MEMORY_PIPE_CAPACITY_BYTES_DEFAULT = 4 * 1024 * 1024;

/** Default of {@linkcode MemoryNetworkOptions.readSizeBytesMax}: 64 KiB, like a TCP read. */
export const MEMORY_READ_SIZE_BYTES_MAX_DEFAULT = 64 * 1024;

/** Default of {@linkcode MemoryNetworkOptions.connectTimeoutMs}, as for TCP. */
export const MEMORY_CONNECT_TIMEOUT_MS_DEFAULT = 2000;

/** Default of {@linkcode MemoryNetworkOptions.acceptBacklogMax}. */
export const MEMORY_ACCEPT_BACKLOG_MAX_DEFAULT = 128;

/** Options of {@linkcode MemoryNetwork}. */
export interface MemoryNetworkOptions {
  /** Times delivery and connect timeouts; default a {@linkcode SystemClock}. */
  readonly clock?: Clock;
  /** One-way delay of every byte; default 0 (delivered on a microtask). */
  readonly latencyMs?: number;
  /** Most unread bytes in one direction of a connection; default 4 MiB. */
  readonly pipeCapacityBytes?: number;
  /** Most bytes one `read()` returns; default 64 KiB. */
  readonly readSizeBytesMax?: number;
  /** Connect timeout when the caller gives none; default 2000 ms. */
  readonly connectTimeoutMs?: number;
  /** Most connections waiting in a listener for `accept()`; default 128. */
  readonly acceptBacklogMax?: number;
}

const PORT_MIN = 32768;
const PORT_MAX = 60999;

/** A simulated network of hosts; see the module doc for how it models TCP. */
export class MemoryNetwork {
  readonly #clock: Clock;
  readonly #latencyMs: number;
  readonly #pipeCapacityBytes: number;
  readonly #readSizeBytesMax: number;
  readonly #connectTimeoutMs: number;
  readonly #acceptBacklogMax: number;
  readonly #listeners = new Map<string, MemoryListener>();
  readonly #hosts = new Map<string, HostPorts>();
  readonly #connections = new Set<MemoryConnection>();
  readonly #downHosts = new Set<string>();
  /** Blocked directions as `from\0to`, both directions of every partitioned pair. */
  readonly #partitions = new Set<string>();

  /** Creates an empty network: no hosts down, no partitions. */
  constructor(options: MemoryNetworkOptions = {}) {
    this.#clock = options.clock ?? new SystemClock();
    this.#latencyMs = options.latencyMs ?? 0;
    this.#pipeCapacityBytes = options.pipeCapacityBytes ?? MEMORY_PIPE_CAPACITY_BYTES_DEFAULT;
    this.#readSizeBytesMax = options.readSizeBytesMax ?? MEMORY_READ_SIZE_BYTES_MAX_DEFAULT;
    this.#connectTimeoutMs = options.connectTimeoutMs ?? MEMORY_CONNECT_TIMEOUT_MS_DEFAULT;
    this.#acceptBacklogMax = options.acceptBacklogMax ?? MEMORY_ACCEPT_BACKLOG_MAX_DEFAULT;
    checkMs("latencyMs", this.#latencyMs);
    checkMs("connectTimeoutMs", this.#connectTimeoutMs);
    checkCount("pipeCapacityBytes", this.#pipeCapacityBytes);
    checkCount("readSizeBytesMax", this.#readSizeBytesMax);
    checkCount("acceptBacklogMax", this.#acceptBacklogMax);
  }

  /** The transport of the simulated node at `localHost` (an IP literal, by convention). */
  transport(localHost: string): Transport {
    return {
      listen: (address) => this.#listen(localHost, address),
      connect: (address, options) => this.#connect(localHost, address, options),
    };
  }

  /** Connection ends open on this network (neither closed nor reset): for leak checks. */
  get openConnectionCount(): number {
    return this.#connections.size;
  }

  /** Whether bytes from `fromHost` currently reach `toHost`. */
  reachable(fromHost: string, toHost: string): boolean {
    if (fromHost === toHost) return true;
    if (this.#downHosts.has(fromHost) || this.#downHosts.has(toHost)) return false;
    return !this.#partitions.has(directionKey(fromHost, toHost));
  }

  /** Marks `host` hung (`down`) or back: while down, nobody reaches it and it reaches nobody. */
  setHostDown(host: string, down: boolean): void {
    if (down) {
      this.#downHosts.add(host);
    } else if (this.#downHosts.delete(host)) {
      this.#resumeDelivery();
    }
  }

  /** Cuts every host of `hostsA` off from every host of `hostsB`, both ways, until healed. */
  partition(hostsA: readonly string[], hostsB: readonly string[]): void {
    for (const a of hostsA) {
      for (const b of hostsB) {
        if (a === b) continue;
        this.#partitions.add(directionKey(a, b));
        this.#partitions.add(directionKey(b, a));
      }
    }
  }

  /** Removes every partition (down hosts stay down); held bytes flow again. */
  heal(): void {
    if (this.#partitions.size === 0) return;
    this.#partitions.clear();
    this.#resumeDelivery();
  }

  /** Resets every open connection between `hostA` and `hostB`: both ends closed at once. */
  cut(hostA: string, hostB: string): void {
    for (const connection of [...this.#connections]) {
      const local = connection.localAddress.host;
      const remote = connection.remoteAddress.host;
      if ((local === hostA && remote === hostB) || (local === hostB && remote === hostA)) {
        connection.reset();
      }
    }
  }

  /**
   * The process on `host` died (`kill -9`): its listeners close, so connects are refused (the
   * host still answers), and every connection with an end on it is reset.
   */
  crash(host: string): void {
    for (const [key, listener] of [...this.#listeners]) {
      if (listener.address.host === host) {
        this.#listeners.delete(key);
        listener.close();
      }
    }
    for (const connection of [...this.#connections]) {
      if (connection.localAddress.host === host || connection.remoteAddress.host === host) {
        connection.reset();
      }
    }
  }

  #resumeDelivery(): void {
    for (const connection of this.#connections) connection.resumeDelivery();
  }

  #listen(localHost: string, address: InetAddressAndPort): Promise<Listener> {
    if (address.host !== localHost) {
      return Promise.reject(
        new Deno.errors.AddrNotAvailable(
          `Cannot listen on ${formatInetAddress(address)}: this transport's host is ${localHost}`,
        ),
      );
    }
    const ports = this.#portsOf(localHost);
    let port = address.port;
    if (port === 0) {
      port = ports.allocate();
    } else if (!ports.take(port)) {
      return Promise.reject(
        new Deno.errors.AddrInUse(`Cannot listen on ${formatInetAddress(address)}: port in use`),
      );
    }
    const bound = { host: localHost, port };
    const key = formatInetAddress(bound);
    const listener = new MemoryListener(bound, () => {
      this.#listeners.delete(key);
      ports.release(port);
    });
    this.#listeners.set(key, listener);
    return Promise.resolve(listener);
  }

  async #connect(
    localHost: string,
    address: InetAddressAndPort,
    options: ConnectOptions = {},
  ): Promise<Connection> {
    const timeoutMs = options.timeoutMs ?? this.#connectTimeoutMs;
    checkMs("timeoutMs", timeoutMs);
    const target = formatInetAddress(address);
    if (!this.reachable(localHost, address.host) || !this.reachable(address.host, localHost)) {
      await this.#clock.sleep(timeoutMs);
      throw new ConnectTimeoutError(
        `Cannot connect to ${target}: no answer within ${timeoutMs} ms (host down or partitioned)`,
      );
    }
    const listener = this.#listeners.get(target);
    if (listener === undefined) {
      throw new ConnectionRefusedError(`Cannot connect to ${target}: connection refused`);
    }
    if (listener.backlog >= this.#acceptBacklogMax) {
      await this.#clock.sleep(timeoutMs);
      throw new ConnectTimeoutError(
        `Cannot connect to ${target}: its accept backlog (${this.#acceptBacklogMax}) ` +
          `stayed full for ${timeoutMs} ms`,
      );
    }
    const ports = this.#portsOf(localHost);
    const local = { host: localHost, port: ports.allocate() };
    const toServer = this.#pipe(localHost, address.host);
    const toClient = this.#pipe(address.host, localHost);
    const client = new MemoryConnection(local, listener.address, toClient, toServer, (end) => {
      this.#connections.delete(end);
      ports.release(local.port);
    });
    const server = new MemoryConnection(listener.address, local, toServer, toClient, (end) => {
      this.#connections.delete(end);
    });
    client.peer = server;
    server.peer = client;
    this.#connections.add(client);
    this.#connections.add(server);
    listener.enqueue(server);
    return client;
  }

  #pipe(fromHost: string, toHost: string): Pipe {
    return new Pipe({
      clock: this.#clock,
      latencyMs: this.#latencyMs,
      capacityBytes: this.#pipeCapacityBytes,
      readSizeBytesMax: this.#readSizeBytesMax,
      reachable: () => this.reachable(fromHost, toHost),
    });
  }

  #portsOf(host: string): HostPorts {
    let ports = this.#hosts.get(host);
    if (ports === undefined) {
      ports = new HostPorts(host);
      this.#hosts.set(host, ports);
    }
    return ports;
  }
}

function directionKey(fromHost: string, toHost: string): string {
  return `${fromHost}\0${toHost}`;
}

function checkMs(name: string, value: number): void {
  if (!Number.isFinite(value) || value < 0) {
    throw new RangeError(
      `Cannot use memory network: ${name} must be finite and >= 0, got ${value}`,
    );
  }
}

function checkCount(name: string, value: number): void {
  if (!Number.isSafeInteger(value) || value < 1) {
    throw new RangeError(
      `Cannot use memory network: ${name} must be an integer >= 1, got ${value}`,
    );
  }
}

/** The ports of one host in use, and where the search for a free one resumes. */
class HostPorts {
  readonly #host: string;
  readonly #used = new Set<number>();
  #next = PORT_MIN;

  constructor(host: string) {
    this.#host = host;
  }

  /** Takes the next free port, in increasing order with wrap-around. */
  allocate(): number {
    for (let tries = 0; tries <= PORT_MAX - PORT_MIN; tries++) {
      const port = this.#next;
      this.#next = port === PORT_MAX ? PORT_MIN : port + 1;
      if (this.take(port)) return port;
    }
    throw new Deno.errors.AddrInUse(
      `Cannot allocate a port on ${this.#host}: all of ${PORT_MIN}-${PORT_MAX} are in use`,
    );
  }

  /** Takes `port` if it is free. */
  take(port: number): boolean {
    if (this.#used.has(port)) return false;
    this.#used.add(port);
    return true;
  }

  release(port: number): void {
    this.#used.delete(port);
  }
}

/** Waiting connections of one bound address. */
class MemoryListener implements Listener {
  readonly address: InetAddressAndPort;
  readonly #onClose: () => void;
  readonly #backlog: MemoryConnection[] = [];
  #waiter: ((connection: Connection | null) => void) | undefined;
  #closed = false;

  constructor(address: InetAddressAndPort, onClose: () => void) {
    this.address = address;
    this.#onClose = onClose;
  }

  get backlog(): number {
    return this.#backlog.length;
  }

  enqueue(connection: MemoryConnection): void {
    const waiter = this.#waiter;
    if (waiter === undefined) {
      this.#backlog.push(connection);
      return;
    }
    this.#waiter = undefined;
    waiter(connection);
  }

  accept(): Promise<Connection | null> {
    if (this.#waiter !== undefined) {
      return Promise.reject(new Error("Cannot accept: another accept is pending on this listener"));
    }
    if (this.#closed) return Promise.resolve(null);
    const next = this.#backlog.shift();
    if (next !== undefined) return Promise.resolve(next);
    return new Promise((resolve) => this.#waiter = resolve);
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#onClose();
    // Connections the server never saw are reset, as the kernel does with its accept queue.
    for (const connection of this.#backlog.splice(0)) connection.reset();
    const waiter = this.#waiter;
    this.#waiter = undefined;
    waiter?.(null);
  }
}

/** One end of a connection: reads its inbound pipe, writes its outbound pipe. */
class MemoryConnection implements Connection {
  readonly localAddress: InetAddressAndPort;
  readonly remoteAddress: InetAddressAndPort;
  /** The other end; set right after both ends are built. */
  peer: MemoryConnection | undefined;
  readonly #inbound: Pipe;
  readonly #outbound: Pipe;
  readonly #onClose: (end: MemoryConnection) => void;
  #writeTail: Promise<void> = Promise.resolve();
  #closed = false;

  constructor(
    localAddress: InetAddressAndPort,
    remoteAddress: InetAddressAndPort,
    inbound: Pipe,
    outbound: Pipe,
    onClose: (end: MemoryConnection) => void,
  ) {
    this.localAddress = localAddress;
    this.remoteAddress = remoteAddress;
    this.#inbound = inbound;
    this.#outbound = outbound;
    this.#onClose = onClose;
  }

  get closed(): boolean {
    return this.#closed;
  }

  read(): Promise<Uint8Array | null> {
    return this.#inbound.read();
  }

  write(bytes: Uint8Array): Promise<void> {
    // Queued behind earlier writes: a write that waits for space is never overtaken.
    const written = this.#writeTail.then(() => this.#write(bytes));
    this.#writeTail = written.then(noop, noop);
    return written;
  }

  async #write(bytes: Uint8Array): Promise<void> {
    const outcome = await this.#outbound.write(bytes);
    if (outcome === "written") return;
    if (outcome === "reader-closed") this.reset();
    throw new ConnectionClosedError(
      `Cannot write: the connection to ${formatInetAddress(this.remoteAddress)} is closed`,
    );
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#outbound.closeWriter();
    this.#inbound.closeReader();
    this.#onClose(this);
  }

  /** Closes both ends at once, dropping bytes in flight (TCP RST). */
  reset(): void {
    this.#outbound.abort();
    this.#inbound.abort();
    this.close();
    this.peer?.close();
  }

  /** The hosts may reach each other again: held bytes move on. */
  resumeDelivery(): void {
    // Both directions: the peer may have closed and left this network's books already.
    this.#outbound.schedule();
    this.#inbound.schedule();
  }
}

function noop(): void {}
