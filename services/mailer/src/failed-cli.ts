import { Queue } from "bullmq";
import { createRedis, describeRedisTopology, EMAIL_QUEUE_NAME, emailQueuePrefix, loadOrExit, type EmailJob } from "@temetro/shared";
import { loadConfig } from "./config.js";
import { listFailedEmails, resendFailedEmails } from "./failed-jobs.js";

// `npm run failed-emails -- list` and `npm run failed-emails -- resend [job-id ...]` (README: Mailer).

const usage = `Usage:
  npm run failed-emails -- list                 the failed emails: id, kind, recipient, when, attempts, reason
  npm run failed-emails -- resend               every failed email, sent again with fresh attempts
  npm run failed-emails -- resend <id> [<id>...] only these`;

const [command, ...ids] = process.argv.slice(2);
if (command !== "list" && command !== "resend") {
  console.error(usage);
  process.exit(2);
}

const config = loadOrExit(() => loadConfig(process.env));

const connection = createRedis(config.redis, "request", { connectTimeout: 5000, reconnect: false });
connection.on("error", () => {});
const queue = new Queue<EmailJob>(EMAIL_QUEUE_NAME, { connection, prefix: emailQueuePrefix(config.redis, config.redisPrefix) });
queue.on("error", () => {});
try {
  if (command === "list") {
    const failed = await listFailedEmails(queue);
    if (failed.length === 0) console.log("No failed emails.");
    for (const email of failed) {
      console.log(`${email.id}\t${email.kind}\t${email.to}\t${email.failedAt ?? "-"}\t${email.attempts} attempt(s)\t${email.reason}`);
    }
  } else {
    const { resent, notFailed } = await resendFailedEmails(queue, ids);
    for (const id of resent) console.log(`resent ${id}`);
    for (const id of notFailed) console.error(`not a failed email: ${id}`);
    console.log(`${resent.length} email(s) resent.`);
    process.exitCode = notFailed.length > 0 ? 1 : 0;
  }
} catch (error) {
  console.error(`Redis is not reachable at ${describeRedisTopology(config.redis)}: ${(error as Error).message}`);
  process.exitCode = 1;
} finally {
  await queue.close().catch(() => {});
  connection.disconnect();
}
