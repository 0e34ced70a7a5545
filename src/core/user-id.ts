// What a Slack user ID looks like (`U…`, or `W…` on Enterprise Grid): the one pattern every layer checks actors against.

/** The ID itself, unanchored, for patterns that embed it (a `<@U…>` mention). */
export const USER_ID_PATTERN = '[UW][A-Z0-9]{2,}';

/** A whole string that is a Slack user ID. */
export const USER_ID = new RegExp(`^${USER_ID_PATTERN}$`);

/** A Slack user is a person; anything else acting (`pagerduty:…`, `scheduler`, `system`) is not. */
export const isUserId = (id: string | null | undefined): id is string => typeof id === 'string' && USER_ID.test(id);
