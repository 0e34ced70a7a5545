// Local-mode delivery: drains the Slack outbox onto the terminal, "creating" channels as Slack would.
import { incidentOfChannelKey } from '../../core/outbox/channel-key.js';
import type { ChatMessage, Outbox } from '../../core/outbox/outbox.js';
import type { IncidentService } from '../../core/incidents/incident-service.js';
import { consoleText } from './console-text.js';

export interface ConsolePost {
  channel: string;
  message: ChatMessage;
}

/** Delivers every due message; returns them in delivery order. */
export async function drainToConsole(
  outbox: Pick<Outbox, 'due' | 'markSent'>,
  incidents: Pick<IncidentService, 'find' | 'attachChannel'>,
  now: () => number,
): Promise<ConsolePost[]> {
  const posts: ConsolePost[] = [];
  for (;;) {
    const due = await outbox.due('slack', Number.MAX_SAFE_INTEGER, 100);
    if (due.length === 0) return posts;
    for (const item of due) {
      const message = item.body as ChatMessage;
      let channel = item.channel;
      const incidentId = incidentOfChannelKey(item.channel);
      if (incidentId !== null) {
        const incident = await incidents.find(incidentId);
        if (incident) {
          // In local mode the channel's ID is its name, made when the first message arrives.
          if (incident.channelId === null) await incidents.attachChannel(incident.id, incident.channelName);
          channel = incident.channelName;
        }
      }
      await outbox.markSent(item.id, now());
      posts.push({ channel, message });
    }
  }
}

export function renderPost(post: ConsolePost): string {
  const pin = post.message.pin ? '📌 ' : '';
  const lines = [`[#${post.channel}] ${pin}${consoleText(post.message.text)}`];
  for (const [k, v] of post.message.fields ?? []) lines.push(`    ${k}: ${consoleText(v)}`);
  const outputUrl = post.message.data?.outputUrl;
  if (typeof outputUrl === 'string') lines.push(`    full output: ${outputUrl}`);
  return lines.join('\n');
}
