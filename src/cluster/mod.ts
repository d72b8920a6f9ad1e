/**
 * Membership (PROTOCOL.md §10): so far the phi-accrual failure detector and Murmur3 tokens;
 * gossip, the ring and the simulator follow.
 *
 * @module
 */

export * from "./failure_detector.ts";
export * from "./murmur3.ts";
