import fp from "fastify-plugin";
import type { Config } from "../config.js";
import { EvenTiming } from "./even-timing.js";
import { createAuth, type Auth } from "./options.js";

declare module "fastify" {
  interface FastifyInstance {
    auth: Auth;
    /** Sign-in refusals and reset requests leave as late as most recent ones (even-timing.ts). */
    evenTiming: EvenTiming;
  }
}

export default fp(
  async (app, options: { config: Config }) => {
    const auth = createAuth({
      config: options.config,
      pool: app.pg,
      logger: app.log,
      enqueueEmail: app.enqueueEmail,
      coverMissingEmail: app.coverMissingEmail,
      passwordHasher: app.passwordHasher,
      accountLockout: app.accountLockout,
      recordSignInOutcome: (outcome) => app.metrics.signIns.inc({ outcome }),
      invalidate: app.sessions.invalidate,
      countInvitation: app.countInvitation,
    });
    app.decorate("auth", auth);
    app.decorate("evenTiming", new EvenTiming());
  },
  { name: "better-auth", dependencies: ["db", "email-queue", "account-lockout", "metrics", "sessions", "password-hashing", "invitation-limits"] },
);
