import pg from "pg";

export interface PostgresPoolOptions {
  connectionString: string;
  /** Connections at most. */
  max: number;
  /** How long getting a connection (a free one, or a new one) may take before the query fails. */
  connectionTimeoutMillis: number;
  /** PostgreSQL's statement_timeout for every statement of the pool, in ms; 0: no limit. */
  statementTimeoutMs: number;
  idleTimeoutMillis?: number;
  /** Client-side bound on waiting for an answer (pg's query_timeout), for a server that stops answering. */
  queryTimeoutMs?: number;
}

export interface PostgresPoolLog {
  warn(fields: object, message: string): void;
}

/** PgBouncer's answer to a startup parameter it does not pass on (08P01). */
const refusesStartupParameter = (error: unknown) =>
  (error as { code?: string }).code === "08P01" && /unsupported startup parameter/.test((error as Error).message);

/**
 * A pg.Pool whose statements PostgreSQL cancels after `statementTimeoutMs`, whether the URL leads to
 * PostgreSQL itself or to PgBouncer in transaction mode, with no setting for the operator to get
 * right.
 *
 * The only way to give every statement a timeout without session state (a `SET` would stay on
 * whichever server connection PgBouncer lent, and be missing on the next) is the `statement_timeout`
 * startup parameter, and PgBouncer refuses to open a connection that carries it (or, told to ignore
 * it, opens one without it). So the pool's first connection is preceded by a probe with the
 * parameter that also asks which timeout is in force: in force, every connection carries it;
 * refused or dropped, connections open without it and a warning says how to put the limit on
 * PostgreSQL's or PgBouncer's side. A probe that gets no answer (PostgreSQL down) decides nothing:
 * the next connection probes again. Also listens for errors of connections in use (see PITFALLS).
 */
export function createPostgresPool(options: PostgresPoolOptions, log: PostgresPoolLog): pg.Pool {
  const startup = new StartupTimeout(options, log);
  class TimedClient extends pg.Client {
    constructor(...args: ConstructorParameters<typeof pg.Client>) {
      super(...args);
      // Listening from birth. pg-pool listens for errors of idle connections only, and attaches that
      // listener only after the start-up's promise settles: a server shutting down as it says "ready"
      // (57P01 in the same read) would emit 'error' before then, an uncaught exception that ends the
      // process. A connection checked out and cut (a transaction in progress) emits 'error' too: the
      // query in flight fails on its own, and the pool drops the broken connection when released.
      this.on("error", (error) => log.warn({ err: error.message }, "PostgreSQL connection lost"));
    }

    // pg-pool calls connect with a callback; everything else awaits it (the implementation takes
    // either overload's callback, hence the loose type).
    override connect(): Promise<pg.Client>;
    override connect(callback: ((err: Error) => void) | ((err: null, client: pg.Client) => void)): void;
    override connect(callback?: (err: any, client?: any) => void): Promise<pg.Client> | void {
      const connecting = startup.settle().then(async () => {
        if (!startup.send) (this as unknown as { connectionParameters: { statement_timeout: unknown } }).connectionParameters.statement_timeout = false;
        try {
          return await super.connect();
        } catch (error) {
          if (refusesStartupParameter(error)) startup.refused();
          throw error;
        }
      });
      if (!callback) return connecting;
      connecting.then((client) => callback(null, client), (error: Error) => callback(error));
    }
  }
  const pool = new pg.Pool({
    Client: TimedClient,
    connectionString: options.connectionString,
    max: options.max,
    connectionTimeoutMillis: options.connectionTimeoutMillis,
    idleTimeoutMillis: options.idleTimeoutMillis ?? 30_000,
    ...(options.statementTimeoutMs > 0 ? { statement_timeout: options.statementTimeoutMs } : {}),
    ...(options.queryTimeoutMs ? { query_timeout: options.queryTimeoutMs } : {}),
  });
  pool.on("error", (error) => log.warn({ err: error.message }, "idle PostgreSQL connection lost"));
  return pool;
}

/** Whether connections may carry the statement_timeout startup parameter; learnt once per pool. */
class StartupTimeout {
  /** Send the parameter (until a refusal is seen). */
  send: boolean;
  private known: boolean;
  private probing: Promise<void> | undefined;

  constructor(
    private readonly options: PostgresPoolOptions,
    private readonly log: PostgresPoolLog,
  ) {
    this.send = options.statementTimeoutMs > 0;
    this.known = !this.send;
  }

  settle(): Promise<void> {
    if (this.known) return Promise.resolve();
    this.probing ??= this.probe().finally(() => (this.probing = undefined));
    return this.probing;
  }

  /** The parameter cannot work: connections go without it, and the operator is told once where to put the limit. */
  refused(how: "refuses" | "ignores" = "refuses", fields: object = {}): void {
    if (!this.send) return;
    this.send = false;
    this.known = true;
    const pooler =
      how === "refuses"
        ? "a pooler that refuses startup parameters (PgBouncer)"
        : "a pooler that drops the statement_timeout startup parameter (PgBouncer's ignore_startup_parameters)";
    this.log.warn(
      { statementTimeoutMs: this.options.statementTimeoutMs, ...fields },
      `PostgreSQL is reached through ${pooler}: statements run without ` +
        "DATABASE_STATEMENT_TIMEOUT_MS; set the limit there (PgBouncer's query_timeout) or on PostgreSQL " +
        "(ALTER ROLE ... SET statement_timeout)",
    );
  }

  private async probe(): Promise<void> {
    const client = new pg.Client({
      connectionString: this.options.connectionString,
      connectionTimeoutMillis: this.options.connectionTimeoutMillis,
      // Every connection of the pool waits for the probe: a server that stops answering must not hold them all.
      query_timeout: this.options.connectionTimeoutMillis,
      statement_timeout: this.options.statementTimeoutMs,
    });
    client.on("error", () => {});
    try {
      await client.connect();
      // Accepted is not applied: PgBouncer told to ignore the parameter (ignore_startup_parameters)
      // opens the connection and drops it. What the server says is in force is what counts.
      const { rows } = await client.query<{ statement_timeout: string }>("SHOW statement_timeout");
      const inForce = rows[0]?.statement_timeout ?? "";
      if (millisecondsOf(inForce) === this.options.statementTimeoutMs) this.known = true;
      else this.refused("ignores", { statementTimeoutInForce: inForce });
    } catch (error) {
      if (refusesStartupParameter(error)) this.refused();
    } finally {
      await client.end().catch(() => {});
    }
  }
}

const MS_PER_UNIT: Record<string, number> = { ms: 1, s: 1000, min: 60_000, h: 3_600_000, d: 86_400_000 };

/** A time setting as SHOW prints it (`0`, `200ms`, `30s`, `2min`) in ms; NaN for anything else. */
function millisecondsOf(shown: string): number {
  const match = /^(\d+)\s*(ms|s|min|h|d)?$/.exec(shown.trim());
  return match ? Number(match[1]) * MS_PER_UNIT[match[2] ?? "ms"]! : Number.NaN;
}
