// k8s/monitoring: what an operator adopts (ServiceMonitors, alerts, a Grafana dashboard) must hold
// against the Prometheus Operator's schemas, parse as PromQL (Prometheus's own grammar), name only
// metrics and labels the services really export (scraped from both, running), and each alert must
// say what it means, how long it waits, how bad it is and where its runbook is.
import { readFileSync } from "node:fs";
import t from "tap";
import { parser } from "@prometheus-io/lezer-promql";
import { PrometheusRule } from "@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/PrometheusRule";
import { ServiceMonitor } from "@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/ServiceMonitor";
import { ConfigMap } from "kubernetes-models/v1/ConfigMap";
import { parse } from "yaml";
import { newRedisPrefix } from "@temetro/test-support/auth-app";
import { PASSWORD, uniqueEmail } from "@temetro/test-support/auth-requests";
import { waitUntil } from "@temetro/test-support/polling";
import { SmtpSink } from "@temetro/test-support/smtp-sink";
import { byKind, named, render, renderDirectory, root } from "./fixtures/kustomize.js";
import { baseEnv, startAuth, startMailer } from "./fixtures/services.js";

const monitoring = renderDirectory("k8s/monitoring");
const rules = named(monitoring, "PrometheusRule", "temetro-auth");
const alerts: { alert: string; expr: string; for?: string; labels?: Record<string, string>; annotations?: Record<string, string> }[] =
  rules.spec.groups.flatMap((group: { rules: unknown[] }) => group.rules);
const dashboard = JSON.parse(named(monitoring, "ConfigMap", "temetro-auth-dashboard").data["grafana-dashboard.json"]);
const dashboardQueries: { title: string; expr: string }[] = dashboard.panels.flatMap((panel: any) =>
  (panel.targets ?? []).map((target: { expr: string }) => ({ title: panel.title, expr: target.expr })),
);

/** Grafana's own variables, as Grafana substitutes them before Prometheus sees the query. */
const asPrometheusSees = (expr: string) => expr.replaceAll("$__rate_interval", "5m");

const queries = [
  ...alerts.map((rule) => ({ where: `alert ${rule.alert}`, expr: rule.expr })),
  ...dashboardQueries.map((query) => ({ where: `dashboard panel "${query.title}"`, expr: asPrometheusSees(query.expr) })),
];

/** Metrics that come from the monitoring stack, not from the services, and why they are used. */
const fromTheStack: Record<string, string> = {
  up: "Prometheus's own: whether a scrape succeeded",
  kube_pod_status_ready: "kube-state-metrics (kube-prometheus-stack): readiness as the kubelet sees it",
};
/** Labels Prometheus adds from the scraped target (the ServiceMonitor's relabelling), not the services. */
const targetLabels = new Set(["pod", "namespace", "job", "instance", "container", "endpoint"]);

interface Selector {
  metric: string;
  matchers: { label: string; op: string; value: string }[];
}

/** The vector selectors, grouping labels and syntax errors of a query, by Prometheus's grammar. */
function analyse(expr: string): { selectors: Selector[]; grouping: string[]; errors: number[] } {
  const tree = parser.parse(expr);
  const selectors: Selector[] = [];
  const grouping: string[] = [];
  const errors: number[] = [];
  const text = (node: { from: number; to: number }) => expr.slice(node.from, node.to);
  tree.iterate({
    enter(node) {
      if (node.type.isError) errors.push(node.from);
      if (node.name === "GroupingLabels") {
        for (let label = node.node.firstChild; label; label = label.nextSibling) if (label.name === "LabelName") grouping.push(text(label));
      }
      if (node.name !== "VectorSelector") return;
      const identifier = node.node.getChild("Identifier");
      const matchers = node.node
        .getChild("LabelMatchers")
        ?.getChildren("UnquotedLabelMatcher")
        .map((matcher) => ({
          label: text(matcher.getChild("LabelName")!),
          op: text(matcher.getChild("MatchOp")!),
          value: JSON.parse(text(matcher.getChild("StringLiteral")!)) as string,
        }));
      selectors.push({ metric: identifier ? text(identifier) : "", matchers: matchers ?? [] });
    },
  });
  return { selectors, grouping, errors };
}

t.test("the monitoring objects validate against the Prometheus Operator's and Kubernetes' schemas", async (t) => {
  t.same(monitoring.map((object) => object.kind).sort(), ["ConfigMap", "PrometheusRule", "ServiceMonitor", "ServiceMonitor"]);
  for (const object of byKind(monitoring, "ServiceMonitor")) t.doesNotThrow(() => new ServiceMonitor(object as any).validate(), object.metadata.name);
  t.doesNotThrow(() => new PrometheusRule(rules as any).validate(), "PrometheusRule");
  const configMap = named(monitoring, "ConfigMap", "temetro-auth-dashboard");
  t.doesNotThrow(() => new ConfigMap(configMap as any).validate());
  t.equal(configMap.metadata.labels?.grafana_dashboard, "1", "Grafana's sidecar picks the dashboard up");
});

t.test("each ServiceMonitor finds its service's metrics port in the production overlay, with the metrics token", async (t) => {
  const production = render("production");
  const example = parse(readFileSync(`${root}/k8s/secret.example.yaml`, "utf8"));
  const expected = { "temetro-auth": "temetro-auth-internal", "temetro-mailer": "temetro-mailer" } as Record<string, string>;
  for (const monitor of byKind(monitoring, "ServiceMonitor")) {
    const services = byKind(production, "Service").filter((service) =>
      Object.entries(monitor.spec.selector.matchLabels as Record<string, string>).every(([key, value]) => service.metadata.labels?.[key] === value),
    );
    t.same(services.map((service) => service.metadata.name), [expected[monitor.metadata.name]], `${monitor.metadata.name} selects the Service of the metrics port only`);
    for (const endpoint of monitor.spec.endpoints) {
      const port = services[0]!.spec.ports.find((port: { name: string }) => port.name === endpoint.port);
      t.ok(port, `${monitor.metadata.name}: the Service has the port ${endpoint.port}`);
      const deployment = named(production, "Deployment", monitor.metadata.name);
      t.ok(deployment.spec.template.spec.containers[0].ports.some((container: { name: string }) => container.name === port.targetPort), "which the pods serve");
      t.equal(endpoint.path, "/metrics");
      t.equal(endpoint.honorLabels, true, "the series keep their own service label");
      t.same(endpoint.authorization.credentials, { name: "temetro-auth", key: "METRICS_TOKEN" });
      t.ok("METRICS_TOKEN" in example.stringData, "a key the Secret template lists");
      t.equal(monitor.metadata.namespace, deployment.metadata.namespace, "in the services' namespace, where the Secret is");
    }
  }
});

t.test("every alert says how long it waits, how bad it is, what it means and where its runbook is", async (t) => {
  const readme = readFileSync(`${root}/README.md`, "utf8");
  const runbooks = readme.slice(readme.indexOf("### Monitoring"));
  t.ok(alerts.length >= 10);
  for (const rule of alerts) {
    t.match(rule.for ?? "", /^\d+[smh]$/, `${rule.alert}: for`);
    t.ok(["warning", "critical"].includes(rule.labels?.severity ?? ""), `${rule.alert}: severity`);
    t.ok(rule.annotations?.summary && rule.annotations.description, `${rule.alert}: summary and description`);
    t.equal(rule.annotations?.runbook, `README.md, Monitoring, ${rule.alert}`, `${rule.alert}: runbook`);
    t.match(runbooks, new RegExp(`\\*\\*${rule.alert}\\*\\*`), `${rule.alert}: the README's Monitoring section has its runbook`);
  }
  const covered = alerts.map((rule) => rule.expr).join("\n");
  for (const [what, metric] of [
    ["5xx rate", "http_request_duration_seconds_count"],
    ["sign-in failures", 'outcome="wrong_password"'],
    ["lockouts", 'outcome="locked"'],
    ["emails failing", "mailer_emails_failed_total"],
    ["queue depth", "mailer_queue_jobs"],
    ["per-replica limits", "auth_limits_shared"],
    ["readiness flapping", "kube_pod_status_ready"],
  ]) {
    t.match(covered, metric, `an alert on ${what}`);
  }
});

t.test("every alert and dashboard query is PromQL that Prometheus's grammar parses", async (t) => {
  t.ok(dashboardQueries.length >= 12, "the dashboard has its panels");
  for (const { where, expr } of queries) t.same(analyse(expr).errors, [], `${where} parses`);
  t.not(analyse("sum(rate(http_request_duration_seconds_count[5m])").errors.length, 0, "and the check sees a missing parenthesis");
});

/** Series of a Prometheus text exposition: sample name -> the label sets seen. */
function exposition(text: string): Map<string, Record<string, string>[]> {
  const series = new Map<string, Record<string, string>[]>();
  for (const line of text.split("\n")) {
    const sample = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? \S+$/.exec(line);
    if (!sample) continue;
    const labels = Object.fromEntries([...(sample[2] ?? "").matchAll(/([a-zA-Z_]\w*)="((?:[^"\\]|\\.)*)"/g)].map((match) => [match[1]!, match[2]!]));
    series.set(sample[1]!, [...(series.get(sample[1]!) ?? []), labels]);
  }
  return series;
}

t.test("every metric, label and label value the alerts and the dashboard use is one the running services export", async (t) => {
  const smtp = await SmtpSink.start();
  t.teardown(() => smtp.stop());
  // Low thresholds, so a locked account's refusal and a rate-limited sign-in are counted too.
  const env = { ...baseEnv(newRedisPrefix()), SMTP_URL: smtp.url, LOCKOUT_THRESHOLD: "2", RATE_LIMIT_SIGN_IN: "4" };
  const [auth, mailer] = await Promise.all([startAuth(t, env), startMailer(t, env)]);

  // What a few minutes of real use leaves behind: a sign-up and its email, good and bad passwords, a lockout.
  const post = (path: string, body: unknown) =>
    fetch(`${auth.publicUrl}${path}`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
  const email = uniqueEmail("monitoring");
  t.equal((await post("/api/auth/sign-up/email", { name: "Dr. Metrics", email, password: PASSWORD })).status, 200);
  t.equal((await post("/api/auth/sign-in/email", { email, password: PASSWORD })).status, 200);
  const refusals = [];
  for (let attempt = 0; attempt < 4; attempt++) refusals.push((await post("/api/auth/sign-in/email", { email, password: "not-the-password-at-all" })).status);
  t.equal(refusals.at(-1), 429, "the fifth sign-in from this address is rate limited");
  await waitUntil(() => smtp.received.some((received) => received.to === email), "the sign-up's email");

  const scrape = async (url: string) => {
    const response = await fetch(`${url}/metrics`);
    t.equal(response.status, 200);
    return exposition(await response.text());
  };
  const exported = new Map<string, Record<string, string>[]>();
  for (const series of [await scrape(auth.internalUrl), await scrape(mailer.url)]) {
    for (const [name, samples] of series) exported.set(name, [...(exported.get(name) ?? []), ...samples]);
  }
  for (const outcome of ["success", "wrong_password", "locked", "limited"]) {
    t.ok(exported.get("auth_sign_ins_total")?.some((labels) => labels.outcome === outcome), `a sign-in counted as ${outcome}`);
  }

  for (const { where, expr } of queries) {
    const { selectors, grouping } = analyse(expr);
    const labelsOfQuery = new Set<string>();
    for (const { metric, matchers } of selectors) {
      if (metric in fromTheStack) continue;
      const samples = exported.get(metric);
      if (!samples) {
        t.fail(`${where}: ${metric} is not exported by either service`);
        continue;
      }
      for (const labels of samples) for (const label of Object.keys(labels)) labelsOfQuery.add(label);
      for (const { label, op, value } of matchers) {
        if (targetLabels.has(label)) continue;
        t.ok(samples.some((labels) => label in labels), `${where}: ${metric} has the label ${label}`);
        // Exact values only: a pattern (status=~"5..") may rightly match nothing in a healthy run.
        if (op === "=") t.ok(samples.some((labels) => labels[label] === value), `${where}: ${metric}{${label}="${value}"} exists`);
      }
    }
    for (const label of grouping) {
      t.ok(targetLabels.has(label) || labelsOfQuery.has(label), `${where}: grouped by ${label}, a label of its metrics or of the target`);
    }
  }
});
