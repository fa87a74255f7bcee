// The deployment files: kustomize overlays render and validate against the Kubernetes schemas
// offline; probes and ports agree with what the services serve; compose names real Dockerfile
// targets. No container engine or cluster runs here: this is what can be checked without one.
import { spawnSync } from "node:child_process";
import { cpSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, relative } from "node:path";
import pg from "pg";
import t, { type Test } from "tap";
import { newRedisPrefix, repositoryRoot, TEST_SECRET, testRedisUrl } from "@temetro/test-support/auth-app";
import { startCollected, typeScriptEntry } from "@temetro/test-support/processes";
import { parse, parseAllDocuments } from "yaml";
import { byKind, named, render, renderDirectory, root, type K8sObject } from "./fixtures/kustomize.js";
import { selects } from "./fixtures/network-policy.js";
import { startAuth } from "./fixtures/services.js";

async function validate(object: K8sObject): Promise<void> {
  const [group, version] = object.apiVersion.includes("/") ? object.apiVersion.split("/") : ["", object.apiVersion];
  const module = await import(`kubernetes-models/${group ? `${group}/` : ""}${version}/${object.kind}`);
  const Model = module[object.kind] ?? module.default;
  new Model(object).validate();
}

/** The migration Job, whatever release it is named after. */
const migrationJob = (objects: K8sObject[]) => {
  const jobs = byKind(objects, "Job").filter((job) => job.metadata.labels?.["app.kubernetes.io/name"] === "temetro-auth-migrate");
  if (jobs.length !== 1) throw new Error(`${jobs.length} migration Jobs`);
  return jobs[0]!;
};

/** The Secrets the pods read: the services' own, and the metrics token Prometheus is given too. */
const ourSecrets = ["temetro-auth", "temetro-auth-metrics"];

/**
 * The variables a workload's first container reads from a Secret as files (`<NAME>_FILE`), each
 * checked to point at a key the pod mounts read-only: name -> "<Secret>/<key>".
 */
function secretFiles(workload: K8sObject): Record<string, string> {
  const pod = workload.spec.template.spec;
  const container = pod.containers[0];
  const files: Record<string, string> = {};
  for (const { name, value } of container.env ?? []) {
    if (!name.endsWith("_FILE")) continue;
    const mount = (container.volumeMounts ?? []).find((mount: any) => value.startsWith(`${mount.mountPath}/`));
    const volume = pod.volumes?.find((volume: any) => volume.name === mount?.name);
    if (!mount?.readOnly || !ourSecrets.includes(volume?.secret?.secretName)) throw new Error(`${name} is not in a read-only mount of a Secret`);
    const key = value.slice(mount.mountPath.length + 1);
    if (!volume.secret.items.some((item: { key: string; path: string }) => item.key === key && item.path === key)) {
      throw new Error(`${name}: the pod does not mount the key ${key}`);
    }
    files[name.slice(0, -"_FILE".length)] = `${volume.secret.secretName}/${key}`;
  }
  return files;
}

/** The keys of k8s/secret.example.yaml's Secrets: "<Secret>/<key>". */
function exampleSecretKeys(): string[] {
  return parseAllDocuments(readFileSync(`${root}/k8s/secret.example.yaml`, "utf8")).flatMap((document) => {
    const secret = document.toJSON() as K8sObject;
    return Object.keys(secret.stringData).map((key) => `${secret.metadata.name}/${key}`);
  });
}

for (const overlay of ["dev", "production"]) {
  t.test(`${overlay}: each pod mounts only the database URLs it uses: the migration's role in the Job, the LISTEN URL in the auth pods`, async (t) => {
    const objects = render(overlay);
    const files = (workload: K8sObject) => secretFiles(workload);
    const auth = files(named(objects, "Deployment", "temetro-auth"));
    const mailer = files(named(objects, "Deployment", "temetro-mailer"));
    const job = files(migrationJob(objects));
    t.equal(job.MIGRATION_DATABASE_URL, "temetro-auth/MIGRATION_DATABASE_URL", "the Job migrates with the schema owner's URL when one is set");
    t.equal(auth.DATABASE_LISTEN_URL, "temetro-auth/DATABASE_LISTEN_URL", "the auth pods LISTEN on PostgreSQL itself when one is set");
    t.equal(auth.MIGRATION_DATABASE_URL, undefined, "the service's pods never hold the schema owner's password");
    t.equal(mailer.MIGRATION_DATABASE_URL, undefined, "nor does the mailer");
    t.equal(job.DATABASE_LISTEN_URL, undefined, "the Job does not listen");
    t.equal(mailer.DATABASE_LISTEN_URL, undefined, "nor does the mailer");
    t.equal(job.METRICS_TOKEN, undefined, "the Job serves no metrics");
  });

  t.test(`the ${overlay} overlay renders and every object validates against the Kubernetes schemas`, async (t) => {
    const objects = render(overlay);
    const kinds = new Set(objects.map((object) => object.kind));
    for (const kind of ["ConfigMap", "Deployment", "Service", "HorizontalPodAutoscaler", "PodDisruptionBudget", "Job", "NetworkPolicy"]) {
      t.ok(kinds.has(kind), `has a ${kind}`);
    }
    for (const object of objects) {
      await t.resolves(validate(object), `${object.kind} ${object.metadata.name}`);
    }
  });

  t.test(`${overlay}: the auth Deployment rolls without losing capacity and is locked down`, async (t) => {
    const objects = render(overlay);
    const auth = named(objects, "Deployment", "temetro-auth");
    t.ok(auth.spec.replicas >= 2, "two replicas or more");
    t.equal(auth.spec.strategy.rollingUpdate.maxUnavailable, 0);
    const pod = auth.spec.template.spec;
    const container = pod.containers[0];
    t.equal(pod.securityContext.runAsNonRoot, true);
    t.equal(container.securityContext.readOnlyRootFilesystem, true);
    t.equal(container.securityContext.allowPrivilegeEscalation, false);
    t.ok(container.resources.requests.cpu && container.resources.limits.memory, "resources set");
    const preStopSeconds = Number(container.lifecycle.preStop.exec.command[1]);
    // The service drains for at most 10 s after SIGTERM (close-with-grace delay in server.ts).
    t.ok(pod.terminationGracePeriodSeconds > preStopSeconds + 10, "grace period longer than preStop + drain");

    const ports = Object.fromEntries(container.ports.map((port: { name: string; containerPort: number }) => [port.name, port.containerPort]));
    const config = named(objects, "ConfigMap", "temetro-auth").data;
    t.equal(ports.http, Number(config.PORT), "public port matches PORT");
    t.equal(ports.internal, Number(config.INTERNAL_PORT), "internal port matches INTERNAL_PORT");
    for (const probe of ["startupProbe", "livenessProbe", "readinessProbe"]) {
      const { path, port } = container[probe].httpGet;
      t.ok(port in ports, `${probe} uses a declared port`);
      t.match(path, /^\/health\/(live|ready)$/, `${probe} path`);
    }
    t.equal(container.livenessProbe.httpGet.path, "/health/live", "liveness touches no dependency");
    t.equal(container.readinessProbe.httpGet.path, "/health/ready");
  });

  t.test(`${overlay}: services, budgets, autoscaler and network policies fit together`, async (t) => {
    const objects = render(overlay);
    const publicService = named(objects, "Service", "temetro-auth");
    const internalService = named(objects, "Service", "temetro-auth-internal");
    t.same(publicService.spec.ports.map((port: { targetPort: string }) => port.targetPort), ["http"]);
    t.same(internalService.spec.ports.map((port: { targetPort: string }) => port.targetPort), ["internal"]);
    t.equal(named(objects, "HorizontalPodAutoscaler", "temetro-auth").spec.scaleTargetRef.name, "temetro-auth");
    t.ok(named(objects, "HorizontalPodAutoscaler", "temetro-auth").spec.minReplicas >= 2);
    for (const name of ["temetro-auth", "temetro-mailer"]) {
      const budget = named(objects, "PodDisruptionBudget", name);
      t.same(budget.spec.selector.matchLabels, { "app.kubernetes.io/name": name });
    }
    const mailer = named(objects, "Deployment", "temetro-mailer");
    const mailerContainer = mailer.spec.template.spec.containers[0];
    t.equal(mailerContainer.ports[0].containerPort, Number(named(objects, "ConfigMap", "temetro-auth").data.MAILER_HTTP_PORT));
    t.equal(mailerContainer.readinessProbe.httpGet.path, "/health/ready");
    // The mailer confirms deliveries in PostgreSQL: it gets DATABASE_URL from the Secret and may reach port 5432.
    const mailerSecrets = secretFiles(mailer);
    for (const name of ["DATABASE_URL", "REDIS_URL", "SMTP_URL"]) t.equal(mailerSecrets[name], `temetro-auth/${name}`, `the mailer reads ${name} from the Secret's file`);
    t.equal(mailerSecrets.BETTER_AUTH_SECRET, undefined, "the mailer is not given the session-signing secret");
    t.equal(mailerContainer.envFrom.some((source: any) => source.secretRef), false, "no secret in the environment");
    const mailerLabels = mailer.spec.template.metadata.labels;
    const mailerEgress = byKind(objects, "NetworkPolicy").filter((policy) => policy.spec.egress && selects(policy.spec.podSelector, mailerLabels));
    const mailerPorts = mailerEgress.flatMap((policy) => policy.spec.egress.flatMap((rule: any) => (rule.ports ?? []).map((port: { port: number }) => port.port)));
    for (const port of [5432, 6379]) t.ok(mailerPorts.includes(port), `the mailer may reach port ${port}`);

    const policies = byKind(objects, "NetworkPolicy");
    const denyAll = policies.find((policy) => !policy.spec.ingress && !policy.spec.egress);
    t.ok(denyAll, "a default-deny policy");
    t.same(denyAll!.spec.policyTypes, ["Ingress", "Egress"]);
    const authIngress = named(objects, "NetworkPolicy", "temetro-auth-ingress");
    const publicRule = authIngress.spec.ingress.find((rule: any) => rule.from[0].namespaceSelector?.matchLabels["kubernetes.io/metadata.name"] === "ingress-nginx");
    t.same(publicRule.ports.map((port: { port: number }) => port.port), [4000], "the ingress reaches only the public port");
  });
}

t.test("dev: the generated Secret has every key a pod mounts (a missing key keeps the pod from starting)", async (t) => {
  const objects = render("dev");
  const keys = byKind(objects, "Secret").flatMap((secret) =>
    Object.keys(secret.data ?? {}).concat(Object.keys(secret.stringData ?? {})).map((key) => `${secret.metadata.name}/${key}`),
  );
  const mounted = new Set([...byKind(objects, "Deployment"), ...byKind(objects, "Job")].flatMap((workload) => Object.values(secretFiles(workload))));
  t.ok(mounted.size >= 8, `${mounted.size} keys mounted`);
  t.same([...mounted].filter((key) => !keys.includes(key)), []);
});

t.test("production: the Ingress terminates TLS and routes only to the public Service; no Secret is committed", async (t) => {
  const objects = render("production");
  const ingress = named(objects, "Ingress", "temetro-auth");
  t.ok(ingress.spec.tls[0].secretName);
  const backends = ingress.spec.rules.flatMap((rule: any) => rule.http.paths.map((path: any) => path.backend.service.name));
  t.same([...new Set(backends)], ["temetro-auth"]);
  t.equal(byKind(objects, "Secret").length, 0, "the production Secret is created outside the repository");
  t.equal(named(objects, "ConfigMap", "temetro-auth").data.TRUST_PROXY, "1", "the ingress hop is trusted");
  t.equal(named(objects, "Deployment", "temetro-auth").spec.replicas, 3);
});

t.test("production meets the service's production rules: https BETTER_AUTH_URL, INTERNAL_TOKEN from the Secret for both /metrics", async (t) => {
  const objects = render("production");
  const config = named(objects, "ConfigMap", "temetro-auth").data;
  t.equal(config.NODE_ENV, "production");
  t.match(config.BETTER_AUTH_URL, /^https:\/\//, "the auth service refuses to start in production over http");
  for (const name of ["temetro-auth", "temetro-mailer"]) {
    const files = secretFiles(named(objects, "Deployment", name));
    t.same(
      [files.INTERNAL_TOKEN, files.METRICS_TOKEN],
      ["temetro-auth/INTERNAL_TOKEN", "temetro-auth-metrics/METRICS_TOKEN"],
      `${name} reads INTERNAL_TOKEN, and METRICS_TOKEN from the Secret Prometheus is given: its /metrics is guarded`,
    );
  }
  // What production requires of the auth service, as the migration Job loads the same configuration.
  for (const workload of [named(objects, "Deployment", "temetro-auth"), migrationJob(objects)]) {
    const files = secretFiles(workload);
    for (const name of ["BETTER_AUTH_SECRET", "DATABASE_URL", "INTERNAL_TOKEN"]) t.equal(files[name], `temetro-auth/${name}`, `${workload.metadata.name}: ${name} from the Secret`);
  }
  // Every key a pod mounts must be in the Secret, or the pod does not start.
  const example = exampleSecretKeys();
  const mounted = new Set([...byKind(objects, "Deployment"), ...byKind(objects, "Job")].flatMap((workload) => Object.values(secretFiles(workload))));
  t.same([...mounted].filter((key) => !example.includes(key)), [], "the Secret template lists every key a pod mounts");
  // Compose serves plain http on 127.0.0.1: it must not claim production, which would refuse to start.
  const composeEnv = parse(readFileSync(`${root}/docker-compose.yml`, "utf8")).services.auth.environment;
  if (composeEnv.NODE_ENV === "production") {
    t.match(composeEnv.BETTER_AUTH_URL, /^https:\/\//);
    t.ok(composeEnv.INTERNAL_TOKEN);
  } else t.equal(composeEnv.NODE_ENV, "development");
});

t.test("docker-compose.yml parses, builds Dockerfile targets that exist, and binds ports to 127.0.0.1", async (t) => {
  const compose = parse(readFileSync(`${root}/docker-compose.yml`, "utf8"));
  const dockerfile = readFileSync(`${root}/Dockerfile`, "utf8");
  const targets = new Set([...dockerfile.matchAll(/^FROM\s+\S+\s+AS\s+(\S+)/gim)].map((match) => match[1]));
  const built = Object.entries(compose.services).filter(([, service]: [string, any]) => service.build);
  t.ok(built.length >= 3, "migrate, auth and mailer are built here");
  for (const [name, service] of built as [string, any][]) {
    t.ok(targets.has(service.build.target), `${name} builds target ${service.build.target}`);
  }
  for (const [name, service] of Object.entries(compose.services) as [string, any][]) {
    for (const port of service.ports ?? []) t.match(port, /^127\.0\.0\.1:/, `${name} ${port}`);
  }
  for (const name of ["postgres", "redis", "mailpit", "migrate", "auth", "mailer"]) t.ok(compose.services[name], name);
  t.ok(compose.services.postgres.healthcheck, "PostgreSQL has a health check");
  t.match(compose.services.redis.command.join(" "), /--maxmemory-policy noeviction.*--appendonly yes/);
  t.equal(compose.services.auth.depends_on.migrate.condition, "service_completed_successfully");
  const mailerEnv = compose.services.mailer.environment;
  t.match(mailerEnv.DATABASE_URL, /^postgres:\/\/.*@postgres:5432\//, "the mailer confirms deliveries in the compose PostgreSQL");
  t.equal(compose.services.mailer.depends_on.postgres.condition, "service_healthy");
  for (const name of ["auth", "mailer"]) {
    const port = name === "auth" ? 4000 : 4002;
    t.match(compose.services[name].healthcheck.test.join(" "), `http://127.0.0.1:${port}/health/ready`, `${name}: a health check on its readiness`);
  }
  for (const [name, service] of Object.entries(compose.services) as [string, any][]) {
    if (service.image) t.match(service.image, /:v?\d+\.\d+(\.\d+)?$/, `${name}: ${service.image} is pinned by version`);
  }
});

t.test("the Dockerfile installs with every workspace's package.json, as npm ci needs", async (t) => {
  const dockerfile = readFileSync(`${root}/Dockerfile`, "utf8");
  const workspaces = spawnSync("npm", ["query", ".workspace"], { cwd: root, encoding: "utf8" });
  const locations = (JSON.parse(workspaces.stdout) as { location: string }[]).map((workspace) => workspace.location);
  t.ok(locations.length >= 5);
  // Both installs (runtime dependencies, build) start from the one stage that copies the manifests.
  const installs = dockerfile.split(/^FROM /m).filter((stage) => /npm ci/.test(stage));
  t.same(installs.map((stage) => stage.split("\n")[0]), ["manifests AS deps", "manifests AS build"]);
  const manifests = stageOf(dockerfile, "manifests");
  for (const location of locations) t.match(manifests, `COPY ${location}/package.json ${location}/`, location);
});

t.test("the Dockerfile's final images run node directly as a non-root user", async (t) => {
  const dockerfile = readFileSync(`${root}/Dockerfile`, "utf8");
  t.match(dockerfile, /^FROM \$\{NODE_IMAGE\} AS runtime[\s\S]*^USER node$/m);
  t.match(dockerfile, /ARG NODE_IMAGE=node:(2[2-9]|[3-9]\d)/, "Node 22 LTS or newer");
  t.match(dockerfile, /npm ci --omit=dev/, "only runtime dependencies in the final image");
  for (const target of ["auth", "mailer"]) {
    const stage = dockerfile.split(new RegExp(`^FROM runtime AS ${target}$`, "m"))[1]!.split(/^FROM /m)[0]!;
    t.match(stage, /^CMD \["node", /m, `${target}: node receives the signals`);
  }
});

const stageOf = (dockerfile: string, name: string) => dockerfile.split(new RegExp(`^FROM \\S+ AS ${name}$`, "m"))[1]!.split(/^FROM /m)[0]!;

t.test("the images run tsc's output with plain node: no TypeScript sources, no tsx, no esbuild", async (t) => {
  const dockerfile = readFileSync(`${root}/Dockerfile`, "utf8");
  const entries = { auth: "services/auth/dist/server.js", mailer: "services/mailer/dist/main.js" };
  for (const [target, entry] of Object.entries(entries)) {
    t.match(stageOf(dockerfile, target), `CMD ["node", "${entry}"]`, `${target} runs ${entry}`);
  }
  t.match(stageOf(dockerfile, "build"), /^RUN npx tsc -b /m, "a build stage compiles");
  const runtime = stageOf(dockerfile, "runtime");
  t.notMatch(runtime, /tsx|--import|\/src\b|tsconfig/, "the runtime stage copies no sources and loads no transpiler");
  for (const workspace of ["shared", "packages/auth-client", "services/auth", "services/mailer"]) {
    t.match(runtime, `COPY --from=build /app/${workspace}/dist ${workspace}/dist`, `${workspace}: compiled output`);
  }
  // `npm ci --omit=dev` installs only what the lock file does not mark as dev.
  const lock = JSON.parse(readFileSync(`${root}/package-lock.json`, "utf8"));
  for (const name of ["tsx", "esbuild", "typescript"]) {
    t.equal(lock.packages[`node_modules/${name}`]?.dev, true, `${name} is a development dependency only`);
  }

  const migrateCommand = "node services/auth/dist/db/migrate-cli.js";
  t.equal(parse(readFileSync(`${root}/docker-compose.yml`, "utf8")).services.migrate.command.join(" "), migrateCommand, "compose migrates compiled");
  for (const overlay of ["dev", "production"]) {
    const objects = render(overlay);
    t.equal(migrationJob(objects).spec.template.spec.containers[0].command.join(" "), migrateCommand, `${overlay}: the migrate Job runs compiled`);
    for (const workload of [...byKind(objects, "Deployment"), ...byKind(objects, "Job")]) {
      const pod = workload.spec.template.spec;
      const volumes = (pod.volumes ?? []).map((volume: any) => (volume.secret ? "secret" : volume.name));
      t.same([...new Set(volumes)], ["secret"], `${workload.metadata.name}: only the Secret's files, no scratch volume, nothing writes to disk`);
      t.ok(pod.containers[0].volumeMounts.every((mount: any) => mount.readOnly), `${workload.metadata.name}: mounted read-only`);
      // Mode 0440 files belong to root and the pod's fsGroup: without it the service's user cannot read them.
      t.equal(pod.volumes.find((volume: any) => volume.secret).secret.defaultMode, 0o440, `${workload.metadata.name}: owner and group may read`);
      t.equal(pod.securityContext.fsGroup, pod.securityContext.runAsGroup, `${workload.metadata.name}: the files' group is the service's`);
      t.equal(pod.containers[0].securityContext.readOnlyRootFilesystem, true, `${workload.metadata.name}: read-only root filesystem`);
    }
  }
});

/**
 * A Job name the Job controller can use: it becomes the `job-name` label of the Job's pods, a label
 * value (63 characters at most), and is a DNS subdomain (lower-case alphanumerics, '-' and '.').
 */
const isJobName = (name: string) => name.length <= 63 && /^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/.test(name);

t.test("the migration Job is named after the release, so the next release's Job applies beside the finished one", async (t) => {
  for (const overlay of ["dev", "production"]) {
    const objects = render(overlay);
    const image = named(objects, "Deployment", "temetro-auth").spec.template.spec.containers[0].image as string;
    const job = migrationJob(objects);
    t.equal(job.metadata.name, `temetro-auth-migrate-${image.split(":")[1]}`, `${overlay}: named after the auth image's tag`);
    t.ok(isJobName(job.metadata.name), `${overlay}: a name its pods' job-name label can carry`);
    t.equal(job.spec.template.spec.containers[0].image, image, `${overlay}: migrates with the release's own image`);
    t.ok(job.spec.ttlSecondsAfterFinished > 0, `${overlay}: finished Jobs are cleaned up`);
  }
  // A release changes the overlay's tag, nothing else: a copy of production with the next tag.
  const next = mkdtempSync(`${root}/k8s/overlays/.release-test-`);
  t.teardown(() => rmSync(next, { recursive: true, force: true }));
  for (const file of readdirSync(`${root}/k8s/overlays/production`)) cpSync(`${root}/k8s/overlays/production/${file}`, `${next}/${file}`);
  const kustomization = readFileSync(`${next}/kustomization.yaml`, "utf8");
  t.match(kustomization, /newTag: "0\.1\.0"/);
  writeFileSync(`${next}/kustomization.yaml`, kustomization.replaceAll('newTag: "0.1.0"', 'newTag: "0.2.0"'));
  const objects = renderDirectory(relative(root, next));
  t.equal(migrationJob(objects).metadata.name, "temetro-auth-migrate-0.2.0");
  t.equal(named(objects, "Deployment", "temetro-mailer").spec.template.spec.containers[0].image, "ghcr.io/temetro/temetro-mailer:0.2.0");

  // The same release pinned by digest as well: the Job keeps the tag's short name and runs the pinned image.
  const digest = `sha256:${"0123456789abcdef".repeat(4)}`;
  writeFileSync(`${next}/kustomization.yaml`, kustomization.replaceAll('newTag: "0.1.0"', `newTag: "0.1.0"\n    digest: ${digest}`));
  const pinned = renderDirectory(relative(root, next));
  const pinnedImage = named(pinned, "Deployment", "temetro-auth").spec.template.spec.containers[0].image;
  t.equal(pinnedImage, `ghcr.io/temetro/temetro-auth:0.1.0@${digest}`, "the Deployment runs the digest");
  const pinnedJob = migrationJob(pinned);
  t.equal(pinnedJob.metadata.name, "temetro-auth-migrate-0.1.0", "the Job is named after the tag, not the digest");
  t.ok(isJobName(pinnedJob.metadata.name), `${pinnedJob.metadata.name}: at most 63 characters, lower-case letters, digits, '-' and '.'`);
  t.equal(pinnedJob.spec.template.spec.containers[0].image, pinnedImage, "and migrates with the pinned image");
  t.equal(pinnedJob.metadata.annotations?.["temetro.io/release-image"], "ghcr.io/temetro/temetro-auth:0.1.0", "the release it belongs to, readable on the Job");
});


t.test("production runs the release its overlay names, not latest", async (t) => {
  const objects = render("production");
  const version = JSON.parse(readFileSync(`${root}/package.json`, "utf8")).version;
  for (const workload of [...byKind(objects, "Deployment"), ...byKind(objects, "Job")]) {
    t.match(workload.spec.template.spec.containers[0].image, new RegExp(`^ghcr\\.io/temetro/temetro-(auth|mailer):${version.replaceAll(".", "\\.")}$`), workload.metadata.name);
  }
});

/**
 * A workload's environment as its pod gets it: the ConfigMap, then each `<NAME>_FILE` pointing at
 * the Secret's key, laid out under `directory` as the kubelet mounts it. `values` holds the Secrets'
 * contents ("<Secret>/<key>" -> value); a key the pod mounts and `values` lacks is an empty file.
 */
function podEnvironment(t: Test, objects: K8sObject[], workload: K8sObject, directory: string, values: Record<string, string>): Record<string, string> {
  const env: Record<string, string> = { PATH: process.env.PATH ?? "", ...named(objects, "ConfigMap", "temetro-auth").data };
  const container = workload.spec.template.spec.containers[0];
  for (const [name, secretKey] of Object.entries(secretFiles(workload))) {
    const path = join(directory, secretKey);
    mkdirSync(dirname(path), { recursive: true });
    // As `kubectl create secret --from-file` leaves it: the value and a newline, or nothing at all.
    writeFileSync(path, values[secretKey] ? `${values[secretKey]}\n` : "", { mode: 0o400 });
    env[`${name}_FILE`] = path;
  }
  t.ok(container.env.every((variable: { name: string }) => variable.name.endsWith("_FILE")), `${workload.metadata.name}: its only variables besides the ConfigMap are the files`);
  return env;
}

/** The README's "Database roles" statements: the server's (roles, database), then the database's. */
function databaseRolesSql(names: Record<"owner" | "app" | "database", string>): string[] {
  const readme = readFileSync(`${root}/README.md`, "utf8");
  const section = readme.slice(readme.indexOf("**Database roles.**"), readme.indexOf("**Network policies**"));
  return [...section.matchAll(/```sql\n([\s\S]*?)```/g)].map((block) =>
    block[1]!.replaceAll("temetro_auth_owner", names.owner).replaceAll("temetro_auth_app", names.app).replaceAll("temetro_auth", names.database),
  );
}

async function runMigrationJob(env: Record<string, string>) {
  const run = startCollected(process.execPath, typeScriptEntry(`${repositoryRoot}/services/auth/src/db/migrate-cli.ts`), { cwd: repositoryRoot, env });
  const [code] = await run.exited;
  return { code, output: run.output() };
}

async function superuserQuery(t: Test, database: string) {
  const client = new pg.Client({ connectionString: `postgres://postgres@127.0.0.1:5432/${database}` });
  await client.connect();
  t.teardown(() => client.end());
  return client;
}

t.test("production, with the README's database roles: the Job migrates as the schema's owner from its files, the service runs as a role that only reads and writes rows", async (t) => {
  const suffix = `${process.pid}_${process.env.TAP_JOB_ID ?? "0"}`;
  const names = { owner: `k8s_owner_${suffix}`, app: `k8s_app_${suffix}`, database: `k8s_auth_${suffix}` };
  const url = (role: string) => `postgres://${role}@127.0.0.1:5432/${names.database}`;
  const [serverSql, databaseSql] = databaseRolesSql(names);
  t.ok(serverSql && databaseSql, "the README gives both steps");
  const server = await superuserQuery(t, "postgres");
  t.teardown(async () => {
    await server.query(`DROP DATABASE IF EXISTS ${names.database} WITH (FORCE)`);
    await server.query(`DROP ROLE IF EXISTS ${names.app}`);
    await server.query(`DROP ROLE IF EXISTS ${names.owner}`);
  });
  // One statement at a time, as psql sends them (CREATE DATABASE refuses a transaction block).
  const statements = (sql: string) => sql.split(/;\s*$/m).map((statement) => statement.trim()).filter(Boolean);
  for (const statement of statements(serverSql!)) await server.query(statement);
  const inDatabase = await superuserQuery(t, names.database);
  for (const statement of statements(databaseSql!)) await inDatabase.query(statement);

  const objects = render("production");
  const directory = mkdtempSync(join(tmpdir(), "temetro-pod-"));
  t.teardown(() => rmSync(directory, { recursive: true, force: true }));
  const secret = {
    "temetro-auth/BETTER_AUTH_SECRET": TEST_SECRET,
    "temetro-auth/DATABASE_URL": url(names.app),
    "temetro-auth/MIGRATION_DATABASE_URL": url(names.owner),
    "temetro-auth/REDIS_URL": testRedisUrl,
    "temetro-auth/INTERNAL_TOKEN": "internal-token-of-the-deploy-test-0123456789",
    "temetro-auth-metrics/METRICS_TOKEN": "metrics-token-of-the-deploy-test-0123456789",
    // DATABASE_LISTEN_URL left empty: "not set", DATABASE_URL is PostgreSQL itself here.
  };
  const jobEnv = podEnvironment(t, objects, migrationJob(objects), join(directory, "job"), secret);
  t.equal(jobEnv.NODE_ENV, "production");

  // Whether the Job needs BETTER_AUTH_SECRET and INTERNAL_TOKEN: it loads the auth configuration.
  const { BETTER_AUTH_SECRET_FILE, INTERNAL_TOKEN_FILE, ...withoutThem } = jobEnv;
  const refused = await runMigrationJob(withoutThem);
  t.equal(refused.code, 1, "without BETTER_AUTH_SECRET and INTERNAL_TOKEN the migration does not start in production");
  t.match(refused.output, /BETTER_AUTH_SECRET/);
  t.match(refused.output, /INTERNAL_TOKEN/);

  const migrated = await runMigrationJob(jobEnv);
  t.equal(migrated.code, 0, migrated.output);
  t.match(migrated.output, /migrations done/);
  for (const value of Object.values(secret)) t.notMatch(migrated.output, value, "no secret in the Job's log");
  const { rows: owners } = await inDatabase.query(`SELECT DISTINCT tableowner FROM pg_tables WHERE schemaname = 'public'`);
  t.same(owners, [{ tableowner: names.owner }], "every table belongs to the migration's role (MIGRATION_DATABASE_URL, not DATABASE_URL)");
  const { rows: ddl } = await inDatabase.query(`SELECT has_schema_privilege($1, 'public', 'CREATE') AS create`, [names.app]);
  t.same(ddl, [{ create: false }], "the service's role cannot create or change tables");

  const authEnv = podEnvironment(t, objects, named(objects, "Deployment", "temetro-auth"), join(directory, "auth"), secret);
  const auth = await startAuth(t, { ...authEnv, HOST: "127.0.0.1", PORT: "0", INTERNAL_PORT: "0", REDIS_PREFIX: newRedisPrefix() });
  t.equal((await fetch(`${auth.publicUrl}/health/ready`)).status, 200, "the service is ready as the runtime role");
  const origin = authEnv.FRONTEND_URL!;
  const post = (path: string, body: unknown) =>
    fetch(`${auth.publicUrl}${path}`, { method: "POST", headers: { "content-type": "application/json", origin }, body: JSON.stringify(body) });
  const email = `k8s-roles-${suffix}@clinic.example`;
  const password = "a-long-enough-password-for-roles";
  t.equal((await post("/api/auth/sign-up/email", { name: "Dr. Roles", email, password })).status, 200, "sign-up writes rows as the runtime role");
  t.equal((await post("/api/auth/sign-in/email", { email, password })).status, 200, "sign-in reads and writes them");
});
