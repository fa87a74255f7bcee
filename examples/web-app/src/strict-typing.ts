/**
 * Mistakes the types catch: each line below the `@ts-expect-error` is one a developer of the web app
 * could write, and tsc refuses it (an unused `@ts-expect-error` is itself an error, so loose typing
 * fails the build). examples/web-app/test/web-app.test.ts compiles a copy without the directives
 * and checks each of these lines fails for its own reason.
 */
import { createTemetroAuth } from "./app.js";

export async function mistakes(auth: ReturnType<typeof createTemetroAuth>) {
  // A role temetro does not have.
  // @ts-expect-error
  await auth.organization.inviteMember({ email: "nurse@example.com", role: "nurse" });

  // A resource temetro does not have.
  // @ts-expect-error
  await auth.organization.hasPermission({ permissions: { spaceship: ["read"] } });

  // An action a clinical resource does not have.
  // @ts-expect-error
  auth.organization.checkRolePermission({ role: "doctor", permissions: { lab: ["delete"] } });

  // A clinic's extra field with the wrong type.
  // @ts-expect-error
  await auth.organization.update({ data: { staffMustChangePassword: "no" } });

  const session = await auth.getSession();
  if (session.data) {
    // mustChangePassword is a boolean, not a string.
    // @ts-expect-error
    const flag: string = session.data.user.mustChangePassword;
    void flag;
  }
}
