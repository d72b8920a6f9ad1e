/**
 * Membership (PROTOCOL.md §10): so far the phi-accrual failure detector, Murmur3 tokens and
 * the token ring with replica placement; gossip, token allocation and the simulator follow.
 *
 * @module
 */

export * from "./failure_detector.ts";
export * from "./murmur3.ts";
export * from "./token_ring.ts";
