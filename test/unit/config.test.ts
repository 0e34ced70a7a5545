// Configuration: defaults, and every problem reported at once with the variable's name.
import { describe, expect, it } from 'vitest';
import { botCredentials, loadConfig } from '../../src/config.js';
import { ConfigError } from '../../src/errors.js';

function problems(env: Record<string, string>): string[] {
  try {
    loadConfig(env, { cwd: '/srv' });
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as ConfigError).problems;
  }
  throw new Error('expected the configuration to be refused');
}

describe('loadConfig', () => {
  it('applies the documented defaults in local mode', () => {
    const c = loadConfig({}, { cwd: '/srv' });
    expect(c).toMatchObject({
      port: 3000,
      host: '127.0.0.1',
      dbPath: '/srv/data/edgeops.db',
      dataDir: '/srv/data',
      policiesDir: '/srv/policies',
      commandsDir: '/srv/commands',
      publicUrl: 'http://127.0.0.1:3000',
      slack: undefined,
      logLevel: 'info',
    });
    expect(c.pagerduty).toEqual({ webhookSecrets: [], apiToken: undefined, apiUrl: 'https://api.pagerduty.com', from: undefined });
  });

  it('reads EDGEOPS_STEP_USER as a user name or uid:gid, and refuses root or anything else', () => {
    expect(loadConfig({}).stepUser).toBeUndefined();
    expect(loadConfig({ EDGEOPS_STEP_USER: ' edgeops-step ' }).stepUser).toEqual({ name: 'edgeops-step' });
    expect(loadConfig({ EDGEOPS_STEP_USER: '65534:65534' }).stepUser).toEqual({ uid: 65534, gid: 65534 });
    expect(problems({ EDGEOPS_STEP_USER: '0:0' })[0]).toMatch(/^EDGEOPS_STEP_USER: must not be root/);
    expect(problems({ EDGEOPS_STEP_USER: '1000:0' })[0]).toMatch(/^EDGEOPS_STEP_USER: must not be root/);
    expect(problems({ EDGEOPS_STEP_USER: 'ops user' })).toEqual([
      'EDGEOPS_STEP_USER: must be a user name (e.g. edgeops-step) or uid:gid (e.g. 65534:65534) (got "ops user")',
    ]);
  });

  it('splits rotating PagerDuty secrets and trims the API base', () => {
    const c = loadConfig({ PAGERDUTY_WEBHOOK_SECRETS: ' old , new ,', PAGERDUTY_API_URL: 'https://api.eu.pagerduty.com/' });
    expect(c.pagerduty.webhookSecrets).toEqual(['old', 'new']);
    expect(c.pagerduty.apiUrl).toBe('https://api.eu.pagerduty.com');
  });

  it('lists every problem at once, naming each variable', () => {
    const found = problems({ PORT: 'eighty', LOG_LEVEL: 'loud', PAGERDUTY_FROM: 'ops', SLACK_API_URL: 'slack', EDGEOPS_AUDIT_KEY: 'short' });
    expect(found).toHaveLength(5);
    expect(found.join('\n')).toMatch(/^PORT: must be a port number 0-65535 \(got "eighty"\)$/m);
    expect(found.join('\n')).toMatch(/^LOG_LEVEL: must be one of/m);
    expect(found.join('\n')).toMatch(/^PAGERDUTY_FROM: must be an e-mail address/m);
    expect(found.join('\n')).toMatch(/^SLACK_API_URL: must be an http\(s\) URL/m);
    expect(found.join('\n')).toMatch(/^EDGEOPS_AUDIT_KEY: must be at least 32 characters \(e.g. `openssl rand -hex 32`\)$/m);
  });

  it('fails closed when Slack is configured without a signing secret or audit key', () => {
    const found = problems({ SLACK_BOT_TOKEN: 'xoxb-1-2', SLACK_SIGNING_SECRET: '' });
    expect(found).toEqual([
      'SLACK_SIGNING_SECRET: required when Slack is configured; requests cannot be verified without it',
      'EDGEOPS_AUDIT_KEY: required when serving Slack (at least 32 characters, e.g. `openssl rand -hex 32`)',
    ]);
  });

  it('checks token shapes', () => {
    const found = problems({ SLACK_BOT_TOKEN: 'xoxp-user', SLACK_APP_TOKEN: 'nope', SLACK_SIGNING_SECRET: 's', EDGEOPS_AUDIT_KEY: 'k'.repeat(32) });
    expect(found).toEqual(['SLACK_BOT_TOKEN: must start with xoxb-', 'SLACK_APP_TOKEN: must start with xapp- (or be unset for HTTP mode)']);
  });

  it('never echoes secret values in its messages', () => {
    const found = problems({ EDGEOPS_AUDIT_KEY: 'hunter2-secret' });
    expect(found.join('\n')).not.toContain('hunter2');
  });

  it('accepts a complete Slack configuration', () => {
    const c = loadConfig({ SLACK_BOT_TOKEN: 'xoxb-1', SLACK_SIGNING_SECRET: 'abc', EDGEOPS_AUDIT_KEY: 'k'.repeat(32), SLACK_TEAM_ID: 'T0123' });
    expect(c.slack).toEqual({ signingSecret: 'abc', botToken: 'xoxb-1', appToken: undefined, apiUrl: 'https://slack.com/api/', teamId: 'T0123' });
  });

  it('takes the audit anchor channel as a Slack channel ID, and refuses a #name saying what to give', () => {
    expect(loadConfig({ EDGEOPS_AUDIT_ANCHOR_CHANNEL: ' C0AUDIT01 ' }).auditAnchorChannel).toBe('C0AUDIT01');
    expect(loadConfig({}).auditAnchorChannel).toBeUndefined();
    expect(problems({ EDGEOPS_AUDIT_ANCHOR_CHANNEL: '#audit' })).toEqual([
      'EDGEOPS_AUDIT_ANCHOR_CHANNEL: must be a Slack channel ID such as C0123ABCD (the channel\'s ID from its details, not its #name) (got "#audit")',
    ]);
  });
});

describe('EDGEOPS_DATABASE_URL', () => {
  it('is unset by default: SQLite at EDGEOPS_DB stays the database', () => {
    expect(loadConfig({}, { cwd: '/srv' })).toMatchObject({ dbPath: '/srv/data/edgeops.db', postgres: undefined });
    expect(loadConfig({ EDGEOPS_DATABASE_URL: '  ' }).postgres).toBeUndefined();
  });

  it('selects PostgreSQL, keeping the URL for the driver and a masked one for output', () => {
    const c = loadConfig({ EDGEOPS_DATABASE_URL: 'postgres://edgeops:s3cr%40t-pw@db.internal:5432/edgeops?sslmode=require' });
    expect(c.postgres).toEqual({
      url: 'postgres://edgeops:s3cr%40t-pw@db.internal:5432/edgeops?sslmode=require',
      display: 'postgres://edgeops:***@db.internal:5432/edgeops?sslmode=require',
      password: 's3cr@t-pw',
    });
    expect(botCredentials(c)).toContain('s3cr@t-pw');
  });

  it('refuses a URL that is not PostgreSQL, names no database or no user, saying the form and masking the password', () => {
    expect(problems({ EDGEOPS_DATABASE_URL: 'mysql://u:hunter22@db/edgeops' })).toEqual([
      'EDGEOPS_DATABASE_URL: must start with postgres:// or postgresql:// (got "mysql://u:***@db/edgeops"); the form is postgres://USER:PASSWORD@HOST:PORT/DATABASE',
    ]);
    expect(problems({ EDGEOPS_DATABASE_URL: 'postgres://u:hunter22@db:5432/' })).toEqual([
      'EDGEOPS_DATABASE_URL: must name one database after the host, as in …@db.internal:5432/edgeops (got "postgres://u:***@db:5432/"); the form is postgres://USER:PASSWORD@HOST:PORT/DATABASE',
    ]);
    expect(problems({ EDGEOPS_DATABASE_URL: 'postgres://db:5432/edgeops' })[0]).toMatch(
      /^EDGEOPS_DATABASE_URL: names no user \(got "postgres:\/\/db:5432\/edgeops"\)/,
    );
    const broken = problems({ EDGEOPS_DATABASE_URL: 'postgres://u:hunter22@db:port/edgeops' });
    expect(broken[0]).toMatch(
      /^EDGEOPS_DATABASE_URL: is not a valid URL \(a password with @, :, \/ or # must be percent-encoded\) \(got "postgres:\/\/u:\*\*\*@db:port\/edgeops"\)/,
    );
    for (const p of [...broken, ...problems({ EDGEOPS_DATABASE_URL: 'mysql://u:hunter22@db/edgeops' })]) expect(p).not.toContain('hunter22');
  });
});

describe('EDGEOPS_REPLICA_HEARTBEAT_SECONDS and EDGEOPS_REPLICA_TIMEOUT_SECONDS', () => {
  const TIMEOUT_RULE =
    'EDGEOPS_REPLICA_TIMEOUT_SECONDS: must be an integer number of seconds ≥ 3 (at most 86400) and more than twice EDGEOPS_REPLICA_HEARTBEAT_SECONDS';

  it('default to a beat every 5 s and a replica taken for dead after 30 s silent', () => {
    expect(loadConfig({}).replicas).toEqual({ heartbeatMs: 5_000, timeoutMs: 30_000 });
    expect(loadConfig({ EDGEOPS_REPLICA_HEARTBEAT_SECONDS: ' ', EDGEOPS_REPLICA_TIMEOUT_SECONDS: '' }).replicas).toEqual({
      heartbeatMs: 5_000,
      timeoutMs: 30_000,
    });
  });

  it('take whole seconds, in milliseconds for the heartbeat', () => {
    expect(loadConfig({ EDGEOPS_REPLICA_HEARTBEAT_SECONDS: '1', EDGEOPS_REPLICA_TIMEOUT_SECONDS: '3' }).replicas).toEqual({
      heartbeatMs: 1_000,
      timeoutMs: 3_000,
    });
    expect(loadConfig({ EDGEOPS_REPLICA_HEARTBEAT_SECONDS: ' 10 ', EDGEOPS_REPLICA_TIMEOUT_SECONDS: '120' }).replicas).toEqual({
      heartbeatMs: 10_000,
      timeoutMs: 120_000,
    });
  });

  it('refuse a heartbeat that is not a whole number of seconds from 1 to 3600, saying so', () => {
    for (const bad of ['0', '1.5', '-1', '5s', '3601']) {
      expect(problems({ EDGEOPS_REPLICA_HEARTBEAT_SECONDS: bad })).toEqual([
        `EDGEOPS_REPLICA_HEARTBEAT_SECONDS: must be an integer number of seconds from 1 to 3600 (got "${bad}")`,
      ]);
    }
  });

  it('refuse a timeout under 3 s, not whole, or not more than twice the heartbeat, saying what it must be', () => {
    for (const bad of ['2', '2.5', 'thirty', '30s', '86401']) {
      expect(problems({ EDGEOPS_REPLICA_TIMEOUT_SECONDS: bad })).toEqual([`${TIMEOUT_RULE} (got "${bad}")`]);
    }
    expect(problems({ EDGEOPS_REPLICA_TIMEOUT_SECONDS: '10' })).toEqual([`${TIMEOUT_RULE} (got 10 with a heartbeat of 5)`]);
    expect(problems({ EDGEOPS_REPLICA_HEARTBEAT_SECONDS: '2', EDGEOPS_REPLICA_TIMEOUT_SECONDS: '4' })).toEqual([
      `${TIMEOUT_RULE} (got 4 with a heartbeat of 2)`,
    ]);
    expect(loadConfig({ EDGEOPS_REPLICA_HEARTBEAT_SECONDS: '2', EDGEOPS_REPLICA_TIMEOUT_SECONDS: '5' }).replicas.timeoutMs).toBe(5_000);
  });
});

describe('EDGEOPS_SLACK_CHANNEL_PACE_MS', () => {
  it("defaults to Slack's one post per second per channel, and takes 0 (no pace of ours) up to 60000", () => {
    expect(loadConfig({}).slackChannelPaceMs).toBe(1000);
    expect(loadConfig({ EDGEOPS_SLACK_CHANNEL_PACE_MS: ' ' }).slackChannelPaceMs).toBe(1000);
    expect(loadConfig({ EDGEOPS_SLACK_CHANNEL_PACE_MS: '0' }).slackChannelPaceMs).toBe(0);
    expect(loadConfig({ EDGEOPS_SLACK_CHANNEL_PACE_MS: '60000' }).slackChannelPaceMs).toBe(60_000);
  });

  it('refuses anything but whole milliseconds from 0 to 60000, saying so', () => {
    for (const bad of ['-1', '1.5', '1s', '60001']) {
      expect(problems({ EDGEOPS_SLACK_CHANNEL_PACE_MS: bad })).toEqual([
        `EDGEOPS_SLACK_CHANNEL_PACE_MS: must be an integer number of milliseconds from 0 to 60000 (got "${bad}")`,
      ]);
    }
  });
});
