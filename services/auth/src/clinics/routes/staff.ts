import type { TypeBoxTypeProvider } from "@fastify/type-provider-typebox";
import type { FastifyInstance } from "fastify";
import { Type } from "typebox";
import { changeRole, removeMember, transferOwnership } from "../membership.js";
import { grants, manageStaff, permissionsOf, providerPermission, transferOwnership as transferOwnershipPermission } from "../roles.js";
import { refuseUnverifiedSender } from "../refusals.js";
import { createStaffAccount, setInitialPassword } from "../staff-accounts.js";
import { refuseBadName } from "../../auth/name-rules.js";
import { refuseWeakPassword } from "../../sign-in/password-rules.js";
import { refuseReservedAddress } from "../placeholder-addresses.js";
import { listStaff } from "../staff-store.js";
import { actorOf, answerUnlessEmailNotStored, clinicOf, membershipDeps } from "./entrance.js";
import { MemberUserIdParams, OneStaffMember, RoleName, StaffMemberView, StaffPassword, staffView } from "./schemas.js";

/**
 * The clinic's people: staff accounts the clinic creates (they sign in by username), the member
 * list, role changes, initial passwords and removal; and the transfer of ownership, the only way
 * it moves (the owner's alone). Owners and admins only, except the list of providers, which every
 * member needs to assign a patient's provider. The changes themselves are clinics/membership.ts's
 * and clinics/staff-accounts.ts's.
 */

const NewStaffAccount = Type.Object(
  {
    // Judged by the name rules (auth/name-rules.ts), with the same answer as on Better Auth's routes.
    name: Type.String(),
    username: Type.String({ pattern: "^[A-Za-z0-9._]{3,32}$" }),
    password: StaffPassword,
    role: RoleName,
    email: Type.Optional(Type.String({ format: "email", maxLength: 254 })),
  },
  { additionalProperties: false },
);

const TransferResult = Type.Object(
  { ownerUserId: Type.String(), previousOwnerRole: Type.String() },
  { additionalProperties: false },
);

const Providers = Type.Object(
  {
    providers: Type.Array(
      Type.Object({ userId: Type.String(), name: Type.String(), role: Type.String() }, { additionalProperties: false }),
    ),
  },
  { additionalProperties: false },
);

export default async function staffRoutes(fastify: FastifyInstance) {
  const app = fastify.withTypeProvider<TypeBoxTypeProvider>();
  const deps = membershipDeps(fastify);

  app.post(
    "/staff",
    { config: { permission: manageStaff }, schema: { body: NewStaffAccount, response: { 201: OneStaffMember } } },
    async (request, reply) => {
      refuseBadName(request.body.name);
      // Judged before an email is counted against the clinic's budget.
      refuseWeakPassword(request.body.password);
      refuseReservedAddress(request.body.email);
      // An account with an address is emailed: the same rules as an invitation (clinics/invitation-senders.ts).
      if (request.body.email) {
        refuseUnverifiedSender(request.clinicContext.user);
        await app.countInvitation(request.clinicContext.clinic.id, request.clinicContext.user.id);
      }
      return answerUnlessEmailNotStored(
        reply,
        () => createStaffAccount(deps, actorOf(request), clinicOf(request), request.body),
        (created) => {
          reply.status(201);
          return { staff: staffView(created) };
        },
      );
    },
  );

  app.get(
    "/staff",
    {
      config: { permission: manageStaff },
      schema: { response: { 200: Type.Object({ staff: Type.Array(StaffMemberView) }, { additionalProperties: false }) } },
    },
    async (request) => ({ staff: (await listStaff(app.pg, request.clinicContext.clinic.id)).map(staffView) }),
  );

  app.get("/staff/providers", { schema: { response: { 200: Providers } } }, async (request) => {
    const members = await listStaff(app.pg, request.clinicContext.clinic.id);
    const providers = members.filter((member) => !member.disabled && grants(permissionsOf(member.role), providerPermission));
    return { providers: providers.map(({ userId, name, role }) => ({ userId, name, role })) };
  });

  app.patch(
    "/staff/:userId",
    {
      config: { permission: manageStaff },
      schema: {
        params: MemberUserIdParams,
        body: Type.Object({ role: RoleName }, { additionalProperties: false }),
        response: { 200: OneStaffMember },
      },
    },
    async (request) => {
      const { clinic } = request.clinicContext;
      const updated = await changeRole(deps, actorOf(request), clinic.id, request.params.userId, request.body.role);
      return { staff: staffView(updated) };
    },
  );

  app.post(
    "/staff/:userId/password",
    {
      config: { permission: manageStaff },
      schema: {
        params: MemberUserIdParams,
        body: Type.Object({ password: StaffPassword }, { additionalProperties: false }),
        response: { 200: OneStaffMember },
      },
    },
    async (request, reply) => {
      refuseWeakPassword(request.body.password);
      return answerUnlessEmailNotStored(
        reply,
        () => setInitialPassword(deps, actorOf(request), clinicOf(request), request.params.userId, request.body.password),
        (updated) => ({ staff: staffView(updated) }),
      );
    },
  );

  app.delete(
    "/staff/:userId",
    { config: { permission: manageStaff }, schema: { params: MemberUserIdParams, response: { 204: Type.Null() } } },
    async (request, reply) => {
      await removeMember(deps, actorOf(request), request.clinicContext.clinic.id, request.params.userId);
      return reply.status(204).send(null);
    },
  );

  app.post(
    "/clinic/transfer-ownership",
    { config: { permission: transferOwnershipPermission }, schema: { body: MemberUserIdParams, response: { 200: TransferResult } } },
    async (request) => transferOwnership(deps, actorOf(request), request.clinicContext.clinic.id, request.body.userId),
  );
}
