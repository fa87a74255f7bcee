// @temetro/auth-client/web is for browsers: bundled as a web app's bundler would (esbuild, platform
// "browser"), it must need no Node module, and none of the package's server side (Fastify, jose,
// the introspection cache) may come along.
import { builtinModules } from "node:module";
import { fileURLToPath } from "node:url";
import { build, type Metafile } from "esbuild";
import t from "tap";

const packageDir = fileURLToPath(new URL("..", import.meta.url));

/** Bundles an entry of the package for the browser; esbuild refuses any import of a Node built-in. */
async function bundleForBrowser(entry: string, conditions: string[]) {
  const result = await build({
    entryPoints: [entry],
    absWorkingDir: packageDir,
    bundle: true,
    platform: "browser",
    format: "esm",
    conditions,
    write: false,
    metafile: true,
    logLevel: "silent",
  }).catch((error: { errors?: { text: string }[] }) => ({ failure: (error.errors ?? []).map((message) => message.text) }));
  if ("failure" in result) return { errors: result.failure, inputs: [] as string[] };
  return { errors: result.errors.map((message) => message.text), inputs: Object.keys((result.metafile as Metafile).inputs) };
}

const serverSide = /node_modules\/(fastify|fastify-plugin|jose|lru-cache|pg|ioredis)\//;

for (const [label, entry, conditions] of [
  ["from its sources", "src/web.ts", ["temetro-source"]],
  ["as shipped (dist)", "dist/web.js", []],
] as const) {
  t.test(`the web entry bundles for the browser without any Node module (${label})`, async (t) => {
    const { errors, inputs } = await bundleForBrowser(entry, [...conditions]);
    t.same(errors, [], "esbuild resolved every import for the browser");
    t.ok(inputs.length > 0);
    t.same(inputs.filter((input) => serverSide.test(input)), [], "no server-side package in the bundle");
    t.same(
      inputs.filter((input) => !input.includes("node_modules")).filter((input) => !/\/(web|access-control|additional-fields|roles|error-codes)\.(ts|js)$/.test(input)),
      [],
      "of the package, only the web entry, the role table, the fields and the error codes",
    );
  });
}

t.test("the check itself: the Node-side core does not bundle for the browser", async (t) => {
  const { errors } = await bundleForBrowser("src/core.ts", ["temetro-source"]);
  t.ok(errors.length > 0, "refused");
  t.match(errors.join("\n"), new RegExp(`"(node:)?(${builtinModules.join("|")})"`), "naming a Node built-in");
});
