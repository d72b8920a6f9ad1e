import { deepEqual, equal } from "node:assert/strict";
import fc from "fast-check";
import type { Message } from "../wire/message.ts";
import { OutboundQueue, type QueuedMessage } from "./outbound_queue.ts";

function item(id: number, expiresAtMs = 1000): QueuedMessage {
  return { message: { id, expiresAtMs } as Message, sizeBytes: id, reserveBytes: 0 };
}

Deno.test("the queue keeps FIFO order through growth, unshift and expiry removal", () => {
  fc.assert(
    fc.property(
      fc.array(fc.oneof(fc.constant("push"), fc.constant("shift"), fc.constant("unshift")), {
        maxLength: 5000,
      }),
      (ops) => {
        const queue = new OutboundQueue();
        const model: number[] = [];
        let next = 0;
        for (const op of ops) {
          if (op === "push") {
            queue.push(item(next));
            model.push(next++);
          } else if (op === "shift") {
            equal(queue.shift()?.message.id, model.shift());
          } else {
            queue.unshift(item(next));
            model.unshift(next++);
          }
          equal(queue.length, model.length);
        }
        deepEqual(queue.drain().map((i) => i.message.id), model);
        equal(queue.length, 0);
      },
    ),
    { numRuns: 100 },
  );
});

Deno.test("removeExpired() takes expired messages from anywhere in the queue", () => {
  const queue = new OutboundQueue();
  for (let i = 0; i < 3000; i++) queue.push(item(i, i % 3 === 0 ? 10 : 1000));
  const expired = queue.removeExpired(100);
  equal(expired.length, 1000);
  equal(queue.length, 2000);
  deepEqual(queue.drain().slice(0, 4).map((i) => i.message.id), [1, 2, 4, 5]);
});
