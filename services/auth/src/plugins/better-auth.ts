import fp from "fastify-plugin";
import type { Config } from "@temetro/shared";
import { createAuth, type Auth } from "../auth.js";
import { createPasswordHasher, type PasswordHasher } from "../password.js";

declare module "fastify" {
  interface FastifyInstance {
    auth: Auth;
    /** This process's bounded password hashing (see password.ts). */
    passwordHasher: PasswordHasher;
  }
}

export default fp(
  async (app, options: { config: Config }) => {
    const passwordHasher = createPasswordHasher(options.config.passwordHashConcurrency, (operation, seconds) =>
      app.metrics.passwordHashDuration.observe({ operation }, seconds),
    );
    app.decorate("passwordHasher", passwordHasher);
    const auth = createAuth({
      config: options.config,
      pool: app.pg,
      logger: app.log,
      enqueueEmail: app.enqueueEmail,
      coverMissingEmail: app.coverMissingEmail,
      passwordHasher,
      accountLockout: app.accountLockout,
      recordSignInOutcome: (outcome) => app.metrics.signIns.inc({ outcome }),
      invalidate: app.sessions.invalidate,
    });
    app.decorate("auth", auth);
  },
  { name: "better-auth", dependencies: ["db", "email-queue", "account-lockout", "metrics", "sessions"] },
);
