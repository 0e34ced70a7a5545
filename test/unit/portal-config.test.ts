// Sign in with Slack's configuration: both halves or neither, and its secret masked like the bot's other credentials.
import { describe, expect, it } from 'vitest';
import { botCredentials, loadConfig } from '../../src/config.js';
import { ConfigError } from '../../src/errors.js';

describe('Sign in with Slack configuration', () => {
  it('is on with SLACK_CLIENT_ID and SLACK_CLIENT_SECRET, and the secret is among the values masked everywhere', () => {
    const config = loadConfig({ SLACK_CLIENT_ID: '111.222', SLACK_CLIENT_SECRET: 'client-secret-0123456789abcdef' }, { cwd: '/tmp' });
    expect(config.slackSignIn).toEqual({
      clientId: '111.222',
      clientSecret: 'client-secret-0123456789abcdef',
      apiUrl: 'https://slack.com/api/',
      teamId: undefined,
    });
    expect(botCredentials(config)).toContain('client-secret-0123456789abcdef');
  });

  it('refuses one without the other, saying to set both', () => {
    expect(() => loadConfig({ SLACK_CLIENT_ID: '111.222' }, { cwd: '/tmp' })).toThrow(ConfigError);
    expect(() => loadConfig({ SLACK_CLIENT_SECRET: 'x' }, { cwd: '/tmp' })).toThrow(/SLACK_CLIENT_ID and SLACK_CLIENT_SECRET: set both/);
    expect(loadConfig({}, { cwd: '/tmp' }).slackSignIn).toBeUndefined();
  });
});
