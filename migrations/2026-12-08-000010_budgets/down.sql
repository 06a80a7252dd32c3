DROP TABLE alert_outbox;
DROP TABLE alerts;
DROP TABLE webhooks;
DROP TABLE budgets;
