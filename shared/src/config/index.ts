export * from "./env.js";
export * from "./runtime.js";
export * from "./logging.js";
export * from "./server.js";
export * from "./database.js";
export * from "./redis.js";
