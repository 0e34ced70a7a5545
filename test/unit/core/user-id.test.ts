// One Slack user-ID rule: a mention typed in a command, a policy entry and a console `--as` accept the same IDs.
import { describe, expect, it } from 'vitest';
import { parseUserRef } from '../../../src/core/incidents/incident.js';
import { isHuman } from '../../../src/core/incidents/reminders.js';
import { USER_ID } from '../../../src/core/policy/policy-schema.js';
import { isUserId } from '../../../src/core/user-id.js';

const IDS = ['U0DEV0001', 'W0ABC', 'U12', 'U1', 'UA', 'S0SRE', 'u0dev0001', 'pagerduty:checkout', 'U0DEV-01', ''];

const parses = (text: string): boolean => {
  try {
    parseUserRef(text);
    return true;
  } catch {
    return false;
  }
};

describe('the Slack user ID rule', () => {
  it('accepts a mention, a bare ID and an @ID exactly when the policy schema accepts the ID', () => {
    for (const id of IDS) {
      const valid = USER_ID.test(id);
      expect({ id, valid: isUserId(id) }).toEqual({ id, valid });
      expect({ id, mention: parses(`<@${id}>`), labelled: parses(`<@${id}|name>`), bare: parses(id), at: parses(`@${id}`) }).toEqual({
        id,
        mention: valid,
        labelled: valid,
        bare: valid,
        at: valid,
      });
      expect({ id, human: isHuman(id) }).toEqual({ id, human: valid });
    }
  });

  it('refuses a one-character ID such as <@U1> with a message saying what to type', () => {
    expect(() => parseUserRef('<@U1>')).toThrow('"<@U1>" is not a Slack user; mention them as @user (an ID such as U0123ABCD)');
    expect(() => parseUserRef('UA')).toThrow('is not a Slack user');
  });
});
