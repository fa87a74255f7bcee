// The deployment files: kustomize overlays render and validate against the Kubernetes schemas
// offline; probes and ports agree with what the services serve; compose names real Dockerfile
// targets. No container engine or cluster runs here: this is what can be checked without one.
import { spawnSync } from "node:child_process";
import { cpSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { relative } from "node:path";
import t from "tap";
import { parse } from "yaml";
import { byKind, named, render, renderDirectory, root, type K8sObject } from "./fixtures/kustomize.js";

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

/**
 * The variables a workload's first container reads from the Secret `temetro-auth` as files
 * (`<NAME>_FILE`), each checked to point at a key the pod mounts read-only: name -> key.
 */
function secretFiles(workload: K8sObject): Record<string, string> {
  const pod = workload.spec.template.spec;
  const container = pod.containers[0];
  const files: Record<string, string> = {};
  for (const { name, value } of container.env ?? []) {
    if (!name.endsWith("_FILE")) continue;
    const mount = (container.volumeMounts ?? []).find((mount: any) => value.startsWith(`${mount.mountPath}/`));
    const volume = pod.volumes?.find((volume: any) => volume.name === mount?.name);
    if (!mount?.readOnly || volume?.secret?.secretName !== "temetro-auth") throw new Error(`${name} is not in a read-only mount of the Secret`);
    const key = value.slice(mount.mountPath.length + 1);
    if (!volume.secret.items.some((item: { key: string; path: string }) => item.key === key && item.path === key)) {
      throw new Error(`${name}: the pod does not mount the key ${key}`);
    }
    files[name.slice(0, -"_FILE".length)] = key;
  }
  return files;
}

for (const overlay of ["dev", "production"]) {
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
    for (const name of ["DATABASE_URL", "REDIS_URL", "SMTP_URL"]) t.equal(mailerSecrets[name], name, `the mailer reads ${name} from the Secret's file`);
    t.equal(mailerSecrets.BETTER_AUTH_SECRET, undefined, "the mailer is not given the session-signing secret");
    t.equal(mailerContainer.envFrom.some((source: any) => source.secretRef), false, "no secret in the environment");
    const mailerEgress = named(objects, "NetworkPolicy", "temetro-mailer-egress");
    const mailerPorts = mailerEgress.spec.egress.flatMap((rule: any) => (rule.ports ?? []).map((port: { port: number }) => port.port));
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
  const secret = named(objects, "Secret", "temetro-auth");
  const keys = Object.keys(secret.data ?? {}).concat(Object.keys(secret.stringData ?? {}));
  const mounted = new Set([...byKind(objects, "Deployment"), ...byKind(objects, "Job")].flatMap((workload) => Object.values(secretFiles(workload))));
  t.ok(mounted.size >= 6);
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
    t.same([files.INTERNAL_TOKEN, files.METRICS_TOKEN], ["INTERNAL_TOKEN", "METRICS_TOKEN"], `${name} reads INTERNAL_TOKEN and METRICS_TOKEN from the Secret: its /metrics is guarded`);
  }
  // What production requires of the auth service, as the migration Job loads the same configuration.
  for (const workload of [named(objects, "Deployment", "temetro-auth"), migrationJob(objects)]) {
    const files = secretFiles(workload);
    for (const name of ["BETTER_AUTH_SECRET", "DATABASE_URL", "INTERNAL_TOKEN"]) t.equal(files[name], name, `${workload.metadata.name}: ${name} from the Secret`);
  }
  const example = parse(readFileSync(`${root}/k8s/secret.example.yaml`, "utf8"));
  // Every key a pod mounts must be in the Secret, or the pod does not start.
  const mounted = new Set([...byKind(objects, "Deployment"), ...byKind(objects, "Job")].flatMap((workload) => Object.values(secretFiles(workload))));
  t.same([...mounted].filter((key) => !(key in example.stringData)), [], "the Secret template lists every key a pod mounts");
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

t.test("the migration Job is named after the release, so the next release's Job applies beside the finished one", async (t) => {
  for (const overlay of ["dev", "production"]) {
    const objects = render(overlay);
    const image = named(objects, "Deployment", "temetro-auth").spec.template.spec.containers[0].image as string;
    const job = migrationJob(objects);
    t.equal(job.metadata.name, `temetro-auth-migrate-${image.split(":")[1]}`, `${overlay}: named after the auth image's tag`);
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
});

t.test("production runs the release its overlay names, not latest", async (t) => {
  const objects = render("production");
  const version = JSON.parse(readFileSync(`${root}/package.json`, "utf8")).version;
  for (const workload of [...byKind(objects, "Deployment"), ...byKind(objects, "Job")]) {
    t.match(workload.spec.template.spec.containers[0].image, new RegExp(`^ghcr\\.io/temetro/temetro-(auth|mailer):${version.replaceAll(".", "\\.")}$`), workload.metadata.name);
  }
});
