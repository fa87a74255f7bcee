/**
 * What temetro's web app does with the auth service, written as browser code: Better Auth's own
 * client (fetch, cookies kept by the browser) typed for temetro by @temetro/auth-client/web. Each
 * function is what a screen of the app calls. Nothing here imports a Node module: the project is
 * compiled with the DOM library and no Node types (tsconfig.json).
 */
import { createAuthClient, type BetterFetchOption } from "better-auth/client";
import { temetroClientPlugins, type PermissionQuery, type RoleName } from "@temetro/auth-client/web";

/**
 * The app's one client. In a browser `fetchOptions` is not needed (the browser sends the session
 * cookie: Better Auth's client asks for `credentials: "include"`); a test gives it a fetch that
 * keeps cookies as a browser would.
 */
export function createTemetroAuth(baseURL: string, fetchOptions?: Pick<BetterFetchOption, "customFetchImpl">) {
  return createAuthClient({
    baseURL,
    basePath: "/api/auth",
    ...(fetchOptions && { fetchOptions }),
    plugins: [...temetroClientPlugins()],
  });
}

export type TemetroAuth = ReturnType<typeof createTemetroAuth>;

type ClientError = { code?: string | undefined; message?: string | undefined; status: number };

/** Better Auth's client answers `{ data, error }`; a screen shows `error.message` to the user. */
function dataOf<R extends { data: unknown; error: null } | { data: null; error: ClientError }>(result: R): Extract<R, { error: null }>["data"] {
  if (result.error) throw new Error(`${result.error.status} ${result.error.code ?? ""}: ${result.error.message ?? ""}`);
  return result.data;
}

/** The sign-up screen. */
export async function signUp(auth: TemetroAuth, fields: { name: string; email: string; password: string }) {
  return dataOf(await auth.signUp.email(fields)).user;
}

/** The sign-in screen of a staff account, which has a username and maybe no address. */
export async function signInWithUsername(auth: TemetroAuth, username: string, password: string) {
  return dataOf(await auth.signIn.username({ username, password }));
}

/**
 * What the app shows first after sign-in: the change-password screen while the password is an
 * initial one an admin chose (every data request answers 403 PASSWORD_CHANGE_REQUIRED until then).
 */
export async function firstScreen(auth: TemetroAuth): Promise<"sign-in" | "change-password" | "clinic"> {
  const session = dataOf(await auth.getSession());
  if (!session) return "sign-in";
  const mustChangePassword: boolean | null | undefined = session.user.mustChangePassword;
  return mustChangePassword ? "change-password" : "clinic";
}

/** The change-password screen; the answer's user shows the flag gone. */
export async function changePassword(auth: TemetroAuth, currentPassword: string, newPassword: string) {
  const { user } = dataOf(await auth.changePassword({ currentPassword, newPassword }));
  return { mustChangePassword: user.mustChangePassword };
}

/** "New clinic": its creator is its owner and it becomes the active clinic. */
export async function createClinic(auth: TemetroAuth, name: string, slug: string) {
  const clinic = dataOf(await auth.organization.create({ name, slug }));
  return { id: clinic.id, staffMustChangePassword: clinic.staffMustChangePassword };
}

/** "Invite a colleague": the role picker offers temetro's roles, typed. */
export async function inviteColleague(auth: TemetroAuth, clinicId: string, email: string, role: Exclude<RoleName, "owner">) {
  const invitation = dataOf(await auth.organization.inviteMember({ organizationId: clinicId, email, role }));
  return { id: invitation.id, role: invitation.role, email: invitation.email };
}

/** The invitation screen, once the invitee has an account with the invited (verified) address. */
export async function acceptInvitation(auth: TemetroAuth, invitationId: string) {
  const accepted = dataOf(await auth.organization.acceptInvitation({ invitationId }));
  return { clinicId: accepted.member.organizationId, role: accepted.member.role };
}

/** The clinic's settings screen. */
export async function clinicSettings(auth: TemetroAuth) {
  const clinic = dataOf(await auth.organization.getFullOrganization());
  if (!clinic) throw new Error("no active clinic");
  const staffMustChangePassword: boolean | null | undefined = clinic.staffMustChangePassword;
  return { id: clinic.id, name: clinic.name, staffMustChangePassword };
}

/** The settings switch: staff accounts keep the password their admin chose. */
export async function setStaffMustChangePassword(auth: TemetroAuth, clinicId: string, value: boolean) {
  const clinic = dataOf(await auth.organization.update({ organizationId: clinicId, data: { staffMustChangePassword: value } }));
  return { staffMustChangePassword: clinic?.staffMustChangePassword };
}

/** Which buttons to show: asked of the service for the signed-in member's role in the active clinic. */
export async function mayI(auth: TemetroAuth, permissions: PermissionQuery) {
  return dataOf(await auth.organization.hasPermission({ permissions })).success;
}

/** The same answer without a request, for a role the app already knows (a member list, a role picker). */
export function mayRole(auth: TemetroAuth, role: RoleName, permissions: PermissionQuery) {
  return auth.organization.checkRolePermission({ role, permissions });
}
