import type { FastifyInstance } from "fastify";
import clinicGuard from "../guard.js";
import auditRoutes from "./audit.js";
import clinicRoutes from "./clinic.js";
import staffLockoutRoutes from "./staff-lockout.js";
import staffRoutes from "./staff.js";

/**
 * The /api data routes: every one sits behind the clinic guard and declares the permission it
 * needs in `config.permission`.
 */
export default async function dataRoutes(app: FastifyInstance) {
  await app.register(clinicGuard);
  await app.register(clinicRoutes);
  await app.register(staffLockoutRoutes);
  await app.register(staffRoutes);
  await app.register(auditRoutes);
}
