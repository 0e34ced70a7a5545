// slack/manifest.yaml matches what the server serves: its commands, one endpoint, the event, the scopes used.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { SLASH_COMMANDS } from '../../../src/adapters/slack/listeners/command-listener.js';

interface Manifest {
  features: { slash_commands: Array<{ command: string; url: string; should_escape: boolean }> };
  oauth_config: { scopes: { bot: string[] } };
  settings: {
    event_subscriptions: { request_url: string; bot_events: string[] };
    interactivity: { is_enabled: boolean; request_url: string };
    socket_mode_enabled: boolean;
  };
}

const manifest = parse(readFileSync(new URL('../../../slack/manifest.yaml', import.meta.url), 'utf8')) as Manifest;
const ENDPOINT = 'https://YOUR-HOST/slack/events';

/** Every Web API method edgeops calls with the bot token, and the scope Slack requires for it. */
const SCOPE_OF: Record<string, string[]> = {
  'conversations.create': ['channels:manage', 'groups:write'],
  'conversations.invite': ['channels:manage', 'groups:write'],
  'conversations.setTopic': ['channels:manage', 'groups:write'],
  'conversations.join': ['channels:join'],
  'conversations.history': ['channels:history', 'groups:history'],
  'conversations.replies': ['channels:history', 'groups:history'],
  'chat.postMessage': ['chat:write'],
  'chat.postEphemeral': ['chat:write'],
  'pins.add': ['pins:write'],
  'files.getUploadURLExternal': ['files:write'],
  'files.completeUploadExternal': ['files:write'],
  'usergroups.users.list': ['usergroups:read'],
};

describe('slack/manifest.yaml', () => {
  it('declares the three commands on the one endpoint, with mentions escaped to user IDs', () => {
    expect(manifest.features.slash_commands.map((c) => c.command)).toEqual([...SLASH_COMMANDS]);
    for (const c of manifest.features.slash_commands) {
      expect(c.url).toBe(ENDPOINT);
      expect(c.should_escape).toBe(true);
    }
  });

  it('sends events and button clicks to the same endpoint, over HTTP', () => {
    expect(manifest.settings.event_subscriptions).toEqual({ request_url: ENDPOINT, bot_events: ['reaction_added'] });
    expect(manifest.settings.interactivity).toEqual({ is_enabled: true, request_url: ENDPOINT });
    expect(manifest.settings.socket_mode_enabled).toBe(false);
  });

  it('asks for every scope the calls need, and no other', () => {
    const needed = new Set(['commands', 'reactions:read', ...Object.values(SCOPE_OF).flat()]);
    expect([...manifest.oauth_config.scopes.bot].sort()).toEqual([...needed].sort());
  });
});
