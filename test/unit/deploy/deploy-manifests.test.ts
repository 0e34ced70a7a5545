// deploy/: every file parses, and the shapes an HA deployment relies on are there.
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { z } from 'zod';
import { PACKAGE_ROOT } from '../../helpers/run-cli.js';

const DEPLOY = path.join(PACKAGE_ROOT, 'deploy');

type Doc = Record<string, unknown>;

// The shapes the tests below read, checked as they are read: a missing field fails with its path.
const Labels = z.record(z.string(), z.string());
const Container = z.object({
  command: z.array(z.string()).optional(),
  envFrom: z.unknown().optional(),
  env: z.unknown().optional(),
  readinessProbe: z.object({ httpGet: z.unknown() }).optional(),
  livenessProbe: z.object({ httpGet: z.unknown() }).optional(),
});
const Workload = z.object({
  spec: z.object({
    replicas: z.number().optional(),
    template: z.object({ metadata: z.object({ labels: Labels }).optional(), spec: z.object({ containers: z.array(Container).min(1) }) }),
  }),
});
const ServiceDoc = z.object({ spec: z.object({ selector: Labels }) });
const Named = z.object({ metadata: z.object({ name: z.string() }) });
const Compose = z.object({
  services: z.record(
    z.string(),
    z.object({ healthcheck: z.object({ test: z.array(z.string()) }).optional(), env_file: z.unknown().optional(), depends_on: z.unknown().optional() }),
  ),
});

function documents(file: string): Doc[] {
  const docs = parseAllDocuments(readFileSync(file, 'utf8'), { merge: true });
  const list = Array.isArray(docs) ? docs : [docs];
  for (const d of list) if (d.errors.length > 0) throw new Error(`${file}: ${d.errors.map((e) => e.message).join('; ')}`);
  return list.map((d) => d.toJS({ maxAliasCount: 100 }) as Doc);
}

const yamlFiles = (dir: string): string[] =>
  readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? yamlFiles(path.join(dir, e.name)) : /\.ya?ml$/.test(e.name) ? [path.join(dir, e.name)] : [],
  );

const kubernetes = (): Doc[] => yamlFiles(path.join(DEPLOY, 'kubernetes')).flatMap(documents);
const ofKind = (kind: string): Doc[] => kubernetes().filter((d) => d.kind === kind);

describe('deploy/', () => {
  it('holds only YAML that parses, every Kubernetes document naming its apiVersion and kind', () => {
    const files = yamlFiles(DEPLOY);
    expect(files.map((f) => path.relative(DEPLOY, f)).sort()).toEqual([
      'compose.yaml',
      'kubernetes/deployment.yaml',
      'kubernetes/migrate-job.yaml',
      'kubernetes/secret.example.yaml',
      'kubernetes/service.yaml',
    ]);
    for (const file of files) expect(documents(file).length).toBeGreaterThan(0);
    for (const d of kubernetes()) expect(d).toMatchObject({ apiVersion: expect.any(String), kind: expect.any(String) });
  });

  it('runs two replicas with readiness and liveness on /healthz and secrets from the Secret', () => {
    const deployment = Workload.parse(ofKind('Deployment')[0]);
    expect(deployment.spec.replicas).toBe(2);
    const container = deployment.spec.template.spec.containers[0]!;
    expect(container.readinessProbe?.httpGet).toEqual({ path: '/healthz', port: 'http' });
    expect(container.livenessProbe?.httpGet).toEqual({ path: '/healthz', port: 'http' });
    expect(container.envFrom).toEqual([{ secretRef: { name: 'edgeops' } }]);
    // No credential is written into the Deployment itself.
    expect(JSON.stringify(container.env)).not.toMatch(/TOKEN|SECRET|KEY|DATABASE_URL/);
  });

  it('has a migration Job and a Service selecting the replicas', () => {
    const job = Workload.parse(ofKind('Job')[0]);
    expect(job.spec.template.spec.containers[0]!.command).toEqual(['node', 'dist/src/cli.js', 'migrate']);
    expect(job.spec.template.spec.containers[0]!.envFrom).toEqual([{ secretRef: { name: 'edgeops' } }]);
    const service = ServiceDoc.parse(ofKind('Service')[0]);
    const deployment = Workload.parse(ofKind('Deployment')[0]);
    expect(deployment.spec.template.metadata?.labels).toMatchObject(service.spec.selector);
    expect(Named.parse(ofKind('Secret')[0]).metadata.name).toBe('edgeops');
  });

  it('composes PostgreSQL, a migration step and two edgeops replicas with health checks on /healthz and secrets from env files', () => {
    const [compose] = documents(path.join(DEPLOY, 'compose.yaml'));
    const { services } = Compose.parse(compose);
    expect(Object.keys(services).sort()).toEqual(['edgeops-1', 'edgeops-2', 'migrate', 'postgres']);
    expect(services.postgres!.healthcheck?.test.join(' ')).toContain('pg_isready');
    for (const name of ['edgeops-1', 'edgeops-2']) {
      const s = services[name]!;
      expect(s.healthcheck?.test.join(' ')).toContain('/healthz');
      expect(s.env_file).toEqual(['edgeops.env']);
      expect(s.depends_on).toEqual({ postgres: { condition: 'service_healthy' }, migrate: { condition: 'service_completed_successfully' } });
    }
    expect(JSON.stringify(compose)).not.toMatch(/POSTGRES_PASSWORD:|EDGEOPS_AUDIT_KEY:/);
  });
});
