-- The report_schedules projection (rm_report_schedules, created by 009) starts where the catalog projection stands
-- on recur.catalog.v1. No ReportSchedule event exists before the code that records them, so nothing earlier is
-- missing from its (empty) table; without these positions a database upgraded with catalog events already
-- consumed would count it as behind, forever, on every partition that sees no new catalog event (readiness stuck,
-- clock advances waiting on it).
INSERT INTO projection_positions (projection, topic, partition, last_notification_id, last_event_at)
SELECT 'report_schedules', topic, partition, last_notification_id, last_event_at
FROM projection_positions WHERE projection = 'catalog'
ON CONFLICT (projection, topic, partition) DO NOTHING;
