import assert from "node:assert/strict";
import { setImmediate } from "node:timers/promises";
import fc from "fast-check";
import { ManualClock } from "../clock.ts";
import { crc32 } from "../wire/crc32.ts";
import type { InetAddressAndPort } from "../wire/inet_address.ts";
import { ConnectionClosedError, ConnectionRefusedError, ConnectTimeoutError } from "./errors.ts";
import { MemoryNetwork } from "./memory_transport.ts";
import { TcpTransport } from "./tcp_transport.ts";
import type { Connection, Listener, Transport } from "./transport.ts";

/** What a contract run needs: a listening side, a connecting side, and where to listen. */
interface TransportFixture {
  readonly server: Transport;
  readonly client: Transport;
  /** Address to listen on, with port 0. */
  readonly listenAddress: InetAddressAndPort;
}

/** A listener with one accepted connection and its client end; disposing closes all three. */
interface ConnectedPair extends AsyncDisposable {
  readonly listener: Listener;
  readonly client: Connection;
  readonly server: Connection;
}

async function connectPair(fixture: TransportFixture): Promise<ConnectedPair> {
  const listener = await fixture.server.listen(fixture.listenAddress);
  const accepted = listener.accept();
  const client = await fixture.client.connect(listener.address);
  const server = await accepted;
  assert(server !== null);
  return {
    listener,
    client,
    server,
    [Symbol.asyncDispose]() {
      client.close();
      server.close();
      listener.close();
      return Promise.resolve();
    },
  };
}

/** Bytes that differ by position and seed, so misplaced or mixed bytes show. */
function pattern(size: number, seed: number): Uint8Array {
  const bytes = new Uint8Array(size);
  for (let i = 0; i < size; i++) bytes[i] = (i * 31 + seed * 7 + (i >>> 8)) & 0xff;
  return bytes;
}

function concat(chunks: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(chunks.reduce((sum, chunk) => sum + chunk.length, 0));
  let offset = 0;
  for (const chunk of chunks) {
    out.set(chunk, offset);
    offset += chunk.length;
  }
  return out;
}

/** Every buffer read until end of stream (which the caller must cause). */
async function readChunks(connection: Connection): Promise<Uint8Array[]> {
  const chunks: Uint8Array[] = [];
  for (let bytes = await connection.read(); bytes !== null; bytes = await connection.read()) {
    chunks.push(bytes);
  }
  return chunks;
}

async function readAll(connection: Connection): Promise<Uint8Array> {
  return concat(await readChunks(connection));
}

/** Reads exactly `size` bytes (the writer sends no more before we are done). */
async function readExactly(connection: Connection, size: number): Promise<Uint8Array> {
  const chunks: Uint8Array[] = [];
  for (let received = 0; received < size;) {
    const bytes = await connection.read();
    assert(bytes !== null, `end of stream after ${received} of ${size} bytes`);
    chunks.push(bytes);
    received += bytes.length;
  }
  return concat(chunks);
}

/** Lets queued microtasks and I/O callbacks run; waits for no real time. */
function flush(): Promise<void> {
  return setImmediate();
}

/** Whether `promise` settled by now (after letting pending callbacks run). */
async function isSettled(promise: Promise<unknown>): Promise<boolean> {
  let settled = false;
  promise.then(() => settled = true, () => settled = true);
  await flush();
  return settled;
}

const encode = (text: string) => new TextEncoder().encode(text);
const decode = (bytes: Uint8Array) => new TextDecoder().decode(bytes);

/** Holds an implementation of {@linkcode Transport} to the behaviour links rely on. */
function runTransportContract(name: string, makeTransports: () => TransportFixture): void {
  const test = (title: string, fn: (fixture: TransportFixture) => Promise<void>) =>
    Deno.test(`${name}: ${title}`, () => fn(makeTransports()));

  test("listen() on port 0 reports a real port", async (fixture) => {
    const listener = await fixture.server.listen(fixture.listenAddress);
    try {
      assert.equal(listener.address.host, fixture.listenAddress.host);
      assert(listener.address.port > 0 && listener.address.port <= 65535);
    } finally {
      listener.close();
    }
  });

  test("listen() on an address in use throws AddrInUse", async (fixture) => {
    const listener = await fixture.server.listen(fixture.listenAddress);
    try {
      await assert.rejects(fixture.server.listen(listener.address), Deno.errors.AddrInUse);
    } finally {
      listener.close();
    }
  });

  test("connections report both ends' addresses", async (fixture) => {
    await using pair = await connectPair(fixture);
    assert.deepEqual(pair.client.remoteAddress, pair.listener.address);
    assert.deepEqual(pair.server.localAddress, pair.listener.address);
    assert.deepEqual(pair.server.remoteAddress, pair.client.localAddress);
    assert(pair.client.localAddress.port > 0);
  });

  test("bytes written arrive in order and complete, whatever the write sizes", async (fixture) => {
    const sizes = [1, 2, 7, 100, 4096, 65535, 65536, 65537, 1024 * 1024, 3];
    await using pair = await connectPair(fixture);
    const writes = sizes.map((size, i) => pattern(size, i));
    const received = readAll(pair.server);
    for (const bytes of writes) await pair.client.write(bytes);
    pair.client.close();
    assert.deepEqual(await received, concat(writes));
  });

  test("bytes arrive in order for random write sizes (property)", async (fixture) => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.integer({ min: 1, max: 200_000 }), { minLength: 1, maxLength: 12 }),
        async (sizes) => {
          await using pair = await connectPair(fixture);
          const writes = sizes.map((size, i) => pattern(size, i));
          const received = readAll(pair.server);
          // Not awaited one by one: queued writes must keep their order too.
          await Promise.all(writes.map((bytes) => pair.client.write(bytes)));
          pair.client.close();
          assert.deepEqual(await received, concat(writes));
        },
      ),
      { numRuns: 10 },
    );
  });

  test(
    "read() returns fresh buffers: a returned buffer is not modified by later reads",
    async (fixture) => {
      await using pair = await connectPair(fixture);
      const writes = Array.from({ length: 300 }, (_, i) => pattern(1000 + (i % 7) * 3000, i));
      const chunks = readChunks(pair.server);
      for (const bytes of writes) await pair.client.write(bytes);
      pair.client.close();
      const received = await chunks;
      // Checked only after all reads: a reused buffer would now hold later bytes.
      assert.deepEqual(concat(received), concat(writes));
      const regions = received.map((b) => ({
        buffer: b.buffer,
        start: b.byteOffset,
        end: b.byteOffset + b.length,
      }))
        .sort((a, b) => a.start - b.start);
      for (const [i, a] of regions.entries()) {
        for (const b of regions.slice(i + 1)) {
          if (a.buffer === b.buffer) {
            assert(a.end <= b.start, "two reads share bytes of one buffer");
          }
        }
      }
    },
  );

  test("write() does not need the caller's buffer once it resolves", async (fixture) => {
    await using pair = await connectPair(fixture);
    const buffer = pattern(5000, 1);
    const expected = buffer.slice();
    await pair.client.write(buffer);
    buffer.fill(0);
    assert.deepEqual(await readExactly(pair.server, 5000), expected);
  });

  test(
    "close() makes the peer's read() return null after the bytes written before",
    async (fixture) => {
      await using pair = await connectPair(fixture);
      await pair.client.write(encode("last words"));
      pair.client.close();
      assert.equal(decode(await readAll(pair.server)), "last words");
      assert.equal(await pair.server.read(), null);
    },
  );

  test("close() makes the peer's pending read() return null", async (fixture) => {
    await using pair = await connectPair(fixture);
    const pending = pair.server.read();
    pair.client.close();
    assert.equal(await pending, null);
  });

  test("close() resolves our own pending read() with null, and is idempotent", async (fixture) => {
    await using pair = await connectPair(fixture);
    const pending = pair.client.read();
    assert.equal(pair.client.closed, false);
    pair.client.close();
    pair.client.close();
    assert.equal(await pending, null);
    assert.equal(await pair.client.read(), null);
    assert.equal(pair.client.closed, true);
  });

  test("write() after close rejects with ConnectionClosedError", async (fixture) => {
    await using pair = await connectPair(fixture);
    pair.client.close();
    await assert.rejects(pair.client.write(encode("too late")), ConnectionClosedError);
  });

  test(
    "a pending write() rejects with ConnectionClosedError when close() is called",
    async (fixture) => {
      await using pair = await connectPair(fixture);
      // Far more than any socket or pipe buffer holds while the server does not read.
      const write = pair.client.write(new Uint8Array(64 * 1024 * 1024));
      assert.equal(await isSettled(write), false);
      pair.client.close();
      await assert.rejects(write, ConnectionClosedError);
    },
  );

  test("a second read() while one is pending rejects", async (fixture) => {
    await using pair = await connectPair(fixture);
    const first = pair.server.read();
    await assert.rejects(pair.server.read(), Error);
    pair.client.close();
    assert.equal(await first, null);
  });

  test(
    "connect() to an address nobody listens on throws ConnectionRefusedError",
    async (fixture) => {
      const listener = await fixture.server.listen(fixture.listenAddress);
      listener.close();
      await assert.rejects(fixture.client.connect(listener.address), ConnectionRefusedError);
    },
  );

  test("accept() returns null after the listener closes", async (fixture) => {
    const listener = await fixture.server.listen(fixture.listenAddress);
    const pending = listener.accept();
    listener.close();
    listener.close();
    assert.equal(await pending, null);
    assert.equal(await listener.accept(), null);
  });

  test("two concurrent connections do not mix bytes", async (fixture) => {
    const listener = await fixture.server.listen(fixture.listenAddress);
    const clients = await Promise.all([0, 1].map(() => fixture.client.connect(listener.address)));
    const servers = [await listener.accept(), await listener.accept()];
    try {
      const received = servers.map((server) => {
        assert(server !== null);
        return readAll(server).then((bytes) => ({ port: server.remoteAddress.port, bytes }));
      });
      const sent = clients.map((_, i) =>
        Array.from({ length: 40 }, (_, j) => pattern(7000 + j, i))
      );
      await Promise.all(clients.map(async (client, i) => {
        for (const bytes of sent[i]!) await client.write(bytes);
        client.close();
      }));
      for (const { port, bytes } of await Promise.all(received)) {
        const i = clients.findIndex((client) => client.localAddress.port === port);
        assert.deepEqual(bytes, concat(sent[i]!));
      }
    } finally {
      for (const connection of [...clients, ...servers]) connection?.close();
      listener.close();
    }
  });

  test("a 16 MiB transfer in 64 KiB writes arrives intact (checksum)", async (fixture) => {
    await using pair = await connectPair(fixture);
    const chunkSize = 64 * 1024;
    const chunkCount = 256;
    let sentCrc = 0;
    const receiving = (async () => {
      let crc = 0;
      let size = 0;
      for (let bytes = await pair.server.read(); bytes !== null; bytes = await pair.server.read()) {
        crc = crc32(bytes, crc);
        size += bytes.length;
      }
      return { crc, size };
    })();
    for (let i = 0; i < chunkCount; i++) {
      const chunk = pattern(chunkSize, i);
      sentCrc = crc32(chunk, sentCrc);
      await pair.client.write(chunk);
    }
    pair.client.close();
    assert.deepEqual(await receiving, { crc: sentCrc, size: chunkSize * chunkCount });
  });
}

runTransportContract("TcpTransport", () => ({
  server: new TcpTransport(),
  client: new TcpTransport(),
  listenAddress: { host: "127.0.0.1", port: 0 },
}));

// Simulated hosts: these addresses exist only inside the MemoryNetwork.
const HOST_A = "10.0.0.1";
const HOST_B = "10.0.0.2";
const HOST_C = "10.0.0.3";

runTransportContract("MemoryTransport", () => {
  const network = new MemoryNetwork();
  return {
    server: network.transport(HOST_A),
    client: network.transport(HOST_B),
    listenAddress: { host: HOST_A, port: 0 },
  };
});

// ---- MemoryNetwork only: faults, flow control, time --------------------------------------------

function memoryFixture(network: MemoryNetwork): TransportFixture {
  return {
    server: network.transport(HOST_A),
    client: network.transport(HOST_B),
    listenAddress: { host: HOST_A, port: 0 },
  };
}

Deno.test("MemoryNetwork: partition() stalls bytes and heal() delivers them", async () => {
  const network = new MemoryNetwork({ clock: new ManualClock() });
  await using pair = await connectPair(memoryFixture(network));
  network.partition([HOST_A], [HOST_B, HOST_C]);
  assert.equal(network.reachable(HOST_B, HOST_A), false);
  await pair.client.write(encode("held"));
  const read = pair.server.read();
  assert.equal(await isSettled(read), false);
  network.heal();
  assert.equal(decode((await read)!), "held");
  assert.equal(pair.client.closed, false);
});

Deno.test("MemoryNetwork: a stalled partition fills the pipe and blocks the writer", async () => {
  const network = new MemoryNetwork({ pipeCapacityBytes: 100 });
  await using pair = await connectPair(memoryFixture(network));
  network.partition([HOST_A], [HOST_B]);
  const write = pair.client.write(pattern(250, 0));
  assert.equal(await isSettled(write), false);
  network.heal();
  assert.deepEqual(await readExactly(pair.server, 250), pattern(250, 0));
  await write;
});

Deno.test(
  "MemoryNetwork: connect() across a partition throws ConnectTimeoutError after timeoutMs",
  async () => {
    const clock = new ManualClock();
    const network = new MemoryNetwork({ clock });
    const listener = await network.transport(HOST_A).listen({ host: HOST_A, port: 0 });
    network.partition([HOST_B], [HOST_A]);
    const attempt = network.transport(HOST_B).connect(listener.address, { timeoutMs: 100 });
    clock.advance(99);
    assert.equal(await isSettled(attempt), false);
    clock.advance(1);
    await assert.rejects(attempt, ConnectTimeoutError);
    listener.close();
  },
);

Deno.test("MemoryNetwork: cut() closes both sides", async () => {
  const network = new MemoryNetwork();
  await using pair = await connectPair(memoryFixture(network));
  await pair.client.write(encode("dropped"));
  const pending = pair.client.read();
  network.cut(HOST_B, HOST_A);
  assert.equal(await pending, null);
  assert.equal(await pair.server.read(), null);
  assert.equal(pair.client.closed, true);
  assert.equal(pair.server.closed, true);
  await assert.rejects(pair.client.write(encode("x")), ConnectionClosedError);
  await assert.rejects(pair.server.write(encode("x")), ConnectionClosedError);
  assert.equal(network.openConnectionCount, 0);
});

Deno.test(
  "MemoryNetwork: connect() to a down host throws ConnectTimeoutError once the clock advances",
  async () => {
    const clock = new ManualClock();
    const network = new MemoryNetwork({ clock, connectTimeoutMs: 2000 });
    const listener = await network.transport(HOST_A).listen({ host: HOST_A, port: 7000 });
    network.setHostDown(HOST_A, true);
    const attempt = network.transport(HOST_B).connect(listener.address);
    clock.advance(1999);
    assert.equal(await isSettled(attempt), false);
    clock.advance(1);
    await assert.rejects(attempt, ConnectTimeoutError);
    network.setHostDown(HOST_A, false);
    const connection = await network.transport(HOST_B).connect(listener.address);
    connection.close();
    listener.close();
    assert.equal(network.openConnectionCount, 0);
  },
);

Deno.test("MemoryNetwork: pipe capacity blocks the writer until the reader reads", async () => {
  const network = new MemoryNetwork({ pipeCapacityBytes: 1024 });
  await using pair = await connectPair(memoryFixture(network));
  await pair.client.write(pattern(1024, 0));
  const blocked = pair.client.write(pattern(3000, 1));
  assert.equal(await isSettled(blocked), false);
  const chunks: Uint8Array[] = [];
  for (let received = 0; received < 4024;) {
    const bytes = (await pair.server.read())!;
    assert(bytes.length <= 1024, `read ${bytes.length} bytes from a 1024-byte pipe`);
    chunks.push(bytes);
    received += bytes.length;
  }
  await blocked;
  assert.deepEqual(concat(chunks), concat([pattern(1024, 0), pattern(3000, 1)]));
});

Deno.test("MemoryNetwork: latencyMs delays delivery until the clock advances", async () => {
  const clock = new ManualClock();
  const network = new MemoryNetwork({ clock, latencyMs: 10 });
  await using pair = await connectPair(memoryFixture(network));
  await pair.client.write(encode("a"));
  clock.advance(5);
  await pair.client.write(encode("b"));
  pair.client.close();
  const read = pair.server.read();
  clock.advance(4);
  assert.equal(await isSettled(read), false);
  clock.advance(1);
  assert.equal(decode((await read)!), "a");
  clock.advance(5);
  assert.equal(decode((await pair.server.read())!), "b");
  assert.equal(await pair.server.read(), null);
});

Deno.test(
  "MemoryNetwork: reads coalesce small writes and split large ones at readSizeBytesMax",
  async () => {
    const network = new MemoryNetwork({ readSizeBytesMax: 1000 });
    await using pair = await connectPair(memoryFixture(network));
    for (let i = 0; i < 3; i++) await pair.client.write(pattern(10, i));
    await flush();
    assert.equal((await pair.server.read())!.length, 30);
    await pair.client.write(pattern(2500, 0));
    await flush();
    const sizes = [];
    for (let i = 0; i < 3; i++) sizes.push((await pair.server.read())!.length);
    assert.deepEqual(sizes, [1000, 1000, 500]);
  },
);

Deno.test(
  "MemoryNetwork: a write to a closed peer rejects and resets the writer's end",
  async () => {
    const network = new MemoryNetwork();
    await using pair = await connectPair(memoryFixture(network));
    pair.server.close();
    await assert.rejects(pair.client.write(encode("x")), ConnectionClosedError);
    assert.equal(pair.client.closed, true);
    assert.equal(network.openConnectionCount, 0);
  },
);

Deno.test("MemoryNetwork: closing a listener resets connections it has not accepted", async () => {
  const network = new MemoryNetwork();
  const listener = await network.transport(HOST_A).listen({ host: HOST_A, port: 0 });
  const client = await network.transport(HOST_B).connect(listener.address);
  listener.close();
  assert.equal(await client.read(), null);
  assert.equal(client.closed, true);
  assert.equal(network.openConnectionCount, 0);
});

Deno.test("MemoryNetwork: a full accept backlog makes connect() time out", async () => {
  const clock = new ManualClock();
  const network = new MemoryNetwork({ clock, acceptBacklogMax: 1 });
  const listener = await network.transport(HOST_A).listen({ host: HOST_A, port: 0 });
  const first = await network.transport(HOST_B).connect(listener.address);
  const second = network.transport(HOST_C).connect(listener.address, { timeoutMs: 50 });
  clock.advance(50);
  await assert.rejects(second, ConnectTimeoutError);
  first.close();
  listener.close();
});

Deno.test(
  "MemoryNetwork: port 0 takes increasing free ports; other hosts' addresses are refused",
  async () => {
    const transport = new MemoryNetwork().transport(HOST_A);
    const first = await transport.listen({ host: HOST_A, port: 0 });
    const second = await transport.listen({ host: HOST_A, port: 0 });
    assert(second.address.port > first.address.port);
    await assert.rejects(transport.listen({ host: HOST_B, port: 0 }), Deno.errors.AddrNotAvailable);
    first.close();
    second.close();
  },
);

Deno.test("MemoryNetwork: options out of range throw RangeError", () => {
  assert.throws(() => new MemoryNetwork({ pipeCapacityBytes: 0 }), RangeError);
  assert.throws(() => new MemoryNetwork({ latencyMs: -1 }), RangeError);
  assert.throws(() => new MemoryNetwork({ acceptBacklogMax: 0.5 }), RangeError);
});

// ---- TcpTransport only ------------------------------------------------------------------------

Deno.test("TcpTransport: connect() and accept() set TCP_NODELAY on both ends", async () => {
  const transport = new TcpTransport();
  const listener = await transport.listen({ host: "127.0.0.1", port: 0 });
  // Deno exposes no getter for the option, so spy on the method of its connection class.
  const probe = await Deno.connect({ hostname: "127.0.0.1", port: listener.address.port });
  const probeAccepted = await listener.accept();
  const prototype = Object.getPrototypeOf(probe) as Deno.TcpConn;
  const original = prototype.setNoDelay;
  const calls: [number, boolean | undefined][] = [];
  prototype.setNoDelay = function (this: Deno.TcpConn, noDelay?: boolean) {
    calls.push([this.localAddr.port, noDelay]);
    return original.call(this, noDelay);
  };
  try {
    const accepted = listener.accept();
    const client = await transport.connect(listener.address);
    const server = await accepted;
    assert(server !== null);
    assert.deepEqual(
      calls.map((
        [port, noDelay],
      ) => [port === listener.address.port ? "server" : "client", noDelay])
        .sort(),
      [["client", true], ["server", true]],
    );
    client.close();
    server.close();
  } finally {
    prototype.setNoDelay = original;
    probe.close();
    probeAccepted?.close();
    listener.close();
  }
});

Deno.test(
  "TcpTransport: connect() throws ConnectTimeoutError when the clock passes timeoutMs first",
  async () => {
    const clock = new ManualClock();
    const transport = new TcpTransport({ clock });
    const listener = await transport.listen({ host: "127.0.0.1", port: 0 });
    try {
      const attempt = transport.connect(listener.address, { timeoutMs: 5 });
      clock.advance(5); // before the connect could complete: no event loop turn yet
      await assert.rejects(attempt, ConnectTimeoutError);
    } finally {
      listener.close();
    }
  },
);

Deno.test(
  "TcpTransport: a tiny real timeout yields a connection or ConnectTimeoutError, nothing leaked",
  async () => {
    const transport = new TcpTransport();
    const listener = await transport.listen({ host: "127.0.0.1", port: 0 });
    try {
      for (const timeoutMs of [0, 1]) {
        try {
          const connection = await transport.connect(listener.address, { timeoutMs });
          connection.close();
        } catch (error) {
          assert(error instanceof ConnectTimeoutError, `unexpected ${error}`);
        }
      }
    } finally {
      listener.close();
    }
  },
);

Deno.test(
  "TcpTransport: a peer's reset fails writes with ConnectionClosedError and closes our end",
  async () => {
    const transport = new TcpTransport();
    await using pair = await connectPair({
      server: transport,
      client: transport,
      listenAddress: { host: "127.0.0.1", port: 0 },
    });
    await pair.server.write(encode("reply nobody reads"));
    await flush();
    // Deno sends FIN, then the kernel sends RST because the socket closes with unread bytes.
    pair.client.close();
    assert.equal(await pair.server.read(), null);
    assert.equal(pair.server.closed, false);
    // TCP may take a write or two before it reports the reset.
    let error: unknown;
    for (let i = 0; i < 10 && error === undefined; i++) {
      await pair.server.write(encode("x")).catch((e) => error = e);
    }
    assert(error instanceof ConnectionClosedError, `expected ConnectionClosedError, got ${error}`);
    assert.equal(pair.server.closed, true);
  },
);
