import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { isBuiltin } from "node:module";
import { dirname, join, relative, sep } from "node:path";
import { fileURLToPath } from "node:url";
import t from "tap";
import ts from "typescript";

/**
 * Every workspace declares what its files import, so that it installs and builds on its own (and a
 * production image, which installs only `dependencies`, has what `src` needs); nothing reaches
 * into a library's files past its `exports`, where an upgrade may move them without notice; and no
 * file reaches into another workspace by relative path (what tests share is @temetro/test-support).
 */
const root = join(dirname(fileURLToPath(import.meta.url)), "..");

interface Manifest {
  name: string;
  workspaces?: string[];
  exports?: unknown;
  dependencies?: Record<string, string>;
  devDependencies?: Record<string, string>;
  peerDependencies?: Record<string, string>;
}

const readManifest = (dir: string): Manifest => JSON.parse(readFileSync(join(dir, "package.json"), "utf8"));

function workspaceDirs(): string[] {
  return (readManifest(root).workspaces ?? []).flatMap((pattern) => {
    if (!pattern.endsWith("/*")) return [join(root, pattern)];
    const parent = join(root, pattern.slice(0, -2));
    return readdirSync(parent)
      .map((name) => join(parent, name))
      .filter((dir) => existsSync(join(dir, "package.json")));
  });
}

const SKIPPED_DIRS = new Set(["node_modules", "dist", ".tap", ".git"]);

function sourceFiles(dir: string, otherWorkspaces: Set<string>): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) {
      return SKIPPED_DIRS.has(name) || otherWorkspaces.has(path) ? [] : sourceFiles(path, otherWorkspaces);
    }
    return /\.(c|m)?[jt]s$/.test(name) ? [path] : [];
  });
}

/** `@scope/name/sub/path` → `@scope/name`; `name/sub` → `name`. */
const packageNameOf = (specifier: string) =>
  specifier
    .split("/")
    .slice(0, specifier.startsWith("@") ? 2 : 1)
    .join("/");

function installedManifest(name: string, from: string): Manifest | undefined {
  for (let dir = from; ; dir = dirname(dir)) {
    const candidate = join(dir, "node_modules", name);
    if (existsSync(join(candidate, "package.json"))) return readManifest(candidate);
    if (dir === root || dir === dirname(dir)) return undefined;
  }
}

/** Whether `./sub/path` is one of the package's `exports` keys (a `*` in a key matches anything). */
function isExported(manifest: Manifest, subpath: string): boolean {
  const { exports } = manifest;
  if (typeof exports !== "object" || exports === null) return false;
  return Object.keys(exports).some((key) => {
    const [before, after] = key.split("*");
    if (after === undefined) return key === subpath;
    return subpath.startsWith(before!) && subpath.endsWith(after) && subpath.length >= key.length - 1;
  });
}

/** Test and bench code may use devDependencies; what ships (`src`) may not. */
const isDevelopmentFile = (path: string) => /(^|\/)(test|bench)\//.test(path);

/** Workspaces that only ever appear in devDependencies (test-support): none of their code ships. */
function developmentOnlyWorkspaces(dirs: string[]): Set<string> {
  const manifests = dirs.map(readManifest);
  const shipped = new Set(manifests.flatMap((manifest) => Object.keys({ ...manifest.dependencies, ...manifest.peerDependencies })));
  const developed = new Set(manifests.flatMap((manifest) => Object.keys(manifest.devDependencies ?? {})));
  return new Set(manifests.map((manifest) => manifest.name).filter((name) => developed.has(name) && !shipped.has(name)));
}

function problemsOf(dir: string, otherWorkspaces: Set<string>, developmentOnly: boolean): string[] {
  const manifest = readManifest(dir);
  const shipped = { ...manifest.dependencies, ...manifest.peerDependencies };
  const declared = { ...shipped, ...manifest.devDependencies };
  // One line per problem, naming the files it was seen in.
  const filesByProblem = new Map<string, string[]>();
  const report = (problem: string, file: string) => filesByProblem.set(problem, [...(filesByProblem.get(problem) ?? []), file]);
  for (const file of sourceFiles(dir, otherWorkspaces)) {
    const where = relative(dir, file).split(sep).join("/");
    const { importedFiles } = ts.preProcessFile(readFileSync(file, "utf8"), true, true);
    for (const { fileName: specifier } of importedFiles) {
      if (specifier.startsWith(".")) {
        if (relative(dir, join(dirname(file), specifier)).startsWith("..")) report(`relative imports leave the workspace`, `${where} (${specifier})`);
        continue;
      }
      if (specifier.startsWith("/") || isBuiltin(specifier)) continue;
      const name = packageNameOf(specifier);
      if (name === manifest.name) continue;
      if (!(name in declared)) report(`${name} is imported but not declared`, where);
      else if (!(name in shipped) && !developmentOnly && !isDevelopmentFile(where)) report(`${name} is shipped code's import, declared only in devDependencies`, where);
      if (specifier === name) continue;
      const target = installedManifest(name, dir);
      if (target && !isExported(target, `.${specifier.slice(name.length)}`)) report(`${specifier} is not among ${name}'s exports`, where);
    }
  }
  return [...filesByProblem].map(([problem, files]) => `${problem} (${[...new Set(files)].join(", ")})`).sort();
}

const workspaces = workspaceDirs();
const developmentOnly = developmentOnlyWorkspaces(workspaces);
for (const dir of [root, ...workspaces]) {
  const others = new Set(workspaces.filter((other) => other !== dir));
  const label = dir === root ? "the root package (test/)" : relative(root, dir);
  t.test(`${label} declares every package it imports, uses only their exports and stays inside itself`, async (t) => {
    t.same(problemsOf(dir, others, developmentOnly.has(readManifest(dir).name)), []);
  });
}
