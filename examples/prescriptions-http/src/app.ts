import { randomUUID } from "node:crypto";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import {
  AuthRefusal,
  checkPermission,
  checkSession,
  createAuthenticator,
  errorCodes,
  responseOf,
  type AuthClientOptions,
  type AuthLog,
  type ClinicalPermissionRequest,
  type ErrorBody,
  type RequestAuth,
} from "@temetro/auth-client/core";

export interface Prescription {
  id: string;
  clinicId: string;
  prescriberId: string;
  text: string;
  createdAt: string;
}

export interface PrescriptionsServerOptions {
  auth: AuthClientOptions;
  /** Where refusals and failures are reported (never with a credential). */
  log: AuthLog;
}

/** Larger bodies are refused unread: a prescription is a few lines. */
const MAX_BODY_BYTES = 16 * 1024;

/** A refusal of the request itself, answered with the registry's code (as the auth service would). */
class BadRequest extends Error {
  constructor(
    readonly statusCode: number,
    readonly code: keyof typeof errorCodes,
    message: string = errorCodes[code].message,
  ) {
    super(message);
  }
}

function sendJson(response: ServerResponse, statusCode: number, body: unknown, headers: Record<string, string> = {}) {
  response.writeHead(statusCode, { "content-type": "application/json; charset=utf-8", ...headers });
  response.end(JSON.stringify(body));
}

async function readText(request: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of request as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_BODY_BYTES) throw new BadRequest(413, "BODY_TOO_LARGE");
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString("utf8");
}

async function prescriptionText(request: IncomingMessage): Promise<string> {
  if (!/^application\/json\b/i.test(request.headers["content-type"] ?? "")) throw new BadRequest(415, "UNSUPPORTED_MEDIA_TYPE");
  let body: unknown;
  try {
    body = JSON.parse(await readText(request));
  } catch (error) {
    if (error instanceof BadRequest) throw error;
    throw new BadRequest(400, "INVALID_JSON");
  }
  const text = (body as { text?: unknown } | null)?.text;
  if (typeof text !== "string" || text.length < 1 || text.length > 2000) {
    throw new BadRequest(400, "VALIDATION_ERROR", "text: a string of 1 to 2000 characters");
  }
  return text;
}

/**
 * A small temetro service on node:http alone: prescriptions kept per clinic (in memory; an
 * example, not a store). Every route but /health asks @temetro/auth-client/core who the request
 * belongs to, then checks the role's permission with the same table the auth service uses.
 */
export function createPrescriptionsServer({ auth, log }: PrescriptionsServerOptions): Server {
  const authenticator = createAuthenticator(auth);
  const prescriptions: Prescription[] = [];

  const whoIs = (request: IncomingMessage): Promise<RequestAuth | null> => authenticator.authenticate(request.headers, log);
  const allowed = async (request: IncomingMessage, permission: ClinicalPermissionRequest) => {
    const caller = await whoIs(request);
    return { caller: caller!, clinic: checkPermission(caller, permission) };
  };

  async function route(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const path = new URL(request.url ?? "/", "http://localhost").pathname;
    const endpoint = `${request.method} ${path}`;
    if (endpoint === "GET /health") return sendJson(response, 200, { status: "ok" });
    if (endpoint === "GET /me") {
      const caller = checkSession(await whoIs(request));
      return sendJson(response, 200, {
        userId: caller.user.id,
        via: caller.via,
        clinic: caller.clinic ? { id: caller.clinic.id, role: caller.clinic.role } : null,
      });
    }
    if (endpoint === "GET /prescriptions") {
      const { clinic } = await allowed(request, { prescription: ["read"] });
      return sendJson(response, 200, { prescriptions: prescriptions.filter((prescription) => prescription.clinicId === clinic.id) });
    }
    if (endpoint === "POST /prescriptions") {
      // Who first, then the body: an unauthenticated caller's body is never read.
      const { caller, clinic } = await allowed(request, { prescription: ["write"] });
      const prescription: Prescription = {
        id: randomUUID(),
        clinicId: clinic.id,
        prescriberId: caller.user.id,
        text: await prescriptionText(request),
        createdAt: new Date().toISOString(),
      };
      prescriptions.push(prescription);
      return sendJson(response, 201, { prescription });
    }
    throw new BadRequest(404, "NOT_FOUND");
  }

  return createServer((request, response) => {
    route(request, response).catch((error: unknown) => {
      if (error instanceof AuthRefusal) {
        const { statusCode, headers, body } = responseOf(error);
        return sendJson(response, statusCode, body, headers);
      }
      if (error instanceof BadRequest) {
        return sendJson(response, error.statusCode, { error: error.message, code: error.code, message: error.message } satisfies ErrorBody);
      }
      log.error({ reason: (error as Error | null)?.name ?? "unknown" }, "request failed");
      sendJson(response, 500, { error: errorCodes.INTERNAL_ERROR.message, code: "INTERNAL_ERROR", message: errorCodes.INTERNAL_ERROR.message } satisfies ErrorBody);
    });
  });
}
