// What a test does over HTTP against a built app: accounts, clinics, staff, the emails they got.
import { randomUUID } from "node:crypto";
import type { FastifyInstance, LightMyRequestResponse } from "fastify";
import type { EmailJob, EmailKind } from "@temetro/shared";
import type {} from "@temetro/auth/email/plugin"; // the app's emailOutbox and emailQueue decorators

export const uniqueEmail = (label = "user") => `${label}-${randomUUID()}@example.com`;
export const PASSWORD = "a-long-secure-password";

/** The session cookie(s) of a response, ready for a `cookie` request header. */
export function cookieOf(response: LightMyRequestResponse): string {
  const header = response.headers["set-cookie"];
  const list = Array.isArray(header) ? header : header ? [header] : [];
  return list.map((cookie) => cookie.split(";")[0]).join("; ");
}

export async function signUp(
  app: FastifyInstance,
  fields: { name?: string; email?: string; password?: string; username?: string } = {},
) {
  const body = { name: "Dr. Amina Yusuf", email: uniqueEmail(), password: PASSWORD, ...fields };
  const response = await app.inject({ method: "POST", url: "/api/auth/sign-up/email", payload: body });
  if (response.statusCode !== 200) throw new Error(`sign-up failed: ${response.statusCode} ${response.body}`);
  return { ...body, cookie: cookieOf(response), userId: response.json().user.id as string };
}

export async function signIn(app: FastifyInstance, email: string, password = PASSWORD) {
  return app.inject({ method: "POST", url: "/api/auth/sign-in/email", payload: { email, password } });
}

export async function createClinic(app: FastifyInstance, cookie: string, name = "Sunrise Clinic") {
  const response = await app.inject({
    method: "POST",
    url: "/api/auth/organization/create",
    headers: { cookie },
    payload: { name, slug: `clinic-${randomUUID().slice(0, 12)}` },
  });
  if (response.statusCode !== 200) throw new Error(`organization/create failed: ${response.statusCode} ${response.body}`);
  return response.json() as { id: string; name: string; slug: string };
}

/** Adds a member with a role to a clinic through the real invitation flow; returns the member. */
export async function addMember(app: FastifyInstance, ownerCookie: string, clinicId: string, role: string) {
  const email = uniqueEmail(role);
  const invite = await app.inject({
    method: "POST",
    url: "/api/auth/organization/invite-member",
    headers: { cookie: ownerCookie },
    payload: { email, role, organizationId: clinicId },
  });
  if (invite.statusCode !== 200) throw new Error(`invite failed: ${invite.body}`);
  const invitationId = new URL((await emailTo(app, email, "invitation")).url).searchParams.get("invitationId");
  const member = await signUp(app, { email });
  const accept = await app.inject({
    method: "POST",
    url: "/api/auth/organization/accept-invitation",
    headers: { cookie: member.cookie },
    payload: { invitationId },
  });
  if (accept.statusCode !== 200) throw new Error(`accept failed: ${accept.body}`);
  return member;
}

const jobStates = ["waiting", "delayed", "prioritized", "active", "completed", "failed"] as const;

/**
 * All email jobs queued for an address, once the outbox has relayed what is due onto the queue
 * (every email is stored before its request answers, or with its transaction).
 */
export async function emailsTo(app: FastifyInstance, to: string): Promise<EmailJob[]> {
  await app.emailOutbox.flush();
  const jobs = await app.emailQueue.getJobs([...jobStates]);
  return jobs.filter((job) => job?.data.to === to).map((job) => job.data);
}

/** The one email of a kind queued for an address; fails the test when there is none or several. */
export async function emailTo<K extends EmailKind>(
  app: FastifyInstance,
  to: string,
  kind: K,
): Promise<Extract<EmailJob, { kind: K }>> {
  const matching = (await emailsTo(app, to)).filter((job): job is Extract<EmailJob, { kind: K }> => job.kind === kind);
  if (matching.length !== 1) throw new Error(`expected one ${kind} email for ${to}, found ${matching.length}`);
  return matching[0]!;
}

/** The path and query of a link, for app.inject. */
export const pathOf = (link: string) => {
  const url = new URL(link);
  return `${url.pathname}${url.search}`;
};

export const uniqueUsername = (label = "staff") => `${label}_${randomUUID().slice(0, 8)}`;

/** POST /api/staff as the given admin; throws unless it answers 201. */
export async function createStaff(
  app: FastifyInstance,
  adminCookie: string,
  fields: { name?: string; username?: string; password?: string; role?: string; email?: string } = {},
) {
  const body = { name: "Grace Okafor", username: uniqueUsername(), password: PASSWORD, role: "reception", ...fields };
  const response = await app.inject({ method: "POST", url: "/api/staff", headers: { cookie: adminCookie }, payload: body });
  if (response.statusCode !== 201) throw new Error(`staff creation failed: ${response.statusCode} ${response.body}`);
  return { ...body, userId: response.json().staff.userId as string };
}

export async function signInByUsername(app: FastifyInstance, username: string, password = PASSWORD) {
  return app.inject({ method: "POST", url: "/api/auth/sign-in/username", payload: { username, password } });
}

/** The value of the series `name` whose labels include `labels` (label order is prom-client's business). */
export function metricSample(text: string, name: string, labels: Record<string, string>): number | undefined {
  for (const line of text.split("\n")) {
    const match = /^([a-z_]+)\{(.*)\} (\S+)$/.exec(line);
    if (!match || match[1] !== name) continue;
    const found = Object.fromEntries([...match[2]!.matchAll(/(\w+)="([^"]*)"/g)].map((pair) => [pair[1], pair[2]]));
    if (Object.entries(labels).every(([key, value]) => found[key] === value)) return Number(match[3]);
  }
  return undefined;
}
