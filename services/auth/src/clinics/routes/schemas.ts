import { Type, type Static } from "typebox";
import type { StaffMember } from "../staff-store.js";

/** Schemas the clinic routes share; each route's own input and output stay beside it. */

const nullable = <T extends Parameters<typeof Type.Union>[0][number]>(schema: T) => Type.Union([schema, Type.Null()]);

/** Judged by the password rules (sign-in/password-rules.ts), with the same answers as on Better Auth's routes. */
export const StaffPassword = Type.String();

/**
 * A role as the client names it. Which roles may be given is the membership rules' answer
 * (400 ROLE_NOT_ASSIGNABLE, alike on Better Auth's routes), not the schema's.
 */
export const RoleName = Type.String();

export const MemberUserIdParams = Type.Object(
  { userId: Type.String({ minLength: 1, maxLength: 128 }) },
  { additionalProperties: false },
);

export const StaffMemberView = Type.Object(
  {
    userId: Type.String(),
    name: Type.String(),
    username: nullable(Type.String()),
    email: nullable(Type.String()),
    role: Type.String(),
    // An initial password not yet replaced shows as password-change-required.
    status: Type.Enum(["active", "password-change-required", "disabled"]),
    createdByClinic: Type.Boolean(),
    joinedAt: Type.String({ format: "date-time" }),
  },
  { additionalProperties: false },
);

export const OneStaffMember = Type.Object({ staff: StaffMemberView }, { additionalProperties: false });

export function staffView(member: StaffMember): Static<typeof StaffMemberView> {
  const status = member.disabled ? "disabled" : member.mustChangePassword ? "password-change-required" : "active";
  return {
    userId: member.userId,
    name: member.name,
    username: member.username,
    email: member.email,
    role: member.role,
    status,
    createdByClinic: member.createdByClinic,
    joinedAt: member.joinedAt,
  };
}
