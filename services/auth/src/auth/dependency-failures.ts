import { AsyncLocalStorage } from "node:async_hooks";
import { isDependencyDown } from "../errors.js";

/**
 * Better Auth turns some database failures into client errors and only logs their cause: sign-up's
 * failed insert (its connection cut by a PostgreSQL restart) answers 422 FAILED_TO_CREATE_USER,
 * which a client takes as final. The adapter runs each Better Auth request inside a scope that
 * notes such a cause when Better Auth logs it, so that the answer can say what really happened:
 * 503, retry shortly.
 */
const scope = new AsyncLocalStorage<{ dependencyFailed: boolean }>();

export async function watchDependencyFailures<T>(work: () => Promise<T>): Promise<{ value: T; dependencyFailed: boolean }> {
  const facts = { dependencyFailed: false };
  const value = await scope.run(facts, work);
  return { value, dependencyFailed: facts.dependencyFailed };
}

/** Called with what Better Auth logs: notes a dependency failure among it for the request in progress. */
export function noteLoggedFailure(logged: unknown[]): void {
  const facts = scope.getStore();
  if (facts && !facts.dependencyFailed && logged.some(isDependencyDown)) facts.dependencyFailed = true;
}
