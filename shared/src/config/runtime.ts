import * as z from "zod";

/** NODE_ENV: `production` tightens what each service accepts (secrets, SMTP, migrations). */
export const runtimeSettings = z
  .object({ NODE_ENV: z.enum(["development", "production", "test"]).default("development") })
  .transform((vars) => ({ nodeEnv: vars.NODE_ENV }));
