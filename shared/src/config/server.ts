import * as z from "zod";
import { httpUrl } from "./env.js";

/** HOST: the address every listener of the process binds (each service names its own ports). */
export const hostSettings = z
  .object({ HOST: z.string().min(1).default("0.0.0.0") })
  .transform((vars) => ({ host: vars.HOST }));

/**
 * FRONTEND_URL: the temetro web app. The auth service trusts its origin and sends email links to
 * it; the mailer links to its sign-in page.
 */
export const frontendSettings = z
  .object({ FRONTEND_URL: httpUrl.default("http://localhost:3000") })
  .transform((vars) => ({ frontendUrl: vars.FRONTEND_URL.replace(/\/+$/, "") }));
