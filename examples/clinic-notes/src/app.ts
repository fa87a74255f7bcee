import { randomUUID } from "node:crypto";
import Fastify, { type FastifyInstance, type FastifyServerOptions } from "fastify";
import temetroAuth, { requireClinic, requirePermission, requireSession, type TemetroAuthOptions } from "@temetro/auth-client";

export interface Note {
  id: string;
  clinicId: string;
  authorId: string;
  text: string;
  createdAt: string;
}

export interface NotesAppOptions {
  auth: TemetroAuthOptions;
  fastify?: FastifyServerOptions;
}

const noteBody = {
  type: "object",
  required: ["text"],
  additionalProperties: false,
  properties: { text: { type: "string", minLength: 1, maxLength: 2000 } },
} as const;

/**
 * A small temetro service: notes kept per clinic (in memory; an example, not a store). Every route
 * asks @temetro/auth-client who the request belongs to.
 */
export async function buildNotesApp({ auth, fastify }: NotesAppOptions): Promise<FastifyInstance> {
  const app = Fastify(fastify);
  await app.register(temetroAuth, auth);

  const notes: Note[] = [];

  app.get("/me", { onRequest: [requireSession] }, async (request) => ({
    userId: request.auth!.user.id,
    via: request.auth!.via,
    clinic: request.auth!.clinic ? { id: request.auth!.clinic.id, role: request.auth!.clinic.role } : null,
  }));

  app.get("/notes", { onRequest: [requireClinic, requirePermission({ patient: ["read"] })] }, async (request) => {
    const clinicId = request.auth!.clinic!.id;
    return { notes: notes.filter((note) => note.clinicId === clinicId) };
  });

  app.post<{ Body: { text: string } }>(
    "/notes",
    { schema: { body: noteBody }, onRequest: [requireClinic, requirePermission({ patient: ["write"] })] },
    async (request, reply) => {
      const note: Note = {
        id: randomUUID(),
        clinicId: request.auth!.clinic!.id,
        authorId: request.auth!.user.id,
        text: request.body.text,
        createdAt: new Date().toISOString(),
      };
      notes.push(note);
      return reply.code(201).send({ note });
    },
  );

  app.get("/health", async () => ({ status: "ok" }));
  return app;
}
