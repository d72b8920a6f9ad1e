/**
 * Membership (PROTOCOL.md §10): so far the phi-accrual failure detector; gossip, the ring and
 * the simulator follow.
 *
 * @module
 */

export * from "./failure_detector.ts";
