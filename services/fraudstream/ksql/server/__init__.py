"""The embedded ksqlDB server: REST service, Kafka runtime, command log."""
