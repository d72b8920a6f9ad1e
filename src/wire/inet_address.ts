/**
 * Node addresses on the wire: `InetAddressAndPort` in its two forms (PROTOCOL.md §6).
 *
 * Version 12 writes one byte `addressLength + 2`, the address bytes, then the port as a
 * big-endian u16 (7 bytes for IPv4, 19 for IPv6). The pre-4.0 form (versions ≤ 11) writes one
 * byte `addressLength` and the address without a port. Readers accept length bytes 4, 16, 6, 18.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { inetAddressSize, writeInetAddress } from "./inet_address.ts";
 * import { ByteWriter } from "./byte_writer.ts";
 * const out = new ByteWriter(7);
 * writeInetAddress({ host: "127.0.0.1", port: 7000 }, out, 12);
 * assert(out.pos === inetAddressSize({ host: "127.0.0.1", port: 7000 }, 12));
 * ```
 *
 * @module
 */

import type { ByteReader } from "./byte_reader.ts";
import type { ByteWriter } from "./byte_writer.ts";
import { MalformedInputError } from "./errors.ts";

/** A node's internode address: an IP literal (v4 or v6) and a TCP port. */
export interface InetAddressAndPort {
  /** IPv4 dotted quad or IPv6 literal (no brackets). */
  readonly host: string;
  /** TCP port, 0–65535 (0 when the pre-4.0 form carried none). */
  readonly port: number;
}

/** First messaging version whose address form carries a port. */
const VERSION_40 = 12;

/** Most host strings whose parsed bytes are kept (gossip writes the same addresses each round). */
const PARSED_HOSTS_MAX = 16_384;
const parsedHosts = new Map<string, Uint8Array>();

/** {@link parseIpAddress}, remembered: the returned bytes are shared and must not be modified. */
function parsedIpAddress(host: string): Uint8Array {
  let bytes = parsedHosts.get(host);
  if (bytes === undefined) {
    bytes = parseIpAddress(host);
    if (parsedHosts.size >= PARSED_HOSTS_MAX) parsedHosts.clear();
    parsedHosts.set(host, bytes);
  }
  return bytes;
}

/** Parses an IPv4 or IPv6 literal into its 4 or 16 bytes; throws on anything else. */
export function parseIpAddress(host: string): Uint8Array {
  const v4 = parseIpv4(host);
  if (v4) return v4;
  const v6 = parseIpv6(host);
  if (v6) return v6;
  throw new MalformedInputError(`Cannot parse address: "${host}" is not an IPv4 or IPv6 literal`);
}

function parseIpv4(host: string): Uint8Array | undefined {
  const parts = host.split(".");
  if (parts.length !== 4) return undefined;
  const bytes = new Uint8Array(4);
  for (let i = 0; i < 4; i++) {
    const part = parts[i]!;
    if (!/^\d{1,3}$/.test(part)) return undefined;
    const value = Number(part);
    if (value > 255) return undefined;
    bytes[i] = value;
  }
  return bytes;
}

function parseIpv6(host: string): Uint8Array | undefined {
  let text = host;
  let tail: Uint8Array | undefined;
  const lastColon = text.lastIndexOf(":");
  if (lastColon >= 0 && text.includes(".", lastColon)) {
    tail = parseIpv4(text.slice(lastColon + 1));
    if (!tail) return undefined;
    text = text.slice(0, lastColon + 1) + "0:0";
  }
  const halves = text.split("::");
  if (halves.length > 2) return undefined;
  const groups = (s: string) => (s === "" ? [] : s.split(":"));
  const head = groups(halves[0]!);
  const rest = halves.length === 2 ? groups(halves[1]!) : [];
  const missing = 8 - head.length - rest.length;
  if (halves.length === 1 ? missing !== 0 : missing < 1) return undefined;
  const all = [...head, ...Array<string>(halves.length === 2 ? missing : 0).fill("0"), ...rest];
  const bytes = new Uint8Array(16);
  for (let i = 0; i < 8; i++) {
    const group = all[i]!;
    if (!/^[0-9a-fA-F]{1,4}$/.test(group)) return undefined;
    const value = parseInt(group, 16);
    bytes[2 * i] = value >>> 8;
    bytes[2 * i + 1] = value & 0xff;
  }
  if (tail) bytes.set(tail, 12);
  return bytes;
}

/** Formats 4 or 16 address bytes as an IP literal (IPv6 in compressed lower-case form). */
export function formatIpAddress(bytes: Uint8Array): string {
  if (bytes.length === 4) return bytes.join(".");
  if (bytes.length !== 16) {
    throw new MalformedInputError(`Cannot format address: ${bytes.length} bytes is not 4 or 16`);
  }
  const groups: number[] = [];
  for (let i = 0; i < 16; i += 2) groups.push((bytes[i]! << 8) | bytes[i + 1]!);
  // Compress the longest run (≥ 2) of zero groups, as RFC 5952 asks.
  let bestStart = -1;
  let bestLength = 1;
  for (let i = 0; i < 8;) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLength) {
      bestStart = i;
      bestLength = j - i;
    }
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (bestStart < 0) return hex.join(":");
  return `${hex.slice(0, bestStart).join(":")}::${hex.slice(bestStart + bestLength).join(":")}`;
}

/** Serialized size of `address` at `version`. */
export function inetAddressSize(address: InetAddressAndPort, version: number): number {
  const length = address.host.includes(":") ? 16 : 4;
  return 1 + length + (version >= VERSION_40 ? 2 : 0);
}

/** Writes `address` in the form of `version` (with port from version 12). */
export function writeInetAddress(
  address: InetAddressAndPort,
  out: ByteWriter,
  version: number,
): void {
  const bytes = parsedIpAddress(address.host);
  if (version >= VERSION_40) {
    out.writeUint8(bytes.length + 2);
    out.writeBytes(bytes);
    out.writeUint16(address.port);
  } else {
    out.writeUint8(bytes.length);
    out.writeBytes(bytes);
  }
}

/**
 * Reads an address in either form (the length byte tells: 4/16 without port, 6/18 with).
 * A pre-4.0 address reads with `defaultPort` (0 unless given).
 */
export function readInetAddress(input: ByteReader, defaultPort = 0): InetAddressAndPort {
  const length = input.readUint8("address length");
  switch (length) {
    case 4:
    case 16:
      return { host: formatIpAddress(input.readBytes(length, "address")), port: defaultPort };
    case 6:
    case 18: {
      const host = formatIpAddress(input.readBytes(length - 2, "address"));
      return { host, port: input.readUint16("port") };
    }
    default:
      throw new MalformedInputError(
        `Cannot read address: length byte ${length} is not one of 4, 6, 16, 18`,
      );
  }
}

/** `host:port`, with brackets around IPv6 hosts: the key used to index peers. */
export function formatInetAddress(address: InetAddressAndPort): string {
  return address.host.includes(":")
    ? `[${address.host}]:${address.port}`
    : `${address.host}:${address.port}`;
}
