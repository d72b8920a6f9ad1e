/**
 * The links layer (PROTOCOL.md §6–§9): transports (TCP, in-memory), the handshake on both
 * sides, three outbound links per peer with byte limits and expiry, inbound links with receive
 * limits, bounded handler stages, request callbacks, and the internode metrics.
 *
 * @module
 */

export * from "./errors.ts";
export * from "./handshake_acceptor.ts";
export * from "./handshake_initiator.ts";
export * from "./inbound_link.ts";
export * from "./inbound_server.ts";
export * from "./link_metrics.ts";
export * from "./memory_transport.ts";
export * from "./messaging_config.ts";
export * from "./messaging_service.ts";
export * from "./outbound_frame_builder.ts";
export * from "./outbound_link.ts";
export * from "./outbound_queue.ts";
export * from "./receive_capacity.ts";
export * from "./request_callbacks.ts";
export * from "./resource_limit.ts";
export * from "./stage.ts";
export * from "./tcp_transport.ts";
export * from "./transport.ts";
export * from "./verb_dispatcher.ts";
export * from "./verb_stages.ts";
