import * as z from "zod";

/**
 * DATABASE_URL: the auth service's tables, where the mailer also confirms deliveries. The default
 * is an IP literal on purpose: a `localhost` lookup runs on libuv's threadpool and queues behind
 * password hashes under load (see PITFALLS).
 */
export const databaseSettings = z
  .object({
    DATABASE_URL: z
      .url({ protocol: /^postgres(ql)?$/, message: "must be a postgres:// URL" })
      .default("postgres://postgres@127.0.0.1:5432/temetro_auth"),
  })
  .transform((vars) => ({ databaseUrl: vars.DATABASE_URL }));
