"""Webhook deliveries: where a URL may point (address_policy), the retry schedule, Standard Webhooks signatures, the HTTP
POST to a pinned address, and the deliveries table that the recur-webhooks consumer group fills and the deliverer
(recur.webhook_deliverer) empties."""
