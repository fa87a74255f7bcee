import type { Queue } from "bullmq";
import type { EmailJob } from "@temetro/shared";

/** A failed email as the operator sees it: never its link (it carries a token). */
export interface FailedEmail {
  id: string;
  kind: EmailJob["kind"];
  to: string;
  failedAt: string | undefined;
  attempts: number;
  reason: string;
}

/** Every failed email kept on the queue, oldest first. */
export async function listFailedEmails(queue: Queue<EmailJob>): Promise<FailedEmail[]> {
  const jobs = (await queue.getFailed(0, -1)).filter((job) => job !== undefined);
  return jobs
    .map((job) => ({
      id: job.id!,
      kind: job.data.kind,
      to: job.data.to,
      failedAt: job.finishedOn ? new Date(job.finishedOn).toISOString() : undefined,
      attempts: job.attemptsMade,
      reason: job.failedReason ?? "",
    }))
    .sort((a, b) => (a.failedAt ?? "").localeCompare(b.failedAt ?? ""));
}

/**
 * Puts failed emails back on the queue with a fresh set of attempts: the ids given, or every
 * failed one. Resolves with the ids resent and the ids that are not (or no longer) failed.
 */
export async function resendFailedEmails(
  queue: Queue<EmailJob>,
  ids?: string[],
): Promise<{ resent: string[]; notFailed: string[] }> {
  const wanted = ids && ids.length > 0 ? ids : (await listFailedEmails(queue)).map((email) => email.id);
  const resent: string[] = [];
  const notFailed: string[] = [];
  for (const id of wanted) {
    const job = await queue.getJob(id);
    if (!job || !(await job.isFailed())) {
      notFailed.push(id);
      continue;
    }
    await job.retry("failed", { resetAttemptsMade: true, resetAttemptsStarted: true });
    resent.push(id);
  }
  return { resent, notFailed };
}
