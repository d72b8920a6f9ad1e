/**
 * Gossip payloads (PROTOCOL.md §10): the digests of `GOSSIP_DIGEST_SYN` and the endpoint states of
 * `GOSSIP_DIGEST_ACK` / `GOSSIP_DIGEST_ACK2`, in Cassandra's layout (all integers big-endian
 * 4-byte ints, strings in Java `writeUTF` form: a u16 length then UTF-8).
 *
 * Addresses take the connection's version form: with port at version 12, without at 11 (a
 * version-11 address reads back with port 0; the receiver substitutes the cluster's storage port).
 * Application states with ordinals this node does not know are kept, so they pass through it.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { deserializePayload, serializePayload } from "./payload_serializer.ts";
 * import { ApplicationState, gossipDigestSynSerializer } from "./gossip_payloads.ts";
 * const address = { host: "10.0.0.1", port: 7000 };
 * const syn = {
 *   clusterName: "ring",
 *   partitionerName: "Murmur3Partitioner",
 *   digests: [{ address, generation: 1700000000, maxVersion: 7 }],
 * };
 * const bytes = serializePayload(gossipDigestSynSerializer, syn, 12);
 * assert.deepEqual(deserializePayload(gossipDigestSynSerializer, bytes, 12), syn);
 * assert.equal(ApplicationState.STATUS_WITH_PORT, 17);
 * ```
 *
 * @module
 */

import type { ByteReader } from "./byte_reader.ts";
import type { ByteWriter } from "./byte_writer.ts";
import { MalformedInputError } from "./errors.ts";
import {
  type InetAddressAndPort,
  inetAddressSize,
  readInetAddress,
  writeInetAddress,
} from "./inet_address.ts";
import type { PayloadSerializer } from "./payload_serializer.ts";
import { checkInt32, readInt32Count, utf16LengthStringSize } from "./payload_serializers.ts";

/**
 * Application state ordinals used by Ringwire (Cassandra's `ApplicationState` ordinals).
 * Append-only: these numbers are part of the wire protocol; never renumber or reuse one.
 */
export const ApplicationState = {
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
} as const;
Object.freeze(ApplicationState);

/** One known {@link ApplicationState} ordinal. */
export type ApplicationState = typeof ApplicationState[keyof typeof ApplicationState];

/** A gossip digest: what one node knows of an endpoint, compared generation first. */
export interface GossipDigest {
  /** The endpoint described. */
  readonly address: InetAddressAndPort;
  /** The endpoint's generation (its start time in seconds). */
  readonly generation: number;
  /** Highest version among its heartbeat and application states. */
  readonly maxVersion: number;
}

/** `GOSSIP_DIGEST_SYN`: the sender's cluster, partitioner and digests of all it knows. */
export interface GossipDigestSyn {
  /** Cluster name; a SYN from another cluster is ignored. */
  readonly clusterName: string;
  /** Partitioner name; a SYN with another partitioner is ignored. */
  readonly partitionerName: string;
  /** One digest per known endpoint (empty in a shadow round). */
  readonly digests: readonly GossipDigest[];
}

/** A node's heartbeat: its generation and a version bumped every gossip round. */
export interface HeartBeatState {
  /** Generation (start time in seconds, or stored + 1). */
  readonly generation: number;
  /** Heartbeat version, from the process-wide version counter (-1 when empty). */
  readonly version: number;
}

/** One application state value and the version it was set at. */
export interface VersionedValue {
  /** The value; multi-part values are comma-joined (`"NORMAL,<token>"`). */
  readonly value: string;
  /** Version from the process-wide version counter. */
  readonly version: number;
}

/** All gossip state of one endpoint. */
export interface EndpointState {
  /** Its heartbeat. */
  readonly heartbeat: HeartBeatState;
  /** Application states by ordinal ({@link ApplicationState}; unknown ordinals are kept). */
  readonly applicationStates: ReadonlyMap<number, VersionedValue>;
}

/** An endpoint's address with its state: one entry of an ACK or ACK2. */
export interface EndpointStateEntry {
  /** The endpoint. */
  readonly address: InetAddressAndPort;
  /** Its state (possibly only the states newer than a digest asked for). */
  readonly state: EndpointState;
}

/** `GOSSIP_DIGEST_ACK`: digests the sender wants state for, and states it sends. */
export interface GossipDigestAck {
  /** Endpoints whose newer state the SYN's sender should send in the ACK2. */
  readonly digests: readonly GossipDigest[];
  /** States newer than the SYN's digests. */
  readonly endpointStates: readonly EndpointStateEntry[];
}

/** `GOSSIP_DIGEST_ACK2`: the states an ACK asked for. */
export interface GossipDigestAck2 {
  /** States newer than the ACK's digests. */
  readonly endpointStates: readonly EndpointStateEntry[];
}

/** Fewest bytes an address can take on the wire (length byte + IPv4, no port). */
const MIN_ADDRESS_BYTES = 5;
const MIN_DIGEST_BYTES = MIN_ADDRESS_BYTES + 8;
const MIN_VERSIONED_STATE_BYTES = 4 + 2 + 4;
const MIN_ENDPOINT_STATE_BYTES = 8 + 4;
const MIN_ENDPOINT_ENTRY_BYTES = MIN_ADDRESS_BYTES + MIN_ENDPOINT_STATE_BYTES;

/** `GossipDigest`: address, generation int, maxVersion int. */
export const gossipDigestSerializer: PayloadSerializer<GossipDigest> = Object.freeze({
  serializedSize(value: GossipDigest, version: number): number {
    return inetAddressSize(value.address, version) + 8;
  },
  write(value: GossipDigest, out: ByteWriter, version: number): void {
    checkInt32(value.generation, "gossip digest generation");
    checkInt32(value.maxVersion, "gossip digest max version");
    writeInetAddress(value.address, out, version);
    out.writeInt32(value.generation);
    out.writeInt32(value.maxVersion);
  },
  read(input: ByteReader): GossipDigest {
    const address = readInetAddress(input);
    const generation = input.readInt32("gossip digest generation");
    return { address, generation, maxVersion: input.readInt32("gossip digest max version") };
  },
});

/** `VersionedValue`: `writeUTF(value)`, then version int. */
export const versionedValueSerializer: PayloadSerializer<VersionedValue> = Object.freeze({
  serializedSize(value: VersionedValue): number {
    return utf16LengthStringSize(value.value) + 4;
  },
  write(value: VersionedValue, out: ByteWriter): void {
    checkInt32(value.version, "versioned value version");
    out.writeUtf16Length(value.value);
    out.writeInt32(value.version);
  },
  read(input: ByteReader): VersionedValue {
    const value = input.readUtf16Length("versioned value");
    return { value, version: input.readInt32("versioned value version") };
  },
});

/** `EndpointState`: heartbeat (generation int, version int), int k, k × (ordinal int, value). */
export const endpointStateSerializer: PayloadSerializer<EndpointState> = Object.freeze({
  serializedSize(value: EndpointState, version: number): number {
    let size = 12;
    for (const state of value.applicationStates.values()) {
      size += 4 + versionedValueSerializer.serializedSize(state, version);
    }
    return size;
  },
  write(value: EndpointState, out: ByteWriter, version: number): void {
    checkInt32(value.heartbeat.generation, "heartbeat generation");
    checkInt32(value.heartbeat.version, "heartbeat version");
    out.writeInt32(value.heartbeat.generation);
    out.writeInt32(value.heartbeat.version);
    out.writeInt32(value.applicationStates.size);
    for (const [ordinal, state] of value.applicationStates) {
      if (!Number.isInteger(ordinal) || ordinal < 0 || ordinal > 0x7fffffff) {
        throw new RangeError(`Cannot write application state: ordinal ${ordinal} is invalid`);
      }
      out.writeInt32(ordinal);
      versionedValueSerializer.write(state, out, version);
    }
  },
  read(input: ByteReader, version: number): EndpointState {
    const generation = input.readInt32("heartbeat generation");
    const heartbeat = { generation, version: input.readInt32("heartbeat version") };
    const count = readInt32Count(input, MIN_VERSIONED_STATE_BYTES, "application states");
    const applicationStates = new Map<number, VersionedValue>();
    for (let i = 0; i < count; i++) {
      const ordinal = input.readInt32("application state ordinal");
      if (ordinal < 0) {
        throw new MalformedInputError(
          `Cannot read application state: negative ordinal ${ordinal}`,
        );
      }
      if (applicationStates.has(ordinal)) {
        throw new MalformedInputError(
          `Cannot read application state: ordinal ${ordinal} appears twice`,
        );
      }
      applicationStates.set(ordinal, versionedValueSerializer.read(input, version));
    }
    return { heartbeat, applicationStates };
  },
});

function digestsSize(digests: readonly GossipDigest[], version: number): number {
  let size = 4;
  for (const digest of digests) size += gossipDigestSerializer.serializedSize(digest, version);
  return size;
}

function writeDigests(digests: readonly GossipDigest[], out: ByteWriter, version: number): void {
  out.writeInt32(digests.length);
  for (const digest of digests) gossipDigestSerializer.write(digest, out, version);
}

function readDigests(input: ByteReader, version: number): GossipDigest[] {
  const count = readInt32Count(input, MIN_DIGEST_BYTES, "gossip digests");
  const digests: GossipDigest[] = [];
  for (let i = 0; i < count; i++) digests.push(gossipDigestSerializer.read(input, version));
  return digests;
}

function entriesSize(entries: readonly EndpointStateEntry[], version: number): number {
  let size = 4;
  for (const entry of entries) {
    size += inetAddressSize(entry.address, version) +
      endpointStateSerializer.serializedSize(entry.state, version);
  }
  return size;
}

function writeEntries(
  entries: readonly EndpointStateEntry[],
  out: ByteWriter,
  version: number,
): void {
  out.writeInt32(entries.length);
  for (const entry of entries) {
    writeInetAddress(entry.address, out, version);
    endpointStateSerializer.write(entry.state, out, version);
  }
}

function readEntries(input: ByteReader, version: number): EndpointStateEntry[] {
  const count = readInt32Count(input, MIN_ENDPOINT_ENTRY_BYTES, "endpoint states");
  const entries: EndpointStateEntry[] = [];
  for (let i = 0; i < count; i++) {
    const address = readInetAddress(input);
    entries.push({ address, state: endpointStateSerializer.read(input, version) });
  }
  return entries;
}

/** `GOSSIP_DIGEST_SYN`: `writeUTF(cluster)`, `writeUTF(partitioner)`, int n, n × digest. */
export const gossipDigestSynSerializer: PayloadSerializer<GossipDigestSyn> = Object.freeze({
  serializedSize(value: GossipDigestSyn, version: number): number {
    return utf16LengthStringSize(value.clusterName) +
      utf16LengthStringSize(value.partitionerName) + digestsSize(value.digests, version);
  },
  write(value: GossipDigestSyn, out: ByteWriter, version: number): void {
    out.writeUtf16Length(value.clusterName);
    out.writeUtf16Length(value.partitionerName);
    writeDigests(value.digests, out, version);
  },
  read(input: ByteReader, version: number): GossipDigestSyn {
    const clusterName = input.readUtf16Length("cluster name");
    const partitionerName = input.readUtf16Length("partitioner name");
    return { clusterName, partitionerName, digests: readDigests(input, version) };
  },
});

/** `GOSSIP_DIGEST_ACK`: int n, n × digest, int m, m × (address, endpoint state). */
export const gossipDigestAckSerializer: PayloadSerializer<GossipDigestAck> = Object.freeze({
  serializedSize(value: GossipDigestAck, version: number): number {
    return digestsSize(value.digests, version) + entriesSize(value.endpointStates, version);
  },
  write(value: GossipDigestAck, out: ByteWriter, version: number): void {
    writeDigests(value.digests, out, version);
    writeEntries(value.endpointStates, out, version);
  },
  read(input: ByteReader, version: number): GossipDigestAck {
    const digests = readDigests(input, version);
    return { digests, endpointStates: readEntries(input, version) };
  },
});

/** `GOSSIP_DIGEST_ACK2`: int m, m × (address, endpoint state). */
export const gossipDigestAck2Serializer: PayloadSerializer<GossipDigestAck2> = Object.freeze({
  serializedSize(value: GossipDigestAck2, version: number): number {
    return entriesSize(value.endpointStates, version);
  },
  write(value: GossipDigestAck2, out: ByteWriter, version: number): void {
    writeEntries(value.endpointStates, out, version);
  },
  read(input: ByteReader, version: number): GossipDigestAck2 {
    return { endpointStates: readEntries(input, version) };
  },
});
