DROP TABLE job_runs;
DROP TABLE webhook_subscriptions;
DROP TABLE outbox;
