/**
 * Membership (PROTOCOL.md §10): the gossiper and its endpoint states, the phi-accrual failure
 * detector with refused-connect probes (ADR 0003), Murmur3 tokens, token allocation, the token
 * ring with replica placement and pending ranges, the snitch, and the ring tracker that keeps
 * them in step with gossip.
 *
 * @module
 */

export * from "./endpoint_state.ts";
export * from "./endpoint_state_map.ts";
export * from "./failure_detector.ts";
export * from "./generation_store.ts";
export * from "./gossip_config.ts";
export * from "./gossip_events.ts";
export * from "./gossip_exchange.ts";
export * from "./gossip_status.ts";
export * from "./gossip_targets.ts";
export * from "./gossiper.ts";
export * from "./liveness_monitor.ts";
export * from "./liveness_prober.ts";
export * from "./murmur3.ts";
export * from "./node_announcement.ts";
export * from "./pending_ranges.ts";
export * from "./ring_tracker.ts";
export * from "./shadow_round.ts";
export * from "./snitch.ts";
export * from "./token_allocation.ts";
export * from "./token_ring.ts";
