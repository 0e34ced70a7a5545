// Bench case: note acks and PagerDuty ingest on PostgreSQL with one and with two `edgeops serve` replicas, beside SQLite and bare baselines in the same run.
import { Agent } from 'node:http';
import pg from 'pg';
import { startCluster } from '../test/helpers/postgres-cluster.js';
import { NOTE, fakeSlackApi, fire, startBare, startOurs, stats, type Child } from './ack-latency.js';
import type { BenchCase, Figure } from './bench-case.js';
import { WEBHOOK_SECRET, bareRoute, blast } from './webhook-ingest.js';

const NOTES = 1_000;
const WARMUP = 100;
const CONCURRENCY = 20;
const EVENTS = 1_000;

const webhookUrl = (child: Child): string => child.url.replace(/\/slack\/events$/, '/webhooks/pagerduty');

/** Events per second of two load generators sending at once, one to each URL: all events over the longer of the two. */
async function blastBoth(urls: [string, string], count: number, prefix: string): Promise<number> {
  const half = Math.floor(count / 2);
  const rates = await Promise.all(urls.map((url, i) => blast(url, half, `${prefix}${i}-`)));
  const seconds = Math.max(...rates.map((rate) => half / rate));
  return (2 * half) / seconds;
}

export const postgresReplicas: BenchCase = {
  name: 'postgres-replicas',
  summary: `\`edgeops serve\` on PostgreSQL 15 (a cluster started for the run with its default durability: fsync and synchronous commit on), with one replica and with two on the same database: ${NOTES.toLocaleString('en')} signed \`/incident note\` commands at ${CONCURRENCY} concurrent (to the one replica, or alternating between the two), beside the same on SQLite and a bare Bolt app in the same run; and ${EVENTS.toLocaleString('en')} signed PagerDuty webhooks at 20 concurrent per load generator into one replica, into two at once, and into SQLite, beside a bare HMAC route`,
  async run(ctx) {
    const cluster = await startCluster({ durable: true });
    const children: Child[] = [];
    const api = await fakeSlackApi();
    const bareHook = await bareRoute();
    try {
      const admin = new pg.Client({ connectionString: cluster.adminUrl });
      await admin.connect();
      await admin.query('CREATE DATABASE edgeops_bench');
      await admin.end();
      const url = new URL(cluster.adminUrl);
      url.pathname = '/edgeops_bench';
      const common = { PAGERDUTY_WEBHOOK_SECRETS: WEBHOOK_SECRET };
      const pgEnv = { ...common, EDGEOPS_DATABASE_URL: url.toString() };
      // The first replica migrates the database; the second finds it migrated.
      const a = await startOurs(ctx, api.url, { name: 'pg-a', env: pgEnv });
      children.push(a);
      const b = await startOurs(ctx, api.url, { name: 'pg-b', env: pgEnv });
      children.push(b);
      const lite = await startOurs(ctx, api.url, { name: 'sqlite', env: common });
      children.push(lite);
      const bare = await startBare(ctx, api.url);
      children.push(bare);

      const declare = new Agent({ keepAlive: false });
      await fire(declare, a.url, 1, 0, '/incident', () => 'declare "Bench incident" sev=3');
      await fire(declare, lite.url, 1, 0, '/incident', () => 'declare "Bench incident" sev=3');
      const keptAlive = (): Agent => new Agent({ keepAlive: true, maxSockets: CONCURRENCY });
      const series = [
        { name: 'PostgreSQL, one replica', url: a.url as string | ((i: number) => string), agent: keptAlive(), samples: [] as number[] },
        { name: 'PostgreSQL, two replicas', url: (i: number) => (i % 2 === 0 ? a.url : b.url), agent: keptAlive(), samples: [] as number[] },
        { name: 'SQLite', url: lite.url, agent: keptAlive(), samples: [] as number[] },
        { name: 'bare Bolt', url: bare.url, agent: keptAlive(), samples: [] as number[] },
      ];
      for (const s of series) await fire(s.agent, s.url, WARMUP, 1, '/incident', NOTE);
      for (let round = 0; round < 2; round += 1) {
        for (const s of series) s.samples.push(...(await fire(s.agent, s.url, NOTES / 2, WARMUP + 1 + round * (NOTES / 2), '/incident', NOTE)));
      }
      for (const s of series) s.agent.destroy();
      const acks = series.map((s) => ({ name: s.name, ...stats(s.samples) }));
      const bolt = acks[3]!;
      for (const r of acks) ctx.log(`${r.name.padEnd(26)} ack p50 ${r.p50.toFixed(1)} ms, p99 ${r.p99.toFixed(1)} ms`);

      // Ingest: warm each, then one round each, in turn.
      await blast(bareHook.url, 100, 'PWB');
      await blast(webhookUrl(a), 100, 'PWA');
      await blast(webhookUrl(lite), 100, 'PWL');
      ctx.log('ingest: warmed up');
      const bareRate = await blast(bareHook.url, EVENTS, 'PBARE');
      const oneRate = await blast(webhookUrl(a), EVENTS, 'PONE');
      ctx.log(`ingest: PostgreSQL, one replica ${oneRate.toFixed(0)} events/s`);
      const twoRate = await blastBoth([webhookUrl(a), webhookUrl(b)], EVENTS, 'PTWO');
      const liteRate = await blast(webhookUrl(lite), EVENTS, 'PLITE');
      ctx.log(
        `ingest events/s: bare ${bareRate.toFixed(0)}, SQLite ${liteRate.toFixed(0)}, PostgreSQL one ${oneRate.toFixed(0)}, two ${twoRate.toFixed(0)}`,
      );

      const figures: Figure[] = acks.flatMap((r) => [
        { name: `note ack p50, ${r.name}`, value: r.p50, unit: 'ms' as const },
        {
          name: `note ack p99, ${r.name}`,
          value: r.p99,
          unit: 'ms' as const,
          ...(r === bolt ? {} : { note: `${(r.p99 / bolt.p99).toFixed(2)}× bare Bolt's p99` }),
        },
      ]);
      const share = (rate: number): string => `${((rate / bareRate) * 100).toFixed(0)}% of the bare HMAC route`;
      figures.push(
        { name: 'PagerDuty ingest, bare HMAC route', value: bareRate, unit: 'rows/s', note: 'signed events/s' },
        { name: 'PagerDuty ingest, SQLite', value: liteRate, unit: 'rows/s', note: `signed events/s, ${share(liteRate)}` },
        { name: 'PagerDuty ingest, PostgreSQL, one replica', value: oneRate, unit: 'rows/s', note: `signed events/s, ${share(oneRate)}` },
        { name: 'PagerDuty ingest, PostgreSQL, two replicas', value: twoRate, unit: 'rows/s', note: `signed events/s, ${share(twoRate)}` },
      );
      return figures;
    } finally {
      for (const child of children.reverse()) await child.stop();
      await new Promise<void>((resolve) => api.server.close(() => resolve()));
      await new Promise<void>((resolve) => bareHook.server.close(() => resolve()));
      await cluster.stop();
    }
  },
};
