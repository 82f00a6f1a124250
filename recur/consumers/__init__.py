"""Kafka plumbing: the relay (event store -> Kafka) and the consumer runner (Kafka -> projections)."""
