import type { Redis } from "ioredis";
import { createRedis } from "@temetro/shared";
import type { SessionDirectory } from "./directory.js";

/**
 * Tells every replica's SessionDirectory what changed, over Redis pub/sub. Messages name what to
 * forget: `session:<id>`, `user:<id>`, `clinic:<id>`. The local directory forgets at once (no round
 * trip), then the message reaches the others within milliseconds.
 *
 * When the subscription is down a replica cannot hear about changes, so it stops keeping answers
 * until it is subscribed again; a publish that fails is logged and, since every replica's
 * subscription runs on the same Redis, the others are then not caching either.
 */
export type Invalidation = `session:${string}` | `user:${string}` | `clinic:${string}`;

export interface InvalidationLogger {
  warn(fields: object, message: string): void;
  info(fields: object, message: string): void;
}

export class InvalidationBus {
  private readonly publisher: Redis;
  private readonly subscriber: Redis;

  constructor(
    redisUrl: string,
    private readonly channel: string,
    private readonly directory: SessionDirectory,
    private readonly log: InvalidationLogger,
  ) {
    this.publisher = createRedis(redisUrl, "request", { connectionName: "temetro-invalidation-pub" });
    this.publisher.on("error", () => {}); // publish() reports failures where they matter
    // Subscriber mode cannot use the request role's fail-fast settings; it reconnects forever.
    this.subscriber = createRedis(redisUrl, "worker", { connectionName: "temetro-invalidation-sub" });
    this.subscriber.on("error", () => {});
    this.subscriber.on("ready", () => {
      this.subscriber.subscribe(this.channel).then(
        () => {
          directory.setCaching(true);
          log.info({ channel: this.channel }, "session cache on: subscribed to invalidations");
        },
        (error: Error) => log.warn({ err: error.message }, "could not subscribe to invalidations"),
      );
    });
    this.subscriber.on("close", () => {
      if (directory.isCaching) log.warn({}, "session cache off: invalidation channel lost");
      directory.setCaching(false);
    });
    this.subscriber.on("message", (_channel: string, message: string) => this.apply(message));
  }

  /** Forget locally now, and tell the other replicas. */
  async publish(message: Invalidation): Promise<void> {
    this.apply(message);
    try {
      await this.publisher.publish(this.channel, message);
    } catch (error) {
      this.log.warn({ err: (error as Error).message, invalidation: message.split(":", 1)[0] }, "invalidation not published");
    }
  }

  private apply(message: string): void {
    const separator = message.indexOf(":");
    const kind = message.slice(0, separator);
    const id = message.slice(separator + 1);
    if (kind === "session") this.directory.forgetSession(id);
    else if (kind === "user") this.directory.forgetUser(id);
    else if (kind === "clinic") this.directory.forgetClinic(id);
  }

  async close(): Promise<void> {
    this.directory.setCaching(false);
    this.subscriber.disconnect();
    this.publisher.disconnect();
  }
}
