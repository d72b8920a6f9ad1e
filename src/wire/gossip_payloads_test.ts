import { deepEqual, equal, throws } from "node:assert/strict";
import fc from "fast-check";
import { MalformedInputError, TruncatedInputError, WireError } from "./errors.ts";
import {
  ApplicationState,
  type EndpointState,
  endpointStateSerializer,
  type GossipDigest,
  type GossipDigestAck,
  type GossipDigestAck2,
  gossipDigestAck2Serializer,
  gossipDigestAckSerializer,
  gossipDigestSerializer,
  type GossipDigestSyn,
  gossipDigestSynSerializer,
  type VersionedValue,
  versionedValueSerializer,
} from "./gossip_payloads.ts";
import {
  deserializePayload,
  type PayloadSerializer,
  serializePayload,
} from "./payload_serializer.ts";
import { hex, toHex } from "./_test/hex.ts";
import { addressArb, assertPrefixesFail, roundTrip } from "./_test/payload_checks.ts";

const VERSIONS = [11, 12] as const;

const int32Arb = fc.integer({ min: -0x80000000, max: 0x7fffffff });

const versionedValueArb: fc.Arbitrary<VersionedValue> = fc.record({
  value: fc.string({ unit: "binary", maxLength: 30 }),
  version: int32Arb,
});

const endpointStateArb: fc.Arbitrary<EndpointState> = fc.record({
  heartbeat: fc.record({ generation: int32Arb, version: int32Arb }),
  applicationStates: fc.array(
    fc.tuple(fc.integer({ min: 0, max: 0x7fffffff }), versionedValueArb),
    { maxLength: 6 },
  ).map((entries) => new Map(entries)),
});

function digestArb(version: number): fc.Arbitrary<GossipDigest> {
  return fc.record({ address: addressArb(version), generation: int32Arb, maxVersion: int32Arb });
}

function entriesArb(version: number) {
  return fc.array(fc.record({ address: addressArb(version), state: endpointStateArb }), {
    maxLength: 4,
  });
}

function synArb(version: number): fc.Arbitrary<GossipDigestSyn> {
  return fc.record({
    clusterName: fc.string({ maxLength: 20 }),
    partitionerName: fc.string({ maxLength: 40 }),
    digests: fc.array(digestArb(version), { maxLength: 5 }),
  });
}

function ackArb(version: number): fc.Arbitrary<GossipDigestAck> {
  return fc.record({
    digests: fc.array(digestArb(version), { maxLength: 4 }),
    endpointStates: entriesArb(version),
  });
}

function ack2Arb(version: number): fc.Arbitrary<GossipDigestAck2> {
  return fc.record({ endpointStates: entriesArb(version) });
}

Deno.test("gossipDigestSerializer matches hand-written bytes at both versions", () => {
  const digest: GossipDigest = {
    address: { host: "127.0.0.1", port: 7000 },
    generation: 0x12345678,
    maxVersion: 5,
  };
  const v12 = "06 7f 00 00 01 1b 58 12 34 56 78 00 00 00 05";
  equal(toHex(serializePayload(gossipDigestSerializer, digest, 12)), v12);
  deepEqual(deserializePayload(gossipDigestSerializer, hex(v12), 12), digest);
  const v11 = "04 7f 00 00 01 12 34 56 78 00 00 00 05";
  equal(toHex(serializePayload(gossipDigestSerializer, digest, 11)), v11);
  deepEqual(deserializePayload(gossipDigestSerializer, hex(v11), 11), {
    ...digest,
    address: { host: "127.0.0.1", port: 0 },
  });
  const negative = { address: { host: "::1", port: 1 }, generation: -1, maxVersion: -1 };
  const v12ipv6 =
    "12 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 01 00 01 ff ff ff ff ff ff ff ff";
  equal(toHex(serializePayload(gossipDigestSerializer, negative, 12)), v12ipv6);
  deepEqual(deserializePayload(gossipDigestSerializer, hex(v12ipv6), 12), negative);
});

Deno.test("versionedValueSerializer matches hand-written bytes", () => {
  const value: VersionedValue = { value: "NORMAL", version: 7 };
  const bytes = "00 06 4e 4f 52 4d 41 4c 00 00 00 07";
  for (const version of VERSIONS) {
    equal(toHex(serializePayload(versionedValueSerializer, value, version)), bytes);
    deepEqual(deserializePayload(versionedValueSerializer, hex(bytes), version), value);
  }
  const empty = "00 00 ff ff ff ff";
  deepEqual(deserializePayload(versionedValueSerializer, hex(empty), 12), {
    value: "",
    version: -1,
  });
});

Deno.test("endpointStateSerializer and gossipDigestSynSerializer match hand-written bytes", () => {
  const state: EndpointState = {
    heartbeat: { generation: 1, version: 2 },
    applicationStates: new Map([[ApplicationState.STATUS_WITH_PORT, {
      value: "NORMAL",
      version: 3,
    }]]),
  };
  const stateBytes =
    "00 00 00 01 00 00 00 02 00 00 00 01 00 00 00 11 00 06 4e 4f 52 4d 41 4c 00 00 00 03";
  equal(toHex(serializePayload(endpointStateSerializer, state, 12)), stateBytes);
  deepEqual(deserializePayload(endpointStateSerializer, hex(stateBytes), 12), state);

  const syn: GossipDigestSyn = { clusterName: "c", partitionerName: "p", digests: [] };
  const synBytes = "00 01 63 00 01 70 00 00 00 00";
  equal(toHex(serializePayload(gossipDigestSynSerializer, syn, 12)), synBytes);
  deepEqual(deserializePayload(gossipDigestSynSerializer, hex(synBytes), 12), syn);

  const ack2: GossipDigestAck2 = {
    endpointStates: [{ address: { host: "10.0.0.2", port: 7000 }, state }],
  };
  const ack2Bytes = `00 00 00 01 06 0a 00 00 02 1b 58 ${stateBytes}`;
  equal(toHex(serializePayload(gossipDigestAck2Serializer, ack2, 12)), ack2Bytes);
  deepEqual(deserializePayload(gossipDigestAck2Serializer, hex(ack2Bytes), 12), ack2);
});

Deno.test("gossip payloads round-trip at versions 11 and 12", () => {
  for (const version of VERSIONS) {
    fc.assert(fc.property(synArb(version), (syn) => {
      roundTrip(gossipDigestSynSerializer, syn, version);
    }));
    fc.assert(fc.property(ackArb(version), (ack) => {
      roundTrip(gossipDigestAckSerializer, ack, version);
    }));
    fc.assert(fc.property(ack2Arb(version), (ack2) => {
      roundTrip(gossipDigestAck2Serializer, ack2, version);
    }));
    fc.assert(fc.property(endpointStateArb, (state) => {
      roundTrip(endpointStateSerializer, state, version);
    }));
  }
});

Deno.test("gossip payloads fail every truncation with a typed error", () => {
  for (const version of VERSIONS) {
    fc.assert(
      fc.property(ackArb(version), (ack) => {
        const bytes = serializePayload(gossipDigestAckSerializer, ack, version);
        assertPrefixesFail(gossipDigestAckSerializer, bytes, version);
      }),
      { numRuns: 50 },
    );
    fc.assert(
      fc.property(synArb(version), (syn) => {
        const bytes = serializePayload(gossipDigestSynSerializer, syn, version);
        assertPrefixesFail(gossipDigestSynSerializer, bytes, version);
      }),
      { numRuns: 50 },
    );
  }
  // Without lists, a cut is always a TruncatedInputError.
  const digest = serializePayload(gossipDigestSerializer, {
    address: { host: "10.1.2.3", port: 9 },
    generation: 1,
    maxVersion: 2,
  }, 12);
  for (let n = 0; n < digest.length; n++) {
    throws(
      () => deserializePayload(gossipDigestSerializer, digest.subarray(0, n), 12),
      TruncatedInputError,
    );
  }
});

Deno.test("gossip readers refuse absurd and negative counts as MalformedInputError", () => {
  const syn = "00 01 63 00 01 70";
  throws(
    () => deserializePayload(gossipDigestSynSerializer, hex(`${syn} 7f ff ff ff`), 12),
    MalformedInputError,
  );
  throws(
    () => deserializePayload(gossipDigestSynSerializer, hex(`${syn} ff ff ff ff`), 12),
    MalformedInputError,
  );
  // Two digests claimed, room for one (13 bytes is the smallest digest).
  const one = "04 0a 00 00 01 00 00 00 01 00 00 00 01";
  throws(
    () => deserializePayload(gossipDigestSynSerializer, hex(`${syn} 00 00 00 02 ${one}`), 11),
    /a count of 2 needs at least 26 bytes but 13 remain/,
  );
  throws(
    () => deserializePayload(gossipDigestAckSerializer, hex("00 00 00 00 7f ff ff ff 00 00"), 12),
    MalformedInputError,
  );
  throws(
    () => deserializePayload(gossipDigestAck2Serializer, hex("7f ff ff ff"), 12),
    MalformedInputError,
  );
  throws(
    () =>
      deserializePayload(endpointStateSerializer, hex("00 00 00 01 00 00 00 01 7f ff ff ff"), 12),
    MalformedInputError,
  );
});

Deno.test("endpointStateSerializer refuses negative and repeated ordinals", () => {
  const head = "00 00 00 01 00 00 00 01 00 00 00 02";
  const value = "00 00 00 00 00 01";
  throws(
    () =>
      deserializePayload(
        endpointStateSerializer,
        hex(`${head} 00 00 00 01 ${value} 00 00 00 01 ${value}`),
        12,
      ),
    /appears twice/,
  );
  throws(
    () =>
      deserializePayload(
        endpointStateSerializer,
        hex(`${head} ff ff ff ff ${value} 00 00 00 01 ${value}`),
        12,
      ),
    /negative ordinal/,
  );
});

Deno.test("endpointStateSerializer keeps application states with unknown ordinals", () => {
  const state: EndpointState = {
    heartbeat: { generation: 5, version: 9 },
    applicationStates: new Map([[99, { value: "future", version: 8 }], [
      ApplicationState.DC,
      { value: "dc1", version: 4 },
    ]]),
  };
  equal(roundTrip(endpointStateSerializer, state, 12).length, 12 + 2 * 10 + 6 + 3);
});

Deno.test("gossip writers refuse values that are not Java ints", () => {
  const address = { host: "10.0.0.1", port: 1 };
  throws(
    () =>
      serializePayload(gossipDigestSerializer, { address, generation: 2 ** 31, maxVersion: 0 }, 12),
    RangeError,
  );
  throws(
    () => serializePayload(versionedValueSerializer, { value: "x", version: 1.5 }, 12),
    RangeError,
  );
});

Deno.test("ApplicationState ordinals are append-only", () => {
  deepEqual({ ...ApplicationState }, {
    LOAD: 1,
    SCHEMA: 2,
    DC: 3,
    RACK: 4,
    RELEASE_VERSION: 5,
    SEVERITY: 10,
    NET_VERSION: 11,
    HOST_ID: 12,
    TOKENS: 13,
    RPC_READY: 14,
    INTERNAL_ADDRESS_AND_PORT: 15,
    NATIVE_ADDRESS_AND_PORT: 16,
    STATUS_WITH_PORT: 17,
  });
});

Deno.test("gossip readers throw only WireErrors on arbitrary bytes", () => {
  const serializers: PayloadSerializer<unknown>[] = [
    gossipDigestSynSerializer,
    gossipDigestAckSerializer,
    gossipDigestAck2Serializer,
    endpointStateSerializer,
  ];
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 64 }), fc.constantFrom(11, 12), (bytes, version) => {
      for (const serializer of serializers) {
        try {
          deserializePayload(serializer, bytes, version);
        } catch (error) {
          if (!(error instanceof WireError)) throw error;
        }
      }
    }),
  );
});

Deno.test("a versioned value that starts with U+FEFF keeps it (found by the property test)", () => {
  const state = {
    heartbeat: { generation: 1, version: 1 },
    applicationStates: new Map([[1, { value: "\uFEFFx", version: 2 }]]),
  };
  for (const version of VERSIONS) roundTrip(endpointStateSerializer, state, version);
});
