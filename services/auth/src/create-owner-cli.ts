import { parseArgs } from "node:util";
import pg from "pg";
import { loadDotEnv, loadOrExit, tokenLifetimes, type EmailJob } from "@temetro/shared";
import { createAuth } from "./auth/options.js";
import { loadConfig } from "./config.js";
import { findUnreachableDependencies } from "./db/check.js";
import { migrate } from "./db/migrate.js";
import { createServiceLogger } from "./logger.js";

// `npm run create-owner -- --email ana@clinic.example --clinic "Sunrise Clinic"`: the first owner and
// their clinic on an install that is closed to sign-ups (or simply the quickest start). No password
// is ever typed here (it would stay in the shell's history): the command prints a one-time link
// to Better Auth's own reset flow, where the owner chooses it.

const usage = 'usage: npm run create-owner -- --email <address> --clinic "<clinic name>" [--name "<owner name>"] [--slug <clinic-slug>]';

function fail(message: string): never {
  console.error(message);
  process.exit(1);
}

let args: { email?: string; clinic?: string; name?: string; slug?: string };
try {
  args = parseArgs({
    options: { email: { type: "string" }, clinic: { type: "string" }, name: { type: "string" }, slug: { type: "string" } },
  }).values;
} catch (error) {
  fail(`${(error as Error).message}\n${usage}`);
}
const email = args.email?.trim().toLowerCase();
const clinicName = args.clinic?.trim();
if (!email || !clinicName) fail(`--email and --clinic are required\n${usage}`);
if (!/^[^\s@]+@[^\s@]+$/.test(email)) fail(`--email: "${email}" is not an email address`);
const slug = args.slug ?? slugFrom(clinicName);

loadDotEnv();
const config = loadOrExit(() => loadConfig(process.env));
// Only warnings and failures: what this command has to say is its own last lines.
const logger = createServiceLogger({ ...config, logLevel: config.logLevel === "info" ? "warn" : config.logLevel });
const unreachable = await findUnreachableDependencies(config, ["postgres"]);
if (unreachable.length > 0) fail(unreachable.join("\n"));
if (config.nodeEnv !== "production") await migrate(config, logger);

const pool = new pg.Pool({ connectionString: config.databaseUrl, max: 2 });
try {
  // Its two writes (the account, then the clinic) are not one transaction, so a run that dies
  // between them (or before printing the link) leaves an owner who cannot sign in yet. Running the
  // command again finishes that owner: an account without a password can only be this command's
  // (every other way in sets one), and its owner has not taken it over yet.
  const found = await pool.query<{ id: string; has_password: boolean }>(
    `SELECT u."id", EXISTS (SELECT 1 FROM "account" a WHERE a."userId" = u."id" AND a."password" IS NOT NULL) AS has_password
       FROM "user" u WHERE lower(u."email") = $1`,
    [email],
  );
  const unfinished = found.rows[0];
  if (unfinished?.has_password) fail(`an account with ${email} already exists: nothing was created (that person can sign in, or reset their password)`);

  // The link Better Auth emails for a reset is caught here and printed instead: nothing is queued.
  const caught: EmailJob[] = [];
  const auth = createAuth({
    config,
    pool,
    logger,
    enqueueEmail: async (job) => void caught.push(job),
    // A new account and a new clinic: no replica holds anything about them to forget.
    invalidate: async () => {},
    countInvitation: async () => {},
  });
  const context = await auth.$context;
  const owned = unfinished ? await ownedClinics(unfinished.id) : [];
  let clinic: { name: string; slug: string };
  let done: string;
  if (owned.length > 0) {
    clinic = owned[0]!;
    done =
      `The owner ${email} of the clinic "${clinic.name}" (slug ${clinic.slug}) exists but has not chosen a password yet` +
      `${clinic.name === clinicName ? "" : ` (no clinic "${clinicName}" was created)`}: here is a new link.`;
  } else {
    // The operator vouches for the address (an owner must have a verified one to invite colleagues);
    // the password is set only through the printed link.
    const owner =
      unfinished ?? (await context.internalAdapter.createUser({ email, name: args.name?.trim() || email.split("@")[0]!, emailVerified: true }, { method: "admin" }));
    try {
      clinic = await auth.api.createOrganization({ body: { name: clinicName, slug, userId: owner.id } });
    } catch (error) {
      if (!unfinished) await pool.query(`DELETE FROM "user" WHERE "id" = $1`, [owner.id]);
      const { body, message } = error as { body?: { message?: string }; message?: string };
      fail(`the clinic could not be created (${body?.message ?? message}): nothing was created; try another --slug`);
    }
    done = `${unfinished ? "Finished an earlier, interrupted run: c" : "C"}reated the owner ${email} of the clinic "${clinic.name}" (slug ${clinic.slug}).`;
  }
  await auth.api.requestPasswordReset({ body: { email, redirectTo: `${config.frontendUrl}/reset-password` } });
  const link = caught.find((job) => job.kind === "reset-password");
  if (!link || !("url" in link)) fail("no password link was produced: nothing to print");
  console.log(
    [
      done,
      `To choose the password, open this one-time link (valid ${tokenLifetimes.resetPasswordSeconds / 60} minutes; it stops working once used):`,
      "",
      link.url,
      "",
    ].join("\n"),
  );
} finally {
  await pool.end();
}

/** The clinics a user owns, oldest first. */
async function ownedClinics(userId: string): Promise<{ name: string; slug: string }[]> {
  const { rows } = await pool.query<{ name: string; slug: string }>(
    `SELECT o."name", o."slug" FROM "member" m JOIN "organization" o ON o."id" = m."organizationId"
      WHERE m."userId" = $1 AND m."role" = 'owner' ORDER BY m."createdAt"`,
    [userId],
  );
  return rows;
}

/** A clinic's slug from its name: lowercase letters, digits and single hyphens (3 to 63). */
function slugFrom(name: string): string {
  const slug = name
    .normalize("NFKD")
    .replace(/[\u0300-\u036f]/g, "")
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, "-")
    .replace(/^-+|-+$/g, "")
    .slice(0, 63)
    .replace(/-+$/, "");
  return slug.length >= 3 ? slug : `clinic-${slug || "1"}`.slice(0, 63);
}

