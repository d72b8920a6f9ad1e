/**
 * The wire layer (PROTOCOL.md): bytes only, no I/O and no clock. Vints, checksums, frames, the
 * message codec for versions 12 and 11, the handshake, the verb registry with every payload
 * serializer, and the hint-file entry codec.
 *
 * @module
 */

export * from "./byte_reader.ts";
export * from "./byte_writer.ts";
export * from "./crc24.ts";
export * from "./crc32.ts";
export * from "./data_payloads.ts";
export * from "./errors.ts";
export * from "./frame_decoder.ts";
export * from "./frame_encoder.ts";
export * from "./framed_message_reader.ts";
export * from "./gossip_payloads.ts";
export * from "./handshake.ts";
export * from "./hint_entry.ts";
export * from "./inbound_event.ts";
export * from "./inet_address.ts";
export * from "./legacy_message_reader.ts";
export * from "./lz4.ts";
export * from "./message.ts";
export * from "./message_codec.ts";
export * from "./message_header.ts";
export * from "./message_params.ts";
export * from "./payload_serializer.ts";
export * from "./payload_serializers.ts";
export * from "./repair_payloads.ts";
export * from "./schema_payloads.ts";
export * from "./uuid.ts";
export * from "./verb.ts";
export * from "./verbs.ts";
export * from "./vint.ts";
