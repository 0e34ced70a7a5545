-- Delivery order and receipts: a priority per message (results before routine notes, durable across
-- restarts), a key naming what a message is about (a run's start), and what the receiver called it
-- once sent (a Slack channel and ts), so a later message can update it in place.

ALTER TABLE outbox ADD COLUMN priority INTEGER NOT NULL DEFAULT 2;
ALTER TABLE outbox ADD COLUMN message_key TEXT;
ALTER TABLE outbox ADD COLUMN receipt TEXT;

-- Messages already waiting get the class they would get today (see src/core/outbox/delivery-order.ts).
UPDATE outbox SET priority = CASE
    WHEN json_extract(body, '$.kind') = 'incident.declared' THEN 0
    WHEN json_extract(body, '$.kind') LIKE 'run.%'
      OR json_extract(body, '$.kind') IN ('incident.updated', 'incident.acknowledged', 'incident.unacknowledged',
        'incident.resolved', 'incident.reopened', 'incident.severity_changed', 'incident.priority_updated') THEN 1
    ELSE 2
  END
WHERE target = 'slack' AND state = 'pending' AND json_valid(body);
UPDATE outbox SET message_key = 'run.started:' || json_extract(body, '$.data.runId')
WHERE target = 'slack' AND json_valid(body) AND json_extract(body, '$.kind') = 'run.started'
  AND json_type(body, '$.data.runId') = 'text';

-- A channel's next message is its most urgent, oldest first: the head is the first row of this index.
DROP INDEX outbox_pending;
CREATE INDEX outbox_pending ON outbox (state, target, channel, priority, id);
CREATE INDEX outbox_by_message_key ON outbox (target, message_key) WHERE message_key IS NOT NULL;
