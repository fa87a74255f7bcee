export * from "./config/index.js";
export * from "./email-queue.js";
export * from "./logger.js";
export * from "./redis.js";
export * from "./metrics.js";
export * from "./timeout.js";
export * from "./readiness.js";
export * from "./token-lifetimes.js";
