// The NetworkPolicies of every overlay, evaluated by NetworkPolicy semantics (fixtures/network-policy.ts)
// against the pods the overlay renders: each policy selects pods that exist, every pod is isolated,
// every connection the services need is allowed, and nothing else is.
import t from "tap";
import { overlays, render, workloads, byKind, type K8sObject } from "./fixtures/kustomize.js";
import { isolating, selects, verdict, type Endpoint, type NetworkPolicy, type Pod } from "./fixtures/network-policy.js";

const ours = ["temetro-auth", "temetro-mailer", "temetro-auth-migrate"] as const;
type Ours = (typeof ours)[number];

function renderedPods(objects: K8sObject[]): Record<string, Pod> {
  const pods: Record<string, Pod> = {};
  for (const workload of workloads(objects)) {
    const template = workload.spec.template;
    const namedPorts = Object.fromEntries(
      template.spec.containers.flatMap((container: any) => (container.ports ?? []).map((port: any) => [port.name, port.containerPort])),
    );
    pods[template.metadata.labels["app.kubernetes.io/name"]] = { namespace: workload.metadata.namespace!, labels: template.metadata.labels, namedPorts };
  }
  return pods;
}

/** Who else is in a cluster: the pods the services talk to or must not hear from. */
function cluster(namespace: string) {
  return {
    "the ingress controller": { namespace: "ingress-nginx", labels: { "app.kubernetes.io/name": "ingress-nginx", "app.kubernetes.io/component": "controller" } },
    Prometheus: { namespace: "monitoring", labels: { "app.kubernetes.io/name": "prometheus" } },
    Grafana: { namespace: "monitoring", labels: { "app.kubernetes.io/name": "grafana" } },
    "a temetro service (auth-client label)": { namespace, labels: { "app.kubernetes.io/name": "clinic-notes", "temetro.io/auth-client": "true" } },
    "an unlabelled pod of the namespace": { namespace, labels: { "app.kubernetes.io/name": "something-else" } },
    "a labelled pod of another namespace": { namespace: "elsewhere", labels: { "app.kubernetes.io/name": "clinic-notes", "temetro.io/auth-client": "true" } },
    "the cluster DNS": { namespace: "kube-system", labels: { "k8s-app": "kube-dns" } },
    "an in-cluster Mailpit": { namespace, labels: { "app.kubernetes.io/name": "mailpit" } },
    "an in-cluster PostgreSQL": { namespace, labels: { "app.kubernetes.io/name": "postgres" } },
    "PostgreSQL outside the cluster": { ip: "10.20.0.5" },
    "Redis outside the cluster": { ip: "10.20.0.6" },
    "an SMTP relay": { ip: "203.0.113.25" },
    "the internet": { ip: "198.51.100.7" },
  } satisfies Record<string, Endpoint>;
}

type Protocol = "TCP" | "UDP";
const ports: [number, Protocol][] = [
  [53, "UDP"], [53, "TCP"], [25, "TCP"], [80, "TCP"], [443, "TCP"], [465, "TCP"], [587, "TCP"], [1025, "TCP"],
  [4000, "TCP"], [4001, "TCP"], [4002, "TCP"], [5432, "TCP"], [6379, "TCP"], [26379, "TCP"],
];

/**
 * What each of this deployment's pods may open to anything that is not one of them: PostgreSQL,
 * Redis (26379: Sentinel) and SMTP are matched by port (managed services live outside the
 * cluster); DNS only to the cluster DNS.
 */
function egressWanted(overlay: string): Record<Ours, number[]> {
  return {
    "temetro-auth": [5432, 6379, 26379],
    "temetro-mailer": [5432, 6379, 26379, 25, 465, 587, ...(overlay === "dev" ? [1025] : [])],
    "temetro-auth-migrate": [5432],
  };
}

/** Who may reach each of this deployment's pods, on which port. */
const ingressWanted: Record<Ours, Record<number, string[]>> = {
  "temetro-auth": {
    4000: ["the ingress controller", "a temetro service (auth-client label)"],
    4001: ["a temetro service (auth-client label)", "Prometheus"],
  },
  "temetro-mailer": { 4002: ["Prometheus"] },
  "temetro-auth-migrate": {},
};

for (const overlay of overlays) {
  const objects = render(overlay);
  const policies = byKind(objects, "NetworkPolicy") as unknown as NetworkPolicy[];
  const pods = renderedPods(objects);
  const namespace = pods["temetro-auth"]!.namespace;
  const others = cluster(namespace);

  t.test(`${overlay}: every policy selects pods the overlay renders, and every pod is isolated both ways`, async (t) => {
    t.same(Object.keys(pods).sort(), [...ours].sort(), "the pods of this deployment");
    for (const policy of policies) {
      const selected = Object.entries(pods).filter(([, pod]) => selects(policy.spec.podSelector, pod.labels)).map(([name]) => name);
      t.ok(selected.length > 0, `${policy.metadata.name} selects ${selected.join(", ") || "no pod at all"}`);
    }
    for (const [name, pod] of Object.entries(pods)) {
      for (const type of ["Ingress", "Egress"] as const) {
        const deny = isolating(policies, pod, type).filter((policy) => !policy.spec[type === "Ingress" ? "ingress" : "egress"]);
        t.ok(deny.length > 0, `${name} is denied ${type} by default (${deny.map((policy) => policy.metadata.name).join(", ")})`);
      }
    }
    // Other temetro services in the namespace are not ours to isolate.
    t.same(isolating(policies, others["a temetro service (auth-client label)"], "Ingress"), [], "the default deny leaves other services' pods alone");
  });

  t.test(`${overlay}: the connections the services need are allowed`, async (t) => {
    const allowed = (from: Endpoint, to: Endpoint, port: number, protocol: Protocol = "TCP") => verdict(policies, { from, to, port, protocol }).allowed;
    const { "temetro-auth": auth, "temetro-mailer": mailer, "temetro-auth-migrate": migrate } = pods as Record<Ours, Pod>;
    const postgres = overlay === "dev" ? others["an in-cluster PostgreSQL"] : others["PostgreSQL outside the cluster"];
    t.ok(allowed(auth, postgres, 5432), "auth → PostgreSQL");
    t.ok(allowed(auth, others["Redis outside the cluster"], 6379), "auth → Redis");
    t.ok(allowed(mailer, others["Redis outside the cluster"], 6379), "mailer → Redis");
    t.ok(allowed(mailer, postgres, 5432), "mailer → PostgreSQL (it confirms deliveries in the outbox's table)");
    if (overlay === "dev") t.ok(allowed(mailer, others["an in-cluster Mailpit"], 1025), "mailer → Mailpit on 1025");
    else t.ok(allowed(mailer, others["an SMTP relay"], 587), "mailer → SMTP");
    t.ok(allowed(migrate, postgres, 5432), "migration → PostgreSQL");
    for (const [name, pod] of Object.entries(pods)) {
      t.ok(allowed(pod, others["the cluster DNS"], 53, "UDP") && allowed(pod, others["the cluster DNS"], 53, "TCP"), `${name} → DNS`);
    }
    t.ok(allowed(others["the ingress controller"], auth, 4000), "ingress → public API");
    t.ok(allowed(others.Prometheus, auth, 4001), "Prometheus → auth metrics");
    t.ok(allowed(others.Prometheus, mailer, 4002), "Prometheus → mailer metrics");
    t.ok(allowed(others["a temetro service (auth-client label)"], auth, 4001), "other services → introspection");
    t.ok(allowed(others["a temetro service (auth-client label)"], auth, 4000), "other services → public API");

    t.notOk(allowed(others["the ingress controller"], auth, 4001), "the ingress never reaches the internal port");
    t.notOk(allowed(others["a labelled pod of another namespace"], auth, 4001), "nor does a pod of another namespace");
    t.notOk(allowed(others["an unlabelled pod of the namespace"], auth, 4001), "nor an unlabelled neighbour");
    t.notOk(allowed(others.Grafana, auth, 4001), "nor anything of monitoring but Prometheus");
    t.notOk(allowed(migrate, others["Redis outside the cluster"], 6379), "the migration needs PostgreSQL only");
    t.notOk(allowed(auth, others["an SMTP relay"], 587), "auth does not send email itself");
    t.notOk(allowed(auth, others["the internet"], 443), "auth reaches nothing else");
  });

  t.test(`${overlay}: nothing else is allowed (every pair and port, against the table of what is needed)`, async (t) => {
    const wantedEgress = egressWanted(overlay);
    const endpoints: [string, Endpoint][] = [...Object.entries(pods), ...Object.entries(others)];
    const ourName = (endpoint: Endpoint) => ours.find((name) => pods[name] === endpoint);
    const surprises: string[] = [];
    for (const [fromName, from] of endpoints) {
      for (const [toName, to] of endpoints) {
        const source = ourName(from);
        const destination = ourName(to);
        if (!source && !destination) continue; // between other pods: not these policies' business
        for (const [port, protocol] of ports) {
          // Port-matched egress reaches any destination on that port (the destination's ingress decides for ours).
          const egressOk = !source || (protocol === "TCP" && wantedEgress[source].includes(port)) || (toName === "the cluster DNS" && port === 53);
          const ingressOk = !destination || (protocol === "TCP" && (ingressWanted[destination][port] ?? []).includes(fromName));
          const expected = egressOk && ingressOk;
          const actual = verdict(policies, { from, to, port, protocol }).allowed;
          if (actual !== expected) surprises.push(`${fromName} → ${toName} ${port}/${protocol}: ${actual ? "allowed" : "refused"}, expected ${expected ? "allowed" : "refused"}`);
        }
      }
    }
    t.same(surprises, [], "the policies allow exactly the table");
  });
}
