/**
 * The fault proxy's view of the initiator→acceptor byte stream (PROTOCOL.md §4, §6): it
 * follows the Initiate, then frame boundaries, and applies the faults a test asked for to the
 * right bytes however TCP split them. Used by `fault_proxy.ts`.
 *
 * @module
 */

import type { Random } from "../src/random.ts";
import { crc24 } from "../src/wire/crc24.ts";
import type { LinkType } from "./fault_proxy.ts";

const MAGIC = [0xca, 0x55, 0x2d, 0xfa] as const;
const VERSION_12 = 12;
// Magic, flags, address length byte, IPv6 address + port, CRC32.
const INITIATE_LENGTH_MAX = 4 + 4 + 1 + 18 + 4;

export type FrameFaultKind = "payload" | "header";

export interface FrameFault {
  readonly type: LinkType | undefined;
  remaining: number;
}

export interface OffsetFault {
  readonly type: LinkType | undefined;
  readonly offset: number;
  readonly bit: number;
}

/** Pending faults and what has been applied; shared by all connections of one proxy. */
export class FaultBook {
  readonly random: Random;
  readonly frameFaults: Record<FrameFaultKind, FrameFault[]> = { payload: [], header: [] };
  readonly offsetFaults: OffsetFault[] = [];
  readonly corrupted: Record<FrameFaultKind, number> = { payload: 0, header: 0 };
  bytesFlipped = 0;

  constructor(random: Random) {
    this.random = random;
  }

  /** Takes one pending fault of `kind` that applies to `type`, if any. */
  takeFrameFault(kind: FrameFaultKind, type: LinkType | undefined): boolean {
    const faults = this.frameFaults[kind];
    const index = faults.findIndex((fault) => fault.type === undefined || fault.type === type);
    const fault = faults[index];
    if (fault === undefined) return false;
    if (--fault.remaining === 0) faults.splice(index, 1);
    this.corrupted[kind]++;
    return true;
  }

  /** Applies the offset faults that fall in `bytes[start..]`, which begins at `streamOffset`. */
  applyOffsetFaults(
    type: LinkType | undefined,
    bytes: Uint8Array,
    start: number,
    streamOffset: number,
  ): void {
    for (let i = 0; i < this.offsetFaults.length;) {
      const fault = this.offsetFaults[i]!;
      const index = start + fault.offset - streamOffset;
      const applies = fault.type === undefined || fault.type === type;
      if (applies && fault.offset >= streamOffset && index < bytes.length) {
        bytes[index]! ^= 1 << fault.bit;
        this.bytesFlipped++;
        this.offsetFaults.splice(i, 1);
      } else {
        i++;
      }
    }
  }
}

/**
 * Sans-I/O scanner of the initiator→acceptor byte stream: finds the Initiate and frame
 * boundaries and applies faults. Partial Initiates and frame headers are held back until whole,
 * so a header can be damaged in one place whatever the TCP segmentation.
 */
export class InitiatorStreamScanner {
  /** Connection type once the Initiate is read; undefined for streaming or non-handshakes. */
  type: LinkType | undefined;
  readonly #faults: FaultBook;
  #phase: "initiate" | "header" | "body" | "stream" = "initiate";
  readonly #held = new Uint8Array(INITIATE_LENGTH_MAX);
  #heldLength = 0;
  #lz4 = false;
  #headerLength = 0;
  #trailerLength = 0;
  #bodyLength = 0;
  #bodyPos = 0;
  #flipOffset = -1;
  #flipBit = 0;
  #streamOffset = 0;

  constructor(faults: FaultBook) {
    this.#faults = faults;
  }

  /** Scans the next chunk; returns the bytes to forward now and how many frames they end. */
  scan(chunk: Uint8Array): { bytes: Uint8Array; frames: number } {
    const out = new Uint8Array(this.#heldLength + chunk.length);
    let outLength = 0;
    const emit = (bytes: Uint8Array) => {
      out.set(bytes, outLength);
      outLength += bytes.length;
    };
    let streamStart = this.#phase === "initiate" ? -1 : 0;
    let frames = 0;
    for (let i = 0; i < chunk.length;) {
      if (this.#phase === "stream") {
        emit(chunk.subarray(i));
        break;
      }
      if (this.#phase === "body") {
        const take = Math.min(this.#bodyLength - this.#bodyPos, chunk.length - i);
        const at = outLength;
        emit(chunk.subarray(i, i + take));
        const flipAt = this.#flipOffset - this.#bodyPos;
        if (flipAt >= 0 && flipAt < take) out[at + flipAt]! ^= 1 << this.#flipBit;
        this.#bodyPos += take;
        i += take;
        if (this.#bodyPos === this.#bodyLength) {
          frames++;
          this.#phase = "header";
        }
        continue;
      }
      const need = this.#phase === "initiate" ? this.#initiateLength() : this.#headerLength;
      const take = Math.min(need - this.#heldLength, chunk.length - i);
      this.#held.set(chunk.subarray(i, i + take), this.#heldLength);
      this.#heldLength += take;
      i += take;
      if (this.#phase === "header") {
        if (this.#heldLength === this.#headerLength) frames += this.#startFrame(emit);
        continue;
      }
      const length = this.#initiateLength();
      if (length < 0) {
        // Not a handshake: everything is stream, from its first byte.
        streamStart = outLength;
        emit(this.#takeHeld());
        this.#phase = "stream";
      } else if (this.#heldLength === length) {
        emit(this.#takeHeld());
        streamStart = outLength;
        this.#enterMessageStream();
      }
    }
    const bytes = out.subarray(0, outLength);
    if (streamStart >= 0) {
      this.#faults.applyOffsetFaults(this.type, bytes, streamStart, this.#streamOffset);
      this.#streamOffset += outLength - streamStart;
    }
    return { bytes, frames };
  }

  /** The bytes held back at end of stream (an incomplete Initiate or header), unchanged. */
  flush(): Uint8Array {
    return this.#takeHeld();
  }

  #takeHeld(): Uint8Array {
    const held = this.#held.slice(0, this.#heldLength);
    this.#heldLength = 0;
    return held;
  }

  /** Total Initiate length as far as the held bytes tell, or -1 when this is no Initiate. */
  #initiateLength(): number {
    const held = this.#held;
    const n = this.#heldLength;
    for (let i = 0; i < Math.min(n, 4); i++) if (held[i] !== MAGIC[i]) return -1;
    if (n < 8) return 8;
    const flags = readInt32(held, 4);
    if (((flags >>> 8) & 0xff) < VERSION_12 || flags >>> 24 < VERSION_12) return 8;
    if (n < 9) return 9;
    const addressLength = held[8]!;
    // Any other length is rejected by the acceptor; do not wait for bytes that may never come.
    if (addressLength !== 6 && addressLength !== 18) return -1;
    return 9 + addressLength + 4;
  }

  #enterMessageStream(): void {
    const flags = readInt32(this.#held, 4);
    const streaming = ((flags >>> 3) & 1) === 1;
    const typeId = flags & 3;
    this.type = streaming || typeId === 0 ? undefined : typeId as LinkType;
    const modern = ((flags >>> 8) & 0xff) >= VERSION_12 && flags >>> 24 >= VERSION_12;
    const framingId = ((flags >>> 2) & 1) | (((flags >>> 4) & 1) << 1);
    if (!modern || streaming || framingId === 3) {
      this.#phase = "stream";
      return;
    }
    this.#lz4 = framingId === 1;
    this.#headerLength = this.#lz4 ? 8 : 6;
    this.#trailerLength = framingId === 0 ? 0 : 4;
    this.#phase = "header";
  }

  /** Handles a whole held header: faults, then emits it; returns 1 when the frame ends here. */
  #startFrame(emit: (bytes: Uint8Array) => void): number {
    const header = this.#held;
    const lengthBytes = this.#lz4 ? 5 : 3;
    // Lengths come from the original header, before any damage we add.
    const payloadLength = header[0]! | (header[1]! << 8) | ((header[2]! & 1) << 16);
    const crc = header[lengthBytes]! | (header[lengthBytes + 1]! << 8) |
      (header[lengthBytes + 2]! << 16);
    if (crc !== crc24(header, 0, lengthBytes)) {
      // Damaged upstream: the length cannot be trusted, so no more frames can be found.
      emit(this.#takeHeld());
      this.#phase = "stream";
      return 0;
    }
    const random = this.#faults.random;
    this.#flipOffset = -1;
    if (this.#faults.takeFrameFault("header", this.type)) {
      header[random.nextInt(lengthBytes)]! ^= 1 << random.nextInt(8);
    } else if (payloadLength > 0 && this.#faults.takeFrameFault("payload", this.type)) {
      this.#flipOffset = random.nextInt(payloadLength);
      this.#flipBit = random.nextInt(8);
    }
    emit(this.#takeHeld());
    this.#bodyLength = payloadLength + this.#trailerLength;
    this.#bodyPos = 0;
    if (this.#bodyLength === 0) return 1;
    this.#phase = "body";
    return 0;
  }
}

/** Settings and counters shared by a proxy and its connections. */

function readInt32(bytes: Uint8Array, offset: number): number {
  return ((bytes[offset]! << 24) | (bytes[offset + 1]! << 16) | (bytes[offset + 2]! << 8) |
    bytes[offset + 3]!) >>> 0;
}
