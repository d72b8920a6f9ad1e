import { equal, throws } from "node:assert/strict";
import { EndpointAndGlobalReserve, ResourceLimit } from "./resource_limit.ts";

Deno.test("tryAllocate() refuses what would pass the limit and leaves usage unchanged", () => {
  const limit = new ResourceLimit(10);
  equal(limit.tryAllocate(10), true);
  equal(limit.tryAllocate(1), false);
  equal(limit.using, 10);
  equal(limit.release(4), false);
  equal(limit.remaining, 4);
});

Deno.test("release() reports whether usage is still at or above the limit", () => {
  const limit = new ResourceLimit(10);
  limit.allocate(15);
  equal(limit.release(3), true);
  equal(limit.release(2), true);
  equal(limit.release(1), false);
});

Deno.test("release() of more than is used is an invariant violation", () => {
  const limit = new ResourceLimit(10);
  limit.allocate(2);
  throws(() => limit.release(3));
});

Deno.test("a reserve takes from endpoint and global together or not at all", () => {
  const global = new ResourceLimit(100);
  const a = new EndpointAndGlobalReserve(new ResourceLimit(60), global);
  const b = new EndpointAndGlobalReserve(new ResourceLimit(60), global);
  equal(a.tryAllocate(60), "success");
  equal(a.tryAllocate(1), "insufficient-endpoint");
  equal(global.using, 60, "a failed endpoint allocation gives the global bytes back");
  equal(b.tryAllocate(41), "insufficient-global");
  equal(b.tryAllocate(40), "success");
  a.release(60);
  b.release(40);
  equal(global.using, 0);
});

Deno.test("limits refuse impossible budgets", () => {
  throws(() => new ResourceLimit(-1), RangeError);
  throws(() => new ResourceLimit(1.5), RangeError);
});
