import * as z from "zod";
import { readFileVariables } from "./secret-files.js";

/** A configuration that cannot start a process: every problem, each naming its variable. */
export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid configuration:\n${problems.map((problem) => `  - ${problem}`).join("\n")}`);
    this.name = "ConfigError";
  }
}

export type Environment = Record<string, string | undefined>;

/**
 * One part of a configuration: the variables it reads (a zod object) turned into the fields a
 * service uses. A problem it finds names its variable as the issue's path.
 */
export type ConfigPiece = z.ZodType<object, Record<string, unknown>>;

type Merged<Pieces extends readonly ConfigPiece[]> =
  (Pieces[number] extends infer Piece ? (Piece extends ConfigPiece ? (fields: z.output<Piece>) => void : never) : never) extends (
    fields: infer All,
  ) => void
    ? { [Field in keyof All]: All[Field] }
    : never;

/**
 * Reads every piece from one environment and merges their fields into one configuration. An empty
 * variable means "not set", as in most deployment tools. Any variable a piece reads may instead be
 * given as `<NAME>_FILE`, the path of a file holding its value (see secret-files.ts). All the
 * problems of all the pieces are reported at once, so a deployment is fixed in one go.
 */
export function readEnvironment<const Pieces extends readonly ConfigPiece[]>(env: Environment, pieces: Pieces): Merged<Pieces> {
  const set = Object.fromEntries(Object.entries(env).filter(([, value]) => value !== undefined && value !== "")) as Record<string, string>;
  const { env: present, files, problems } = readFileVariables(set, new Set(pieces.flatMap(variablesReadBy)));
  const fields: object[] = [];
  for (const piece of pieces) {
    const parsed = piece.safeParse(present);
    if (parsed.success) fields.push(parsed.data);
    // The variable's name, not zod's path into it (TRUSTED_ORIGINS.2 is still TRUSTED_ORIGINS).
    else
      for (const issue of parsed.error.issues) {
        const name = String(issue.path[0] ?? "environment");
        const file = files.get(name);
        problems.push(`${name}${file === undefined ? "" : ` (read from ${file})`}: ${issue.message}`);
      }
  }
  if (problems.length > 0) throw new ConfigError(problems);
  return Object.assign({}, ...fields) as Merged<Pieces>;
}

/**
 * The variables a piece reads: the keys of its `z.object`, under any transforms. Only these may come
 * from `<NAME>_FILE`, so an unrelated `*_FILE` in the environment (SSL_CERT_FILE) is never opened.
 */
function variablesReadBy(piece: ConfigPiece): string[] {
  let schema: z.ZodType = piece;
  while (schema instanceof z.ZodPipe) schema = schema.in as z.ZodType;
  if (schema instanceof z.ZodObject) return Object.keys(schema.shape);
  throw new Error("a configuration piece must be a z.object, optionally transformed: its keys are the variables it reads");
}

/**
 * What a process does first: its configuration, or the reasons it is refused on stderr and exit
 * code 1 (no stack trace: the message is what a person fixes the deployment with).
 */
export function loadOrExit<T>(load: () => T): T {
  try {
    return load();
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    console.error(error.message);
    process.exit(1);
  }
}

export const booleanFlag = z
  .enum(["true", "false", "1", "0", ""], { message: "must be true or false" })
  .transform((value) => value === "true" || value === "1");

export const httpUrl = z.url({ protocol: /^https?$/, message: "must be an http(s) URL" });

export const commaList = z.string().transform((value) =>
  value
    .split(",")
    .map((item) => item.trim())
    .filter((item) => item.length > 0),
);

/** A whole number in a range, with the range in the message: "must be a whole number from 1 to 100". */
export function boundedInt(min: number, max: number, what = "whole number") {
  const message = `must be a ${what} from ${min} to ${max}`;
  return z.coerce.number({ message }).int(message).min(min, message).max(max, message);
}

/** A TCP port; 0 (where allowed) lets the system pick a free one. */
export function portNumber(min: 0 | 1 = 0) {
  const message = `must be a port number (${min}-65535)`;
  return z.coerce.number({ message }).int(message).min(min, message).max(65535, message);
}
