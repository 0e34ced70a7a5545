// How portal pages write times and people: UTC, to the minute, Slack user IDs as they are.

/** `2026-03-01 14:07 UTC` */
export const shortTime = (ms: number): string => `${new Date(ms).toISOString().slice(0, 16).replace('T', ' ')} UTC`;

/** `2026-03-01 14:07:09` for timeline rows. */
export const longTime = (ms: number): string => new Date(ms).toISOString().slice(0, 19).replace('T', ' ');
