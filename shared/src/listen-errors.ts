/**
 * A listener that could not bind, said so that a person knows what to change: "port 4000 is already
 * in use (PORT): stop what runs there or set PORT to a free port". Other errors come back as they are.
 */
export function describeListenFailure(error: unknown, port: number, variable: string): Error {
  const code = (error as { code?: unknown }).code;
  if (code === "EADDRINUSE") return new Error(`port ${port} is already in use: stop what runs there or set ${variable} to a free port`);
  if (code === "EACCES") return new Error(`port ${port} needs privileges this process lacks: set ${variable} to a port above 1023`);
  return error instanceof Error ? error : new Error(String(error));
}

/** `listen`, with a bind failure named by its variable (see describeListenFailure). */
export async function listenOn<Address>(listen: () => Promise<Address>, port: number, variable: string): Promise<Address> {
  try {
    return await listen();
  } catch (error) {
    throw describeListenFailure(error, port, variable);
  }
}
