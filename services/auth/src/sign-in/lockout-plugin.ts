import fp from "fastify-plugin";
import type { LockoutPolicy } from "../config.js";
import { AccountLockout } from "./lockout-counts.js";

declare module "fastify" {
  interface FastifyInstance {
    /** Failed sign-ins per identifier, shared by every replica; Better Auth's sign-in consults it. */
    accountLockout: AccountLockout;
  }
}

export default fp(
  async (app, options: { policy: LockoutPolicy }) => {
    app.decorate("accountLockout", new AccountLockout(app.limiterStore, options.policy));
  },
  { name: "account-lockout", dependencies: ["limiter-store"] },
);
