// Signed slash commands to one replica, and reads of the database the replicas share, for the process-level replica tests.
import pg from 'pg';
import { expect } from 'vitest';
import { FORM, commandBody, post, signedHeaders } from '../../fixtures/slack/slack-harness.js';
import { SRE } from '../pagerduty/pd-harness.js';
import type { RecordingSlackApi, Replica } from './replica-processes.js';

/** One query on its own connection (the replicas hold theirs); the rows. */
export async function queryDatabase<R extends pg.QueryResultRow>(url: string, sql: string, params: unknown[] = []): Promise<R[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query<R>(sql, params)).rows;
  } finally {
    await client.end();
  }
}

let sent = 0;

/**
 * A signed slash command (`/incident`, `/runbook`) sent by the SRE to one replica; the text of its
 * answer, whether given at once or, past Slack's ack budget, posted to the command's response URL.
 */
export async function slashCommand(
  api: RecordingSlackApi,
  replica: Replica,
  command: '/incident' | '/runbook',
  text: string,
  channel = 'C0GENERAL1',
): Promise<string> {
  sent += 1;
  const key = `${process.pid}-${sent}`;
  const body = new URLSearchParams({
    ...Object.fromEntries(new URLSearchParams(commandBody(SRE, channel, command, text))),
    response_url: api.responseUrl(key),
  }).toString();
  const res = await post(`${replica.url}/slack/events`, body, { 'content-type': FORM, ...signedHeaders(body) });
  expect(res.status).toBe(200);
  if (res.body !== '') return res.body;
  await expect.poll(() => api.response(key), { timeout: 30_000 }).toBeDefined();
  return api.response(key)!;
}
