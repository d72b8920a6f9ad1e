/**
 * Where received (and local) messages go: a response to its waiting callback, a request to its
 * verb's handler on that verb's stage. Handler failures become FAILURE_RSP when the sender asked
 * (`CALL_BACK_ON_FAILURE`); a full stage sheds the message with reason OVERLOADED.
 *
 * The hot path reads the clock once per stage batch, not once per message: a clock read costs
 * about as much as the rest of the dispatch (≈45 ns on the benchmark machine).
 *
 * @module
 */

import type { Clock } from "../clock.ts";
import type { InetAddressAndPort } from "../wire/inet_address.ts";
import { type Message, MessageFlag } from "../wire/message.ts";
import { RequestFailureReason } from "../wire/payload_serializers.ts";
import type { Verb } from "../wire/verb.ts";
import { FAILURE_RSP, type VerbRegistry } from "../wire/verbs.ts";
import { RequestFailedError } from "./errors.ts";
import { failureReasonOf } from "./inbound_link.ts";
import type { InboundMetrics } from "./link_metrics.ts";
import type { RequestCallbacks } from "./request_callbacks.ts";
import { Stage, type StageName } from "./stage.ts";
import { defaultStageOf, STAGE_CONCURRENCY } from "./verb_stages.ts";

/** Handles one verb's requests. Throwing (or rejecting) answers FAILURE_RSP when asked. */
export type VerbHandler<T> = (
  message: Message<T>,
  from: InetAddressAndPort,
) => void | Promise<void>;

/** What the dispatcher needs from its messaging service. */
export interface VerbDispatcherOptions {
  /** Injected time. */
  readonly clock: Clock;
  /** Verbs this node speaks (response verbs are found from it). */
  readonly verbs: VerbRegistry;
  /** Requests waiting for responses. */
  readonly callbacks: RequestCallbacks;
  /** Bound on each stage's backlog. */
  readonly stageQueueCapacityMessages: number;
  /** Sends FAILURE_RSP(`reason`) for `request` to `to`. */
  readonly respondWithFailure: (
    request: Message,
    to: InetAddressAndPort,
    reason: RequestFailureReason,
  ) => void;
  /** Errors with no one to answer. */
  readonly onError: (error: unknown) => void;
}

interface HandlerEntry {
  readonly handler: VerbHandler<unknown>;
  readonly stage: Stage;
}

/** Routes messages to callbacks and handlers. */
export class VerbDispatcher {
  readonly #options: VerbDispatcherOptions;
  readonly #handlers = new Map<number, HandlerEntry>();
  readonly #stages = new Map<StageName, Stage>();
  readonly #responseVerbIds: Set<number>;
  /** Clock reading shared by a stage batch. */
  #nowMs: number;
  #closed = false;

  constructor(options: VerbDispatcherOptions) {
    this.#options = options;
    this.#nowMs = options.clock.nowMs();
    this.#responseVerbIds = new Set([FAILURE_RSP.id]);
    for (const verb of options.verbs.all()) {
      if (verb.responseVerbId !== undefined) this.#responseVerbIds.add(verb.responseVerbId);
    }
  }

  /** Registers the handler of `verb`, on its default stage unless `stage` is given. */
  register<T>(verb: Verb<T>, handler: VerbHandler<T>, stage?: StageName): void {
    if (this.#options.verbs.byId(verb.id) !== verb) {
      throw new Error(
        `Cannot register a handler for ${verb.name}: it is not in this node's registry`,
      );
    }
    this.#handlers.set(verb.id, {
      handler: handler as VerbHandler<unknown>,
      stage: this.#stage(stage ?? defaultStageOf(verb.name)),
    });
  }

  /** Stops taking work and waits for handlers in flight. */
  async close(): Promise<void> {
    this.#closed = true;
    await Promise.all([...this.#stages.values()].map((stage) => stage.close()));
  }

  #stage(name: StageName): Stage {
    let stage = this.#stages.get(name);
    if (stage === undefined) {
      stage = new Stage(name, {
        capacityMessages: this.#options.stageQueueCapacityMessages,
        concurrency: STAGE_CONCURRENCY[name],
        onError: this.#options.onError,
        beforeBatch: () => (this.#nowMs = this.#options.clock.nowMs()),
      });
      this.#stages.set(name, stage);
    }
    return stage;
  }

  /**
   * Routes one message. `release` returns its receive capacity and is called exactly once, when
   * it has been handled (or dropped). `metrics` is the sender's inbound row (none for local).
   * When the handler's stage is full: with `waitWhenFull` the returned promise resolves once
   * the message has been queued (the caller stops reading meanwhile); without, the message is
   * shed and answered OVERLOADED.
   */
  deliver(
    message: Message,
    from: InetAddressAndPort,
    peerKey: string,
    sizeBytes: number,
    metrics: InboundMetrics | undefined,
    release: () => void,
    waitWhenFull = false,
  ): undefined | Promise<void> {
    const verbId = message.verb.id;
    if (this.#responseVerbIds.has(verbId)) {
      release();
      if (metrics !== undefined) {
        metrics.processedCount++;
        metrics.processedBytes += sizeBytes;
      }
      this.#onResponse(message, peerKey);
      return undefined;
    }
    const entry = this.#handlers.get(verbId);
    const wantsAnswer = (message.flags & MessageFlag.CALL_BACK_ON_FAILURE) !== 0;
    if (entry === undefined) {
      release();
      countError(metrics, sizeBytes);
      if (wantsAnswer) {
        this.#options.respondWithFailure(message, from, RequestFailureReason.UNKNOWN);
      }
      return;
    }
    // One closure per message; synchronous handlers stay synchronous (no promise per message).
    const task = (): void | Promise<void> => {
      if (message.expiresAtMs <= this.#nowMs) {
        if (metrics !== undefined) {
          metrics.expiredCount++;
          metrics.expiredBytes += sizeBytes;
        }
        release();
        return;
      }
      let result: void | Promise<void>;
      try {
        result = entry.handler(message, from);
      } catch (error) {
        this.#failed(error, message, from, metrics, sizeBytes, release);
        return;
      }
      if (result instanceof Promise) {
        return result.then(
          () => succeeded(metrics, sizeBytes, release),
          (error) => this.#failed(error, message, from, metrics, sizeBytes, release),
        );
      }
      succeeded(metrics, sizeBytes, release);
    };
    const stage = entry.stage;
    if (stage.submit(task)) {
      countScheduled(metrics, sizeBytes);
      return undefined;
    }
    if (waitWhenFull && !this.#closed) {
      return this.#submitWhenSpace(stage, task, metrics, sizeBytes);
    }
    release();
    countError(metrics, sizeBytes);
    if (wantsAnswer) {
      this.#options.respondWithFailure(message, from, RequestFailureReason.OVERLOADED);
    }
    return undefined;
  }

  async #submitWhenSpace(
    stage: Stage,
    task: () => void | Promise<void>,
    metrics: InboundMetrics | undefined,
    sizeBytes: number,
  ): Promise<void> {
    while (!stage.submit(task)) {
      if (this.#closed) {
        // Closing: run it inline so its capacity is released and its caller answered.
        await task();
        return;
      }
      await stage.waitForSpace();
    }
    countScheduled(metrics, sizeBytes);
  }

  #failed(
    error: unknown,
    message: Message,
    from: InetAddressAndPort,
    metrics: InboundMetrics | undefined,
    sizeBytes: number,
    release: () => void,
  ): void {
    countError(metrics, sizeBytes);
    release();
    if ((message.flags & MessageFlag.CALL_BACK_ON_FAILURE) !== 0 && !this.#closed) {
      this.#options.respondWithFailure(
        message,
        from,
        failureReasonOf(error) as RequestFailureReason,
      );
    } else this.#options.onError(error);
  }

  #onResponse(message: Message, peerKey: string): void {
    const callback = this.#options.callbacks.take(message.id, peerKey);
    if (callback === undefined) return; // late: the request already timed out
    if (message.verb.id === FAILURE_RSP.id) {
      const reason = message.payload as number;
      callback.onFailure(
        new RequestFailedError(
          `Cannot complete request ${message.id}: ${peerKey} answered FAILURE_RSP (reason ${reason})`,
          reason,
          peerKey,
        ),
      );
    } else callback.onResponse(message);
  }
}

function succeeded(
  metrics: InboundMetrics | undefined,
  sizeBytes: number,
  release: () => void,
): void {
  if (metrics !== undefined) {
    metrics.processedCount++;
    metrics.processedBytes += sizeBytes;
  }
  release();
}

function countScheduled(metrics: InboundMetrics | undefined, sizeBytes: number): void {
  if (metrics === undefined) return;
  metrics.scheduledCount++;
  metrics.scheduledBytes += sizeBytes;
}

function countError(metrics: InboundMetrics | undefined, sizeBytes: number): void {
  if (metrics === undefined) return;
  metrics.errorCount++;
  metrics.errorBytes += sizeBytes;
}
