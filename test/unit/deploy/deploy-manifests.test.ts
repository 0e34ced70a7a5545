// deploy/: every file parses, and the shapes an HA deployment relies on are there.
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { PACKAGE_ROOT } from '../../helpers/run-cli.js';

const DEPLOY = path.join(PACKAGE_ROOT, 'deploy');

type Doc = Record<string, any>;

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
    expect(files.map((f) => path.relative(DEPLOY, f)).sort()).toEqual(
      ['compose.yaml', 'kubernetes/deployment.yaml', 'kubernetes/migrate-job.yaml', 'kubernetes/secret.example.yaml', 'kubernetes/service.yaml'],
    );
    for (const file of files) expect(documents(file).length).toBeGreaterThan(0);
    for (const d of kubernetes()) expect(d).toMatchObject({ apiVersion: expect.any(String), kind: expect.any(String) });
  });

  it('runs two replicas with readiness and liveness on /healthz and secrets from the Secret', () => {
    const [deployment] = ofKind('Deployment');
    expect(deployment!.spec.replicas).toBe(2);
    const [container] = deployment!.spec.template.spec.containers;
    expect(container.readinessProbe.httpGet).toEqual({ path: '/healthz', port: 'http' });
    expect(container.livenessProbe.httpGet).toEqual({ path: '/healthz', port: 'http' });
    expect(container.envFrom).toEqual([{ secretRef: { name: 'edgeops' } }]);
    // No credential is written into the Deployment itself.
    expect(JSON.stringify(container.env)).not.toMatch(/TOKEN|SECRET|KEY|DATABASE_URL/);
  });

  it('has a migration Job and a Service selecting the replicas', () => {
    const [job] = ofKind('Job');
    expect(job!.spec.template.spec.containers[0].command).toEqual(['node', 'dist/src/cli.js', 'migrate']);
    expect(job!.spec.template.spec.containers[0].envFrom).toEqual([{ secretRef: { name: 'edgeops' } }]);
    const [service] = ofKind('Service');
    const [deployment] = ofKind('Deployment');
    expect(deployment!.spec.template.metadata.labels).toMatchObject(service!.spec.selector);
    expect(ofKind('Secret')[0]!.metadata.name).toBe('edgeops');
  });

  it('composes PostgreSQL, a migration step and two edgeops replicas with health checks on /healthz and secrets from env files', () => {
    const [compose] = documents(path.join(DEPLOY, 'compose.yaml'));
    const services = compose!.services as Record<string, Doc>;
    expect(Object.keys(services).sort()).toEqual(['edgeops-1', 'edgeops-2', 'migrate', 'postgres']);
    expect(services.postgres!.healthcheck.test.join(' ')).toContain('pg_isready');
    for (const name of ['edgeops-1', 'edgeops-2']) {
      const s = services[name]!;
      expect(s.healthcheck.test.join(' ')).toContain('/healthz');
      expect(s.env_file).toEqual(['edgeops.env']);
      expect(s.depends_on).toEqual({ postgres: { condition: 'service_healthy' }, migrate: { condition: 'service_completed_successfully' } });
    }
    expect(JSON.stringify(compose)).not.toMatch(/POSTGRES_PASSWORD:|EDGEOPS_AUDIT_KEY:/);
  });
});
